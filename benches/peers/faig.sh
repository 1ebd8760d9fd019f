#!/usr/bin/env bash
# FAIG's cost on one image (64x64 LR, MSRResNet nf 32 nb 8 x2, 10 steps x 2 degradations):
# ddr-engine's FAIG, the same number of plain forward+backward passes, and the reference
# procedure in PyTorch, in one go; writes the "FAIG (CPU)" section of docs/PERFORMANCE.md.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
threads=${THREADS:-$(nproc)}
python=$(benches/peers/venv.sh)
out=target/peers
mkdir -p "$out"
RAYON_NUM_THREADS=$threads cargo bench --bench faig -- --noplot >&2
"$python" benches/peers/torch_faig.py "$threads" > "$out/torch_faig.json"
"$python" - "$threads" "$out/torch_faig.json" > "$out/faig.md" <<'PY'
import json, pathlib, sys, datetime, subprocess
sys.path.insert(0, "benches/peers"); import ratios
threads, t = int(sys.argv[1]), json.load(open(sys.argv[2]))
base = "target/criterion/faig_cpu/msrresnet_nf32_nb8_x2_lr64"
med = lambda name: json.loads(pathlib.Path(f"{base}/{name}/new/estimates.json").read_text())["median"]["point_estimate"] / 1e9
ours, plain = med("faig_10steps_x2deg"), med("plain_20_fwd_bwd")
ratios.add("FAIG per image (10 steps x 2 degradations, nf 32 nb 8 x2, 64x64)", ours, "PyTorch reference procedure", t["seconds"], "benches/peers/faig.sh")
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
print(f"Measured {datetime.date.today()} on {cpu}, {threads} threads; PyTorch {t['torch']}. One image, 64x64 LR, MSRResNet nf 32 nb 8 x2, 10 path steps x 2 degradations.\n")
print("Command: `benches/peers/faig.sh`\n")
print("| what | seconds per image | ratio |")
print("|---|---:|---:|")
print(f"| ddr-engine FAIG | {ours:.3f} | {ours/plain:.3f} x its 20 plain forward+backward passes |")
print(f"| ddr-engine, 20 plain forward+backward passes | {plain:.3f} | 1 |")
print(f"| PyTorch, reference procedure (state dict per step) | {t['seconds']:.3f} | ours/PyTorch = {ours/t['seconds']:.2f} |")
PY
"$python" benches/peers/report.py faig "$out/faig.md"
cat "$out/faig.md"
