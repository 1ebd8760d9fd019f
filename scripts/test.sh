#!/usr/bin/env bash
# The project's test command (README): installs CUDA 13.0's nvcc into .cache/ if it is not there,
# builds every kernel to PTX, runs all unit, integration and GPU-parity tests (the GPU tests skip
# without a GPU unless DDR_REQUIRE_GPU=1), and runs every criterion bench once in test mode.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
NVCC=$(scripts/install-nvcc.sh)
export NVCC
cargo test --release --all-targets "$@"
