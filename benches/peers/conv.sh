#!/usr/bin/env bash
# The conv workloads of issue "compute core on the CPU", in ddr-engine and in PyTorch, in one go,
# with the same number of threads; writes the "Conv (CPU)" section of docs/PERFORMANCE.md.
#
#   benches/peers/conv.sh            # threads = number of cores
#   THREADS=1 benches/peers/conv.sh
#
# ddr-engine: criterion's median (benches/conv.rs). PyTorch: the median of >= 10 runs after a
# warm-up, at its best memory format (NCHW or channels_last, whichever is faster).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
measure conv torch_conv
"$python" - "$threads" "$out/torch_conv.json" > "$out/conv.md" <<'PY'
import json, platform, sys, datetime
sys.path.insert(0, "benches/peers"); from peerlib import add_ratio, cpu_name, criterion_seconds, rustc_version
threads, torch_json = int(sys.argv[1]), json.load(open(sys.argv[2]))
flops = {"conv3x3_64to64_b16_32x32": 2 * 16 * 64 * 32 * 32 * 64 * 9,
         "conv3x3_64to256_ps_b16_64x64": 2 * 16 * 256 * 64 * 64 * 64 * 9}
print(f"Measured {datetime.date.today()} on {cpu_name()} ({platform.machine()}), {threads} threads for both; "
      f"{rustc_version()}; PyTorch {torch_json['torch']} (oneDNN) at its faster memory format. "
      f"Ceiling: about 95 GFLOP/s per core (MKL's sgemm on 2048^3 here), {95 * threads} for {threads}.\n")
print("Command: `benches/peers/conv.sh`\n")
print("| workload | pass | ddr-engine ms | GFLOP/s | PyTorch ms | GFLOP/s | format | ratio ours/PyTorch |")
print("|---|---|---:|---:|---:|---:|---|---:|")
for name, f in flops.items():
    t = torch_json["workloads"][name]
    for part, mult in (("fwd", 1), ("fwd_bwd", 3)):
        o, p = criterion_seconds("conv_cpu", f"{name}_{part}"), t[part]
        add_ratio(f"conv {name} {part}", o, "PyTorch", p, "benches/peers/conv.sh", f"PyTorch at {t['format']}")
        print(f"| {name} | {part} | {o*1e3:.1f} | {mult*f/o/1e9:.0f} | {p*1e3:.1f} | {mult*f/p/1e9:.0f} | {t['format']} | {o/p:.2f} |")
PY
"$python" benches/peers/report.py conv "$out/conv.md"
cat "$out/conv.md"
