#!/usr/bin/env bash
# Benchmark-driven development with criterion baselines.
#
#   scripts/bench-regressions.sh save main        # run every bench, store it as baseline "main"
#   ... change code ...
#   scripts/bench-regressions.sh compare main     # run again, print the benches that got slower
#
# A bench counts as regressed when criterion's whole 95% confidence interval for the change of
# the mean is above +THRESHOLD percent (default 5): noise moves the interval, a real slowdown
# moves all of it. Improvements beyond the threshold are listed too. Extra arguments go to
# `cargo bench` (e.g. `--bench conv` to run one suite). Exit status 1 if anything regressed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mode=${1:?usage: bench-regressions.sh save|compare NAME [cargo bench args]}
name=${2:?usage: bench-regressions.sh save|compare NAME [cargo bench args]}
shift 2
threshold=${THRESHOLD:-5}
case "$mode" in
  save)
    cargo bench "$@" -- --noplot --save-baseline "$name"
    echo "saved baseline '$name' under target/criterion"
    ;;
  compare)
    cargo bench "$@" -- --noplot --baseline "$name" >/dev/null
    python3 - "$threshold" <<'PY'
import json, pathlib, sys
threshold = float(sys.argv[1]) / 100
regressed, improved = [], []
for est in sorted(pathlib.Path("target/criterion").glob("**/change/estimates.json")):
    bench = str(est.parent.parent.relative_to("target/criterion"))
    m = json.loads(est.read_text())["mean"]
    lo, hi, mid = m["confidence_interval"]["lower_bound"], m["confidence_interval"]["upper_bound"], m["point_estimate"]
    if lo > threshold:
        regressed.append((mid, bench, lo, hi))
    elif hi < -threshold:
        improved.append((mid, bench, lo, hi))
for title, rows in (("REGRESSED", sorted(regressed, reverse=True)), ("improved", sorted(improved))):
    print(f"{title} beyond {threshold:.0%} ({len(rows)}):")
    for mid, bench, lo, hi in rows:
        print(f"  {bench:60s} {mid:+7.1%}  (95% CI {lo:+.1%} .. {hi:+.1%})")
sys.exit(1 if regressed else 0)
PY
    ;;
  *)
    echo "usage: bench-regressions.sh save|compare NAME [cargo bench args]" >&2
    exit 2
    ;;
esac
