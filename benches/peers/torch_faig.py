"""FAIG's reference procedure in PyTorch on the CPU, on the workload of benches/faig.rs: for one
image and two degradations, STEPS points on the path from the target towards the baseline; at
each, the interpolated state dict is loaded into the network, the sum-of-squared-errors loss is
back-propagated and the parameter gradients are accumulated. (The reference also rebuilds the
network and reloads both checkpoints from disk at every call; that cost is left out here, which
favours the peer.) Prints the median seconds of one image as JSON."""
import json
import sys

import torch

from torch_common import MSRResNet, best_format, median_time, to_format

STEPS = 10


def image_seconds(channels_last):
    torch.manual_seed(0)
    net, x, y = to_format(channels_last, MSRResNet(32, 8, scale=2), torch.rand(1, 3, 64, 64), torch.rand(1, 3, 128, 128))
    baseline = {k: v.clone() for k, v in net.state_dict().items()}
    target = {k: v + 0.01 * torch.randn_like(v) for k, v in baseline.items()}

    def one_image():
        for _ in range(2):  # blurry and noisy input
            total = {k: torch.zeros_like(v) for k, v in baseline.items()}
            for i in range(STEPS):
                alpha = 1.0 - i / STEPS
                net.load_state_dict({k: baseline[k] + alpha * (target[k] - baseline[k]) for k in baseline})
                net.zero_grad()
                ((net(x) - y) ** 2).sum().backward()
                for k, p in net.named_parameters():
                    total[k] += p.grad
            _ = {k: (target[k] - baseline[k]) * total[k] / STEPS for k in total}

    return median_time(one_image, min_runs=7, min_seconds=0, warmup=1)


def main():
    threads = int(sys.argv[1])
    torch.set_num_threads(threads)
    seconds, fmt = best_format(image_seconds)
    print(json.dumps({"torch": torch.__version__, "threads": threads, "seconds": seconds, "format": fmt}))


if __name__ == "__main__":
    main()
