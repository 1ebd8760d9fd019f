#!/usr/bin/env bash
# Peer benchmark of exact t-SNE (issue 7): ddr-engine against scikit-learn (exact and
# Barnes-Hut) and openTSNE (its default, which is Barnes-Hut below 10,000 points, and its
# FFT-accelerated method), on Gaussian blobs of 50 dims, perplexity 30, 1000 iterations (250 of
# them with early exaggeration 12), THREADS threads each (default: every core).
#
#   benches/peers/tsne.sh [N ...]        (default: 300 1000 2000 5000)
#
# Creates .venv-peers/ (pinned in requirements.txt), builds ddr-engine --release, writes the inputs
# once as .npy under target/peers/tsne/, runs every method, and prints a Markdown table (also
# written to target/peers/tsne/results.md). Each method's final KL is recomputed the same way:
# the exact KL(P || Q) of its embedding against scikit-learn's exact joint P of the input.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cargo build --release --quiet
export THREADS=$threads OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS NUMBA_NUM_THREADS=$THREADS
"$python" benches/peers/tsne_peers.py "$@"
"$python" benches/peers/report.py tsne "$out/tsne/results.md"
