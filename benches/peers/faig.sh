#!/usr/bin/env bash
# FAIG's cost on one image (64x64 LR, MSRResNet nf 32 nb 8 x2, 10 steps x 2 degradations):
# ddr-engine's FAIG, the same number of plain forward+backward passes, and the reference
# procedure in PyTorch, in one go; writes the "FAIG (CPU)" section of docs/PERFORMANCE.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
measure faig torch_faig
"$python" - "$threads" "$out/torch_faig.json" > "$out/faig.md" <<'PY'
import json, sys, datetime
sys.path.insert(0, "benches/peers"); from peerlib import add_ratio, cpu_name, criterion_seconds
threads, t = int(sys.argv[1]), json.load(open(sys.argv[2]))
med = lambda name: criterion_seconds("faig_cpu", f"msrresnet_nf32_nb8_x2_lr64/{name}")
ours, plain = med("faig_10steps_x2deg"), med("plain_20_fwd_bwd")
add_ratio("FAIG per image (10 steps x 2 degradations, nf 32 nb 8 x2, 64x64)", ours, "PyTorch (reference procedure)", t["seconds"], "benches/peers/faig.sh", f"PyTorch at {t['format']}")
print(f"Measured {datetime.date.today()} on {cpu_name()}, {threads} threads; PyTorch {t['torch']} at its faster memory format ({t['format']}). One image, 64x64 LR, MSRResNet nf 32 nb 8 x2, 10 path steps x 2 degradations.\n")
print("Command: `benches/peers/faig.sh`\n")
print("| what | seconds per image | ratio |")
print("|---|---:|---:|")
print(f"| ddr-engine FAIG | {ours:.3f} | {ours/plain:.3f} x its 20 plain forward+backward passes |")
print(f"| ddr-engine, 20 plain forward+backward passes | {plain:.3f} | 1 |")
print(f"| PyTorch, reference procedure (state dict per step) | {t['seconds']:.3f} | ours/PyTorch = {ours/t['seconds']:.2f} |")
PY
"$python" benches/peers/report.py faig "$out/faig.md"
cat "$out/faig.md"
