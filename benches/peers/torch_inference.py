"""Inference (eval forward, no gradients) of the paper's MSRResNet (nf 64, nb 16, x4, with the
global residual) on one 128x128 and one 512x512 RGB image in PyTorch on the CPU: the workload of
benches/inference.rs, at PyTorch's faster memory format. Prints JSON of median seconds."""
import json
import statistics
import sys
import time

import torch

from torch_train_step import MSRResNet


def median_forward(side, channels_last, runs):
    torch.manual_seed(0)
    net = MSRResNet(64, 16).eval()
    x = torch.rand(1, 3, side, side)
    if channels_last:
        net, x = net.to(memory_format=torch.channels_last), x.to(memory_format=torch.channels_last)
    times = []
    with torch.inference_mode():
        net(x)
        for _ in range(runs):
            t = time.perf_counter()
            net(x)
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    threads = int(sys.argv[1])
    torch.set_num_threads(threads)
    out = {"torch": torch.__version__, "threads": threads, "workloads": {}}
    for side, runs in ((128, 10), (512, 5)):
        best = min((median_forward(side, cl, runs), "channels_last" if cl else "NCHW") for cl in (False, True))
        out["workloads"][f"{side}x{side}"] = {"seconds": best[0], "format": best[1]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
