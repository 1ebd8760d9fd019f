#!/usr/bin/env bash
# One full SRGAN training step (G MSRResNet x4 nf 64/nb 16 at batch 16 and nf 32/nb 8 at batch 4,
# LR 32 -> HR 128; VGG19 conv5_4 perceptual loss; BasicSR's VGG-style D, nf 64) in ddr-engine and
# in PyTorch, in one go, same threads; writes the "SRGAN training step (CPU)" section of
# docs/PERFORMANCE.md.   THREADS=N benches/peers/gan_step.sh
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
threads=${THREADS:-$(nproc)}
python=$(benches/peers/venv.sh)
out=target/peers
mkdir -p "$out"
echo "== ddr-engine (criterion, $threads threads)" >&2
RAYON_NUM_THREADS=$threads cargo bench --bench gan_step -- --noplot >&2
echo "== PyTorch ($threads threads)" >&2
"$python" benches/peers/torch_gan_step.py "$threads" > "$out/torch_gan_step.json"
"$python" - "$threads" "$out/torch_gan_step.json" > "$out/gan_step.md" <<'PY'
import json, pathlib, subprocess, sys, datetime
threads, t = int(sys.argv[1]), json.load(open(sys.argv[2]))
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
print(f"Measured {datetime.date.today()} on {cpu}, {threads} threads for both; PyTorch {t['torch']} at its faster memory format.")
print("One step = G forward, L1 + VGG19 conv5_4 perceptual + GAN loss, G backward + Adam, D on real and fake + Adam.\n")
print("Command: `benches/peers/gan_step.sh`\n")
print("| generator, batch (LR 32 -> HR 128) | ddr-engine s/step | PyTorch s/step | format | ratio ours/PyTorch |")
print("|---|---:|---:|---|---:|")
for nf, nb, batch in ((64, 16, 16), (32, 8, 4)):
    name = f"srgan_nf{nf}_nb{nb}_x4_b{batch}_lr32"
    est = pathlib.Path(f"target/criterion/gan_step_cpu/{name}/new/estimates.json")
    o = json.loads(est.read_text())["median"]["point_estimate"] / 1e9
    p = t["workloads"][name]["step"]
    print(f"| MSRResNet nf {nf} nb {nb} x4, batch {batch} | {o:.3f} | {p:.3f} | {t['workloads'][name]['format']} | {o/p:.2f} |")
PY
"$python" benches/peers/report.py gan_step "$out/gan_step.md"
cat "$out/gan_step.md"
