#!/usr/bin/env bash
# Inference of the paper's MSRResNet (nf 64, nb 16, x4, wGR) on one 128x128 and one 512x512 image,
# in ddr-engine (benches/inference.rs) and in PyTorch, in one go, same threads; writes the
# "Inference (CPU)" section of docs/PERFORMANCE.md.   THREADS=N benches/peers/inference.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
measure inference torch_inference
"$python" - "$threads" "$out/torch_inference.json" > "$out/inference.md" <<'PY'
import json, sys, datetime
sys.path.insert(0, "benches/peers"); from peerlib import add_ratio, cpu_name, criterion_seconds
threads, t = int(sys.argv[1]), json.load(open(sys.argv[2]))
def flops(side, nf=64, nb=16):  # forward of MSRResNet x4 on one side x side image
    conv = lambda ci, co, hw: 2 * co * ci * 9 * hw * hw
    return (conv(3, nf, side) + 2 * nb * conv(nf, nf, side) + conv(nf, 4 * nf, side)
            + conv(nf, 4 * nf, 2 * side) + conv(nf, nf, 4 * side) + conv(nf, 3, 4 * side))
print(f"Measured {datetime.date.today()} on {cpu_name()}, {threads} threads for both; PyTorch {t['torch']} "
      "(inference_mode) at its faster memory format. MSRResNet nf 64 nb 16 x4 with the global residual, one RGB image.\n")
print("Command: `benches/peers/inference.sh`\n")
print("| LR input | ddr-engine s | GFLOP/s | PyTorch s | GFLOP/s | format | ratio ours/PyTorch |")
print("|---|---:|---:|---:|---:|---|---:|")
for side in (128, 512):
    o = criterion_seconds("inference_cpu", f"msrresnet_nf64_nb16_x4/{side}x{side}")
    w = t["workloads"][f"{side}x{side}"]
    f = flops(side)
    add_ratio(f"inference MSRResNet nf 64 nb 16 x4, {side}x{side}", o, "PyTorch", w["seconds"], "benches/peers/inference.sh", f"PyTorch at {w['format']}")
    print(f"| {side}x{side} | {o:.3f} | {f/o/1e9:.0f} | {w['seconds']:.3f} | {f/w['seconds']/1e9:.0f} | {w['format']} | {o/w['seconds']:.2f} |")
PY
"$python" benches/peers/report.py inference "$out/inference.md"
cat "$out/inference.md"
