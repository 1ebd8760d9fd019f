"""The conv shapes of benches/gpu.rs in PyTorch on the GPU (cuDNN), the peer of our CUDA kernels.

Run by scripts/gpu-check.sh right after `gpu-bench`, on the same GPU. For each shape and pass
(forward, input gradient, weight + bias gradient) it times cuDNN at its best settings: autotuned
algorithms (cudnn.benchmark), NCHW or channels_last, whichever is faster; f32 with TF32 off (our
f32 mode), TF32 on (our tf32 mode) and bf16 autocast (our bf16 mode). Prints one JSON object:
{"torch": version, "gpu": name, "rows": [{"shape", "pass", "math", "ms", "format"}]}, times as
the median of CUDA-event timings after warm-up.

Usage: python3 torch_gpu_conv.py [--quick]   (--quick: 3 runs per case, to check the script)
"""
import json
import sys

import torch

# (name in benches/gpu.rs, n, c_in, size, c_out, k, stride, pad)
SHAPES = [
    ("conv 3->64 3x3 [16,3,32,32]", 16, 3, 32, 64, 3, 1, 1),
    ("conv 64->64 3x3 [16,64,32,32]", 16, 64, 32, 64, 3, 1, 1),
    ("conv 64->256 3x3 [16,64,32,32]", 16, 64, 32, 256, 3, 1, 1),
    ("conv 64->256 3x3 [16,64,64,64]", 16, 64, 64, 256, 3, 1, 1),
    ("conv 64->64 3x3 [16,64,128,128]", 16, 64, 128, 64, 3, 1, 1),
    ("conv 64->3 3x3 [16,64,128,128]", 16, 64, 128, 3, 3, 1, 1),
    ("disc conv 64->64 4x4 s2 [16,64,128,128]", 16, 64, 128, 64, 4, 2, 1),
]


def median_ms(f, reps):
    for _ in range(3):
        f()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        f()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return times[len(times) // 2]


def passes(shape, math, channels_last, reps):
    _, n, c_in, size, c_out, k, stride, pad = shape
    dev = torch.device("cuda")
    conv = torch.nn.Conv2d(c_in, c_out, k, stride, pad).to(dev)
    x = torch.rand(n, c_in, size, size, device=dev) - 0.5
    if channels_last:
        conv = conv.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    torch.backends.cuda.matmul.allow_tf32 = math == "tf32"
    torch.backends.cudnn.allow_tf32 = math == "tf32"
    ctx = torch.autocast("cuda", dtype=torch.bfloat16) if math == "bf16" else torch.autocast("cuda", enabled=False)
    with ctx:
        y = conv(x)
    dy = torch.rand_like(y) - 0.5
    out = {}

    def fwd():
        with torch.no_grad(), ctx:
            conv(x)

    out["fwd"] = median_ms(fwd, reps)
    xi = x.detach().requires_grad_(True)

    def bwd_input():
        with ctx:
            yy = conv(xi)
        (gx,) = torch.autograd.grad(yy, xi, dy, retain_graph=False)

    def bwd_weight():
        with ctx:
            yy = conv(x)
        torch.autograd.grad(yy, [conv.weight, conv.bias], dy)

    # The backward passes are timed with their forward (autograd needs it); the forward's time is
    # subtracted so that each row is the pass alone, like our kernels.
    out["bwd input"] = max(median_ms(bwd_input, reps) - out["fwd"], 0.0)
    out["bwd weight+bias"] = max(median_ms(bwd_weight, reps) - out["fwd"], 0.0)
    return out


def main():
    reps = 3 if "--quick" in sys.argv else 20
    if not torch.cuda.is_available():
        print(json.dumps({"error": "no CUDA GPU visible to PyTorch"}))
        sys.exit(1)
    torch.backends.cudnn.benchmark = True
    rows = []
    for shape in SHAPES:
        for math in ("f32", "tf32", "bf16"):
            best = {}
            for cl in (False, True):
                for p, ms in passes(shape, math, cl, reps).items():
                    if p not in best or ms < best[p][0]:
                        best[p] = (ms, "channels_last" if cl else "NCHW")
            for p, (ms, fmt) in best.items():
                rows.append({"shape": shape[0], "pass": p, "math": math, "ms": ms, "format": fmt})
    print(json.dumps({"torch": torch.__version__, "gpu": torch.cuda.get_device_name(0), "rows": rows}))


if __name__ == "__main__":
    main()
