#!/usr/bin/env bash
# Installs CUDA 13.0's nvcc from PyPI wheels into a project-local folder and prints its path.
#
#   NVCC=$(scripts/install-nvcc.sh) cargo build --release
#
# 13.0 and not newer: the GPUs this project runs on have a CUDA 13.0 driver (r580), which rejects
# PTX from a newer nvcc. All five wheels are pinned (nvcc's own dependency on nvvm is unpinned);
# nvidia-cuda-cccl provides <nv/target>, which cuda_fp16.h and cuda_bf16.h include.
# Idempotent: when the right nvcc is already there it only prints the path.
# DDR_NVCC_DIR overrides the folder (default: <repo>/.cache/nvcc, which build.rs also searches).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest=${DDR_NVCC_DIR:-$repo/.cache/nvcc}
nvcc=$dest/nvidia/cu13/bin/nvcc
want="release 13.0, V13.0.88"

if [ -x "$nvcc" ] && "$nvcc" --version 2>/dev/null | grep -q "$want" \
   && [ -f "$dest/nvidia/cu13/include/nv/target" ]; then
  echo "$nvcc"
  exit 0
fi

python=${PYTHON:-python3}
command -v "$python" >/dev/null || { echo "install-nvcc: $python not found" >&2; exit 1; }
rm -rf "$dest"
mkdir -p "$dest"
echo "install-nvcc: installing CUDA 13.0 nvcc from PyPI into $dest" >&2
PIP_ROOT_USER_ACTION=ignore "$python" -m pip install --quiet --disable-pip-version-check --no-deps --target "$dest" \
  nvidia-cuda-nvcc==13.0.88 \
  nvidia-cuda-crt==13.0.88 \
  nvidia-cuda-runtime==13.0.96 \
  nvidia-nvvm==13.0.88 \
  nvidia-cuda-cccl==13.0.85 >&2

if ! "$nvcc" --version | grep -q "$want"; then
  echo "install-nvcc: $nvcc is not nvcc 13.0.88" >&2
  exit 1
fi
echo "$nvcc"
