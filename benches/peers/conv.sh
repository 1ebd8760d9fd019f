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
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
threads=${THREADS:-$(nproc)}
python=$(benches/peers/venv.sh)
out=target/peers
mkdir -p "$out"

echo "== ddr-engine (criterion, $threads threads)" >&2
RAYON_NUM_THREADS=$threads cargo bench --bench conv -- --noplot >&2
echo "== PyTorch ($threads threads)" >&2
"$python" benches/peers/torch_conv.py "$threads" > "$out/torch_conv.json"

"$python" - "$threads" "$out/torch_conv.json" > "$out/conv.md" <<'PY'
import json, pathlib, platform, subprocess, sys, datetime
sys.path.insert(0, "benches/peers"); import ratios
threads, torch_json = int(sys.argv[1]), json.load(open(sys.argv[2]))
flops = {"conv3x3_64to64_b16_32x32": 2 * 16 * 64 * 32 * 32 * 64 * 9,
         "conv3x3_64to256_ps_b16_64x64": 2 * 16 * 256 * 64 * 64 * 64 * 9}
def ours(name, part):
    est = pathlib.Path(f"target/criterion/conv_cpu/{name}_{part}/new/estimates.json")
    return json.loads(est.read_text())["median"]["point_estimate"] / 1e9
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
print(f"Measured {datetime.date.today()} on {cpu} ({platform.machine()}), {threads} threads for both; "
      f"{rustc}; PyTorch {torch_json['torch']} (oneDNN) at its faster memory format. "
      f"Ceiling: about 95 GFLOP/s per core (MKL's sgemm on 2048^3 here), {95 * threads} for {threads}.\n")
print("Command: `benches/peers/conv.sh`\n")
print("| workload | pass | ddr-engine ms | GFLOP/s | PyTorch ms | GFLOP/s | format | ratio ours/PyTorch |")
print("|---|---|---:|---:|---:|---:|---|---:|")
for name, f in flops.items():
    t = torch_json["workloads"][name]
    for part, mult in (("fwd", 1), ("fwd_bwd", 3)):
        o, p = ours(name, part), t[part]
        ratios.add(f"conv {name} {part}", o, f"PyTorch {t['format']}", p, "benches/peers/conv.sh")
        print(f"| {name} | {part} | {o*1e3:.1f} | {mult*f/o/1e9:.0f} | {p*1e3:.1f} | {mult*f/p/1e9:.0f} | {t['format']} | {o/p:.2f} |")
PY
"$python" benches/peers/report.py conv "$out/conv.md"
cat "$out/conv.md"
