"""One full SRGAN training step in PyTorch on the CPU, the workload of benches/gan_step.rs:
G forward, L1 (1e-2) + VGG19 conv5_4 perceptual (1.0, random weights at torchvision's widths) +
BCE GAN term (5e-3) through D, G backward and Adam; then D (BasicSR's VGGStyleDiscriminator,
nf 64, BatchNorm in train mode) on real and detached fake, D's Adam. At PyTorch's faster memory
format. Prints JSON with the median seconds per step for each size.

    torch_gan_step.py THREADS [RUNS]      (RUNS 1 with one warm-up step: a quick check)
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_common import MSRResNet, best_format, median_time, to_format

SIZES = ((64, 16, 16), (32, 8, 4))  # generator nf, nb, batch; must match benches/gan_step.rs


class VGGStyleDiscriminator(nn.Module):
    """BasicSR's VGGStyleDiscriminator for 128x128 inputs."""

    def __init__(self, nf=64):
        super().__init__()
        w = [nf, 2 * nf, 4 * nf, 8 * nf, 8 * nf]
        layers = [nn.Conv2d(3, nf, 3, 1, 1), nn.LeakyReLU(0.2)]
        for i, c in enumerate(w):
            if i > 0:
                layers += [nn.Conv2d(w[i - 1], c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.LeakyReLU(0.2)]
            layers += [nn.Conv2d(c, c, 4, 2, 1, bias=False), nn.BatchNorm2d(c), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Linear(8 * nf * 16, 100), nn.LeakyReLU(0.2), nn.Linear(100, 1))

    def forward(self, x):
        return self.head(self.body(x).flatten(1))


class VGG19Conv54(nn.Module):
    """torchvision's vgg19().features[:35] with ImageNet normalisation, frozen."""

    def __init__(self):
        super().__init__()
        layers, c_in = [], 3
        for b, (n, c) in enumerate(zip([2, 2, 4, 4, 4], [64, 128, 256, 512, 512])):
            if b > 0:
                layers.append(nn.MaxPool2d(2, 2))
            for _ in range(n):
                layers += [nn.Conv2d(c_in, c, 3, 1, 1), nn.ReLU()]
                c_in = c
        self.features = nn.Sequential(*layers[:35])
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, x):
        return self.features((x - self.mean) / self.std)


def step_seconds(nf, nb, batch, channels_last, runs):
    torch.manual_seed(0)
    g, d, vgg, lr, hr = to_format(
        channels_last,
        MSRResNet(nf, nb),
        VGGStyleDiscriminator(),
        VGG19Conv54(),
        torch.rand(batch, 3, 32, 32),
        torch.rand(batch, 3, 128, 128),
    )
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-4, betas=(0.9, 0.99))
    opt_d = torch.optim.Adam(d.parameters(), lr=1e-4, betas=(0.9, 0.99))
    bce = F.binary_cross_entropy_with_logits

    def step():
        for p in d.parameters():
            p.requires_grad_(False)
        opt_g.zero_grad(set_to_none=True)
        sr = g(lr)
        fake = d(sr)
        loss = 1e-2 * F.l1_loss(sr, hr) + F.l1_loss(vgg(sr), vgg(hr)) + 5e-3 * bce(fake, torch.ones_like(fake))
        loss.backward()
        opt_g.step()
        for p in d.parameters():
            p.requires_grad_(True)
        opt_d.zero_grad(set_to_none=True)
        real = d(hr)
        bce(real, torch.ones_like(real)).backward()
        fake = d(sr.detach())
        bce(fake, torch.zeros_like(fake)).backward()
        opt_d.step()

    return median_time(step, min_runs=runs, min_seconds=0, warmup=1 if runs == 1 else 3)


def main():
    threads = int(sys.argv[1])
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    torch.set_num_threads(threads)
    out = {"torch": torch.__version__, "threads": threads, "runs": runs, "workloads": {}}
    only = os.environ.get("GAN_STEP_ONLY", "")  # e.g. nf32_nb8: one workload, as the bench filter
    for nf, nb, batch in SIZES:
        if only and f"nf{nf}_nb{nb}_" not in only + "_":
            continue
        seconds, fmt = best_format(lambda cl: step_seconds(nf, nb, batch, cl, runs))
        out["workloads"][f"srgan_nf{nf}_nb{nb}_x4_b{batch}_lr32"] = {"step": seconds, "format": fmt}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
