"""FAIG's reference procedure in PyTorch on the CPU, on the workload of benches/faig.rs: for one
image and two degradations, STEPS points on the path from the target towards the baseline; at
each, the interpolated state dict is loaded into the network, the sum-of-squared-errors loss is
back-propagated and the parameter gradients are accumulated. (The reference also rebuilds the
network and reloads both checkpoints from disk at every call; that cost is left out here, which
favours the peer.) Prints the median seconds of one image as JSON."""
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

STEPS = 10


class Block(nn.Module):
    def __init__(self, nf):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(nf, nf, 3, 1, 1), nn.Conv2d(nf, nf, 3, 1, 1)

    def forward(self, x):
        return x + self.conv2(F.relu(self.conv1(x)))


class MSRResNetX2(nn.Module):
    def __init__(self, nf=32, nb=8):
        super().__init__()
        self.conv_first = nn.Conv2d(3, nf, 3, 1, 1)
        self.body = nn.Sequential(*[Block(nf) for _ in range(nb)])
        self.upconv1 = nn.Conv2d(nf, nf * 4, 3, 1, 1)
        self.shuffle = nn.PixelShuffle(2)
        self.conv_hr, self.conv_last = nn.Conv2d(nf, nf, 3, 1, 1), nn.Conv2d(nf, 3, 3, 1, 1)

    def forward(self, x):
        act = lambda t: F.leaky_relu(t, 0.1)
        out = self.body(act(self.conv_first(x)))
        out = act(self.shuffle(self.upconv1(out)))
        out = self.conv_last(act(self.conv_hr(out)))
        return out + F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def main():
    threads = int(sys.argv[1])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = MSRResNetX2()
    baseline = {k: v.clone() for k, v in net.state_dict().items()}
    target = {k: v + 0.01 * torch.randn_like(v) for k, v in baseline.items()}
    x, y = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 128, 128)

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

    one_image()
    times = []
    for _ in range(7):
        t = time.perf_counter()
        one_image()
        times.append(time.perf_counter() - t)
    print(json.dumps({"torch": torch.__version__, "threads": threads, "seconds": statistics.median(times)}))


if __name__ == "__main__":
    main()
