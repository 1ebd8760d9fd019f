#!/usr/bin/env bash
# The whole peer comparison in one go: every workload in ddr-engine and in its peer (PyTorch on
# the CPU, scikit-learn, openTSNE), same machine, same thread count. Creates the peers' venv
# (.venv-peers, pinned in requirements.txt) on first use. Writes each workload's section of
# docs/PERFORMANCE.md and the "At a glance" table of ratios at its top.
#
#   benches/peers/run.sh               # threads = number of cores; about 30 minutes on 2 cores
#   THREADS=1 benches/peers/run.sh
#
# Run it on a quiet machine: other work on the same cores skews both sides, unevenly.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
export THREADS=$threads
rm -f "$out/ratios.jsonl"
for part in conv train_step inference faig tsne; do
  echo "=== $part" >&2
  "benches/peers/$part.sh"
done
"$python" benches/peers/summary.py "$THREADS"
"$python" benches/peers/report.py summary "$out/summary.md"
