#!/usr/bin/env bash
# The project's test command (README): installs CUDA 13.0's nvcc into .cache/ if it is not there,
# builds every kernel to PTX and for the emulated CUDA device, runs all unit, integration and
# kernel-parity tests (on the CPU, the emulated device, and a GPU when one is usable;
# DDR_REQUIRE_GPU=1 makes a missing GPU a failure), and runs every criterion bench once in test
# mode.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
NVCC=$(scripts/install-nvcc.sh)
export NVCC
cargo test --release --all-targets "$@"
