#!/usr/bin/env bash
# One full SRGAN training step (G MSRResNet x4 nf 64/nb 16 at batch 16 and nf 32/nb 8 at batch 4,
# LR 32 -> HR 128; VGG19 conv5_4 perceptual loss; BasicSR's VGG-style D, nf 64) in ddr-engine and
# in PyTorch, in one go, same threads; writes the "SRGAN training step (CPU)" section of
# docs/PERFORMANCE.md. Not part of run.sh: on 2 cores it takes about half an hour by itself.
#   THREADS=N benches/peers/gan_step.sh
#   GAN_STEP_ONLY=nf32_nb8 benches/peers/gan_step.sh     (the small workload alone, ~8 minutes)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
export GAN_STEP_ONLY=${GAN_STEP_ONLY:-}
BENCH_FILTER=$GAN_STEP_ONLY measure gan_step torch_gan_step
"$python" - "$threads" "$out/torch_gan_step.json" > "$out/gan_step.md" <<'PY'
import json, sys, datetime
sys.path.insert(0, "benches/peers"); from peerlib import add_ratio, cpu_name, criterion_seconds
threads, t = int(sys.argv[1]), json.load(open(sys.argv[2]))
print(f"Measured {datetime.date.today()} on {cpu_name()}, {threads} threads for both; PyTorch {t['torch']} at its faster memory format.")
print("One step = G forward, L1 + VGG19 conv5_4 perceptual + GAN loss, G backward + Adam, D on real and fake + Adam.\n")
print("Command: `benches/peers/gan_step.sh`\n")
print("| generator, batch (LR 32 -> HR 128) | ddr-engine s/step | PyTorch s/step | format | ratio ours/PyTorch |")
print("|---|---:|---:|---|---:|")
for nf, nb, batch in ((64, 16, 16), (32, 8, 4)):
    name = f"srgan_nf{nf}_nb{nb}_x4_b{batch}_lr32"
    if name not in t["workloads"]:
        continue
    o = criterion_seconds("gan_step_cpu", name)
    p = t["workloads"][name]["step"]
    fmt = t["workloads"][name]["format"]
    add_ratio(f"SRGAN step MSRResNet nf {nf} nb {nb} x4 b{batch} LR32", o, "PyTorch", p, "benches/peers/gan_step.sh", f"PyTorch at {fmt}")
    print(f"| MSRResNet nf {nf} nb {nb} x4, batch {batch} | {o:.3f} | {p:.3f} | {fmt} | {o/p:.2f} |")
PY
"$python" benches/peers/report.py gan_step "$out/gan_step.md"
cat "$out/gan_step.md"
