"""The conv workloads of benches/conv.rs in PyTorch on the CPU, at its best settings.

For each workload both memory formats are timed (NCHW and channels_last); the faster one is the
peer's figure. Prints one JSON object: {workload: {"fwd": s, "fwd_bwd": s, "format": ...}}, times
as medians over repeated runs after a warm-up, like criterion's median.
"""
import json
import sys

import torch

from torch_common import median_time

WORKLOADS = {
    "conv3x3_64to64_b16_32x32": dict(batch=16, size=32, c_in=64, c_out=64, shuffle=False),
    "conv3x3_64to256_ps_b16_64x64": dict(batch=16, size=64, c_in=64, c_out=256, shuffle=True),
}


def bench(w, channels_last):
    conv = torch.nn.Conv2d(w["c_in"], w["c_out"], 3, 1, 1)
    shuffle = torch.nn.PixelShuffle(2)
    x = torch.rand(w["batch"], w["c_in"], w["size"], w["size"]) - 0.5
    if channels_last:
        conv = conv.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    x.requires_grad_(True)

    def fwd():
        with torch.no_grad():
            y = conv(x)
            if w["shuffle"]:
                shuffle(y)

    def fwd_bwd():
        conv.zero_grad(set_to_none=True)
        x.grad = None
        y = conv(x)
        if w["shuffle"]:
            y = shuffle(y)
        y.backward(y.detach())

    return median_time(fwd), median_time(fwd_bwd)


def main():
    threads = int(sys.argv[1])
    torch.set_num_threads(threads)
    out = {"torch": torch.__version__, "threads": threads, "workloads": {}}
    for name, w in WORKLOADS.items():
        best = None
        for cl in (False, True):
            f, fb = bench(w, cl)
            row = {"fwd": f, "fwd_bwd": fb, "format": "channels_last" if cl else "NCHW"}
            if best is None or fb < best["fwd_bwd"]:
                best = row
        out["workloads"][name] = best
    print(json.dumps(out))


if __name__ == "__main__":
    main()
