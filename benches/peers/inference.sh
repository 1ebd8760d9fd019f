#!/usr/bin/env bash
# Inference of the paper's MSRResNet (nf 64, nb 16, x4, wGR) on one 128x128 and one 512x512 image,
# in ddr-engine (benches/inference.rs) and in PyTorch, in one go, same threads; writes the
# "Inference (CPU)" section of docs/PERFORMANCE.md.   THREADS=N benches/peers/inference.sh
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
threads=${THREADS:-$(nproc)}
python=$(benches/peers/venv.sh)
out=target/peers
mkdir -p "$out"
echo "== ddr-engine (criterion, $threads threads)" >&2
RAYON_NUM_THREADS=$threads cargo bench --bench inference -- --noplot >&2
echo "== PyTorch ($threads threads)" >&2
"$python" benches/peers/torch_inference.py "$threads" > "$out/torch_inference.json"
"$python" - "$threads" "$out/torch_inference.json" > "$out/inference.md" <<'PY'
import json, pathlib, subprocess, sys, datetime
sys.path.insert(0, "benches/peers"); import ratios
threads, t = int(sys.argv[1]), json.load(open(sys.argv[2]))
def flops(side, nf=64, nb=16):  # forward of MSRResNet x4 on one side x side image
    conv = lambda ci, co, hw: 2 * co * ci * 9 * hw * hw
    return (conv(3, nf, side) + 2 * nb * conv(nf, nf, side) + conv(nf, 4 * nf, side)
            + conv(nf, 4 * nf, 2 * side) + conv(nf, nf, 4 * side) + conv(nf, 3, 4 * side))
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
print(f"Measured {datetime.date.today()} on {cpu}, {threads} threads for both; PyTorch {t['torch']} "
      "(inference_mode) at its faster memory format. MSRResNet nf 64 nb 16 x4 with the global residual, one RGB image.\n")
print("Command: `benches/peers/inference.sh`\n")
print("| LR input | ddr-engine s | GFLOP/s | PyTorch s | GFLOP/s | format | ratio ours/PyTorch |")
print("|---|---:|---:|---:|---:|---|---:|")
for side in (128, 512):
    est = pathlib.Path(f"target/criterion/inference_cpu/msrresnet_nf64_nb16_x4/{side}x{side}/new/estimates.json")
    o = json.loads(est.read_text())["median"]["point_estimate"] / 1e9
    w = t["workloads"][f"{side}x{side}"]
    f = flops(side)
    ratios.add(f"inference MSRResNet nf 64 nb 16 x4, {side}x{side}", o, f"PyTorch {w['format']}", w["seconds"], "benches/peers/inference.sh")
    print(f"| {side}x{side} | {o:.3f} | {f/o/1e9:.0f} | {w['seconds']:.3f} | {f/w['seconds']/1e9:.0f} | {w['format']} | {o/w['seconds']:.2f} |")
PY
"$python" benches/peers/report.py inference "$out/inference.md"
cat "$out/inference.md"
