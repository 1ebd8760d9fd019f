"""Inference (eval forward, no gradients) of the paper's MSRResNet (nf 64, nb 16, x4, with the
global residual) on one 128x128 and one 512x512 RGB image in PyTorch on the CPU: the workload of
benches/inference.rs, at PyTorch's faster memory format. Prints JSON of median seconds."""
import json
import sys

import torch

from torch_common import MSRResNet, best_format, median_time, to_format


def forward_seconds(side, channels_last, runs):
    torch.manual_seed(0)
    net, x = to_format(channels_last, MSRResNet(64, 16).eval(), torch.rand(1, 3, side, side))
    with torch.inference_mode():
        return median_time(lambda: net(x), min_runs=runs, min_seconds=0, warmup=1)


def main():
    threads = int(sys.argv[1])
    torch.set_num_threads(threads)
    out = {"torch": torch.__version__, "threads": threads, "workloads": {}}
    for side, runs in ((128, 10), (512, 5)):
        seconds, fmt = best_format(lambda cl: forward_seconds(side, cl, runs))
        out["workloads"][f"{side}x{side}"] = {"seconds": seconds, "format": fmt}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
