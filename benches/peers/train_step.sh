#!/usr/bin/env bash
# One MSRResNet training step (batch 16, LR 32, x4; nf 64/nb 16 and nf 32/nb 8) in ddr-engine
# and in PyTorch, in one go, same threads; writes the "Training step (CPU)" section of
# docs/PERFORMANCE.md.   THREADS=N benches/peers/train_step.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
measure train_step torch_train_step
"$python" - "$threads" "$out/torch_train_step.json" > "$out/train_step.md" <<'PY'
import json, sys, datetime
sys.path.insert(0, "benches/peers"); from peerlib import add_ratio, cpu_name, criterion_seconds
threads, t = int(sys.argv[1]), json.load(open(sys.argv[2]))
def flops(nf, nb):  # forward of MSRResNet x4 at batch 16, LR 32x32; a step is about 3x
    conv = lambda ci, co, hw: 2 * 16 * co * ci * 9 * hw * hw
    f = conv(3, nf, 32) + 2 * nb * conv(nf, nf, 32) + conv(nf, 4 * nf, 32) + conv(nf, 4 * nf, 64)
    return 3 * (f + conv(nf, nf, 128) + conv(nf, 3, 128))
print(f"Measured {datetime.date.today()} on {cpu_name()}, {threads} threads for both; PyTorch {t['torch']} at its faster memory format.\n")
print("Command: `benches/peers/train_step.sh`\n")
print("| network | ddr-engine s/step | GFLOP/s | PyTorch s/step | GFLOP/s | format | ratio ours/PyTorch |")
print("|---|---:|---:|---:|---:|---|---:|")
for (nf, nb) in ((64, 16), (32, 8)):
    name = f"msrresnet_nf{nf}_nb{nb}_x4_b16_lr32"
    o = criterion_seconds("train_step_cpu", name)
    p = t["workloads"][name]["step"]
    f = flops(nf, nb)
    add_ratio(f"training step MSRResNet nf {nf} nb {nb} x4 b16 LR32", o, "PyTorch", p, "benches/peers/train_step.sh", f"PyTorch at {t['workloads'][name]['format']}")
    print(f"| MSRResNet nf {nf} nb {nb} x4, batch 16, LR 32 | {o:.3f} | {f/o/1e9:.0f} | {p:.3f} | {f/p/1e9:.0f} | {t['workloads'][name]['format']} | {o/p:.2f} |")
PY
"$python" benches/peers/report.py train_step "$out/train_step.md"
cat "$out/train_step.md"
