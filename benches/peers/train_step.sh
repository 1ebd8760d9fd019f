#!/usr/bin/env bash
# One MSRResNet training step (batch 16, LR 32, x4; nf 64/nb 16 and nf 32/nb 8) in ddr-engine
# and in PyTorch, in one go, same threads; writes the "Training step (CPU)" section of
# docs/PERFORMANCE.md.   THREADS=N benches/peers/train_step.sh
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
threads=${THREADS:-$(nproc)}
python=$(benches/peers/venv.sh)
out=target/peers
mkdir -p "$out"
echo "== ddr-engine (criterion, $threads threads)" >&2
RAYON_NUM_THREADS=$threads cargo bench --bench train_step -- --noplot >&2
echo "== PyTorch ($threads threads)" >&2
"$python" benches/peers/torch_train_step.py "$threads" > "$out/torch_train_step.json"
"$python" - "$threads" "$out/torch_train_step.json" > "$out/train_step.md" <<'PY'
import json, pathlib, subprocess, sys, datetime
sys.path.insert(0, "benches/peers"); import ratios
threads, t = int(sys.argv[1]), json.load(open(sys.argv[2]))
def flops(nf, nb):  # forward of MSRResNet x4 at batch 16, LR 32x32; a step is about 3x
    conv = lambda ci, co, hw: 2 * 16 * co * ci * 9 * hw * hw
    f = conv(3, nf, 32) + 2 * nb * conv(nf, nf, 32) + conv(nf, 4 * nf, 32) + conv(nf, 4 * nf, 64)
    return 3 * (f + conv(nf, nf, 128) + conv(nf, 3, 128))
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
print(f"Measured {datetime.date.today()} on {cpu}, {threads} threads for both; PyTorch {t['torch']} at its faster memory format.\n")
print("Command: `benches/peers/train_step.sh`\n")
print("| network | ddr-engine s/step | GFLOP/s | PyTorch s/step | GFLOP/s | format | ratio ours/PyTorch |")
print("|---|---:|---:|---:|---:|---|---:|")
for (nf, nb) in ((64, 16), (32, 8)):
    name = f"msrresnet_nf{nf}_nb{nb}_x4_b16_lr32"
    est = pathlib.Path(f"target/criterion/train_step_cpu/{name}/new/estimates.json")
    o = json.loads(est.read_text())["median"]["point_estimate"] / 1e9
    p = t["workloads"][name]["step"]
    f = flops(nf, nb)
    ratios.add(f"training step MSRResNet nf {nf} nb {nb} x4 b16 LR32", o, f"PyTorch {t['workloads'][name]['format']}", p, "benches/peers/train_step.sh")
    print(f"| MSRResNet nf {nf} nb {nb} x4, batch 16, LR 32 | {o:.3f} | {f/o/1e9:.0f} | {p:.3f} | {f/p/1e9:.0f} | {t['workloads'][name]['format']} | {o/p:.2f} |")
PY
"$python" benches/peers/report.py train_step "$out/train_step.md"
cat "$out/train_step.md"
