"""One MSRResNet training step in PyTorch on the CPU (forward, L1, backward, Adam), the same
workload as benches/train_step.rs, at PyTorch's faster memory format. Prints JSON with median
seconds per step for each size."""
import json
import sys

import torch
import torch.nn.functional as F

from torch_common import MSRResNet, best_format, median_time, to_format


def step_seconds(nf, nb, channels_last):
    torch.manual_seed(0)
    net, lr, hr = to_format(channels_last, MSRResNet(nf, nb), torch.rand(16, 3, 32, 32), torch.rand(16, 3, 128, 128))
    opt = torch.optim.Adam(net.parameters(), lr=2e-4, betas=(0.9, 0.99))

    def step():
        opt.zero_grad(set_to_none=True)
        F.l1_loss(net(lr), hr).backward()
        opt.step()

    return median_time(step, min_runs=10, min_seconds=0)


def main():
    threads = int(sys.argv[1])
    torch.set_num_threads(threads)
    out = {"torch": torch.__version__, "threads": threads, "workloads": {}}
    for nf, nb in ((64, 16), (32, 8)):
        seconds, fmt = best_format(lambda cl: step_seconds(nf, nb, cl))
        out["workloads"][f"msrresnet_nf{nf}_nb{nb}_x4_b16_lr32"] = {"step": seconds, "format": fmt}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
