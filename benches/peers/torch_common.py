"""What the PyTorch peers share: BasicSR's MSRResNet, and timing at PyTorch's best settings
(the median of repeated runs after a warm-up, at the faster of NCHW and channels_last)."""
import statistics
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
    """BasicSR's MSRResNet (x2: one upconv, x4: two) with the bilinear global residual."""

    def __init__(self, nf, nb, scale=4):
        super().__init__()
        self.scale = scale
        self.conv_first = nn.Conv2d(3, nf, 3, 1, 1)
        self.body = nn.Sequential(*[Block(nf) for _ in range(nb)])
        self.upconv1 = nn.Conv2d(nf, nf * 4, 3, 1, 1)
        self.upconv2 = nn.Conv2d(nf, nf * 4, 3, 1, 1) if scale == 4 else None
        self.shuffle = nn.PixelShuffle(2)
        self.conv_hr, self.conv_last = nn.Conv2d(nf, nf, 3, 1, 1), nn.Conv2d(nf, 3, 3, 1, 1)

    def forward(self, x):
        act = lambda t: F.leaky_relu(t, 0.1)
        out = self.body(act(self.conv_first(x)))
        out = act(self.shuffle(self.upconv1(out)))
        if self.upconv2 is not None:
            out = act(self.shuffle(self.upconv2(out)))
        out = self.conv_last(act(self.conv_hr(out)))
        return out + F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)


def median_time(fn, min_runs=10, min_seconds=3.0, warmup=3):
    """Median seconds of fn() over at least min_runs runs and min_seconds, after warm-up runs."""
    for _ in range(warmup):
        fn()
    times, start = [], time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < min_seconds:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def best_format(measure):
    """Runs measure(channels_last) for both memory formats: (faster seconds, its format name)."""
    return min((measure(cl), "channels_last" if cl else "NCHW") for cl in (False, True))


def to_format(channels_last, *modules_or_tensors):
    """The arguments converted to channels_last when asked, unchanged otherwise."""
    if not channels_last:
        return modules_or_tensors
    return tuple(m.to(memory_format=torch.channels_last) for m in modules_or_tensors)
