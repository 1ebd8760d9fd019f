#!/usr/bin/env bash
# The DDR paper in miniature, on the photos built into ddr-engine (nothing downloaded; about
# 6 minutes on 2 CPU cores after the build): builds the release binary, then
#   ddr-engine reproduce ddr --scale demo --out OUT_DIR
# (on a GPU when the machine has an NVIDIA driver, see below), which trains SRResNet with and without the global residual on clean bicubic data, SRGAN from
# each, and SRGAN on noisy data; probes all five at Conv1/RB4/RB8/RB16 on clean, blurry and noisy
# test sets; and writes OUT_DIR/report.md with the paper's tables next to ours and the figures.
#
#   scripts/demo.sh [OUT_DIR]        (default out/ddr_demo)
#
# The demo's networks are small (nf 16) and briefly trained, and its perceptual loss uses random
# VGG19 weights: it shows the pipeline and where to look, not the paper's magnitudes. The
# CPU-sized reproduction and its results are in docs/RESULTS.md.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$repo/out/ddr_demo}
cd "$repo"
# On a machine with an NVIDIA driver the demo runs on the GPU, which needs the kernels compiled
# in: find nvcc (or install CUDA 13.0's from PyPI) and make a missing one an error, not a quiet
# CPU build. Say which backend runs and why.
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  if [ -z "${NVCC:-}" ] && ! command -v nvcc >/dev/null; then
    NVCC=$(scripts/install-nvcc.sh)
    export NVCC
  fi
  export DDR_REQUIRE_PTX=1
  echo "demo: an NVIDIA GPU is present ($(nvidia-smi -L | head -1)); building with CUDA kernels" >&2
else
  echo "demo: no NVIDIA driver found (nvidia-smi); the demo runs on the CPU" >&2
fi
cargo build --release --quiet
target/release/ddr-engine info | grep -E "^(CUDA kernels|Selected device)" >&2
target/release/ddr-engine reproduce ddr --scale demo --out "$out"
echo
echo "Open $out/report.md (tables, claims, figures); each network's own probe is in $out/probe/."
