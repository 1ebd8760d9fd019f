#!/usr/bin/env bash
# The DDR experiment in miniature, on the photos that ship with ddr-engine (a few minutes on a
# laptop CPU, nothing downloaded): train a small MSRResNet with and without the global residual
# on clean bicubic data, probe both on clean/blur/noise test sets, and compare how well their
# deep features separate the degradations (Calinski-Harabasz index, CHI).
#
#   scripts/demo.sh [OUT_DIR]        (default out/demo)
#
# Scale: nf 16, 4 residual blocks, x4, 600 iterations, 60 test images per set. The paper's
# numbers need far larger networks and runs (docs/configs/msrresnet_paper.toml); the demo shows
# the pipeline and the first signs of the effect, not the paper's magnitudes.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$repo/out/demo}
cd "$repo"
cargo build --release --quiet
bin=$repo/target/release/ddr-engine
mkdir -p "$out"
"$bin" data pack --builtin -o "$out/builtin.pack"

for gr in true false; do
  name=msrresnet_$([ "$gr" = true ] && echo wGR || echo woGR)
  cat > "$out/$name.toml" <<TOML
[model]
kind = "msrresnet"
nf = 16
nb = 4
scale = 4
global_residual = $gr

[data]
train = "$out/builtin.pack"
val = "builtin"
lr_patch = 24
batch = 8
val_crop = 128
val_images = 5

[schedule]
kind = "cosine_restarts"
periods = [600]
restart_weights = [1.0]
eta_min = 1e-7

[run]
iterations = 600
val_every = 300
TOML
  rm -rf "$out/runs/$name"
  "$bin" train --config "$out/$name.toml" --out "$out/runs/$name"
  "$bin" probe --ckpt "$out/runs/$name/model.safetensors" --out "$out/probe/$name" \
      --count 60 --runs 3 --no-features
done

echo
echo "Reports:"
for name in msrresnet_wGR msrresnet_woGR; do
  echo "  $out/probe/$name/report.md   (t-SNE plots: $out/probe/$name/tsne_*.png)"
done
