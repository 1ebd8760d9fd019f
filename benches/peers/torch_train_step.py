"""One MSRResNet training step in PyTorch on the CPU (forward, L1, backward, Adam), the same
workload as benches/train_step.rs, at PyTorch's faster memory format. Prints JSON with median
seconds per step for each size."""
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, nf):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(nf, nf, 3, 1, 1), nn.Conv2d(nf, nf, 3, 1, 1)

    def forward(self, x):
        return x + self.conv2(F.relu(self.conv1(x)))


class MSRResNet(nn.Module):
    """BasicSR's MSRResNet at x4 with the global residual."""

    def __init__(self, nf, nb):
        super().__init__()
        self.conv_first = nn.Conv2d(3, nf, 3, 1, 1)
        self.body = nn.Sequential(*[Block(nf) for _ in range(nb)])
        self.upconv1, self.upconv2 = nn.Conv2d(nf, nf * 4, 3, 1, 1), nn.Conv2d(nf, nf * 4, 3, 1, 1)
        self.shuffle = nn.PixelShuffle(2)
        self.conv_hr, self.conv_last = nn.Conv2d(nf, nf, 3, 1, 1), nn.Conv2d(nf, 3, 3, 1, 1)

    def forward(self, x):
        act = lambda t: F.leaky_relu(t, 0.1)
        out = self.body(act(self.conv_first(x)))
        out = act(self.shuffle(self.upconv1(out)))
        out = act(self.shuffle(self.upconv2(out)))
        out = self.conv_last(act(self.conv_hr(out)))
        return out + F.interpolate(x, scale_factor=4, mode="bilinear", align_corners=False)


def median_step(nf, nb, channels_last, runs=10):
    torch.manual_seed(0)
    net = MSRResNet(nf, nb)
    lr, hr = torch.rand(16, 3, 32, 32), torch.rand(16, 3, 128, 128)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
        lr, hr = lr.to(memory_format=torch.channels_last), hr.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), lr=2e-4, betas=(0.9, 0.99))

    def step():
        opt.zero_grad(set_to_none=True)
        F.l1_loss(net(lr), hr).backward()
        opt.step()

    for _ in range(3):
        step()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    threads = int(sys.argv[1])
    torch.set_num_threads(threads)
    out = {"torch": torch.__version__, "threads": threads, "workloads": {}}
    for nf, nb in ((64, 16), (32, 8)):
        best = min((median_step(nf, nb, cl), "channels_last" if cl else "NCHW") for cl in (False, True))
        out["workloads"][f"msrresnet_nf{nf}_nb{nb}_x4_b16_lr32"] = {"step": best[0], "format": best[1]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
