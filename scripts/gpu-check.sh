#!/usr/bin/env bash
# The one-shot check for the day a GPU is lent: runs on the GPU machine, from the repository root,
# on the binaries scripts/gpu-pack.sh built here (that machine has no Rust). Everything goes to
# $OUT (the device tool's output folder) or gpu-check-out/:
#
#   check.log       all output, in order
#   summary.txt     one line per step: PASS / FAIL, seconds
#   bench.txt       gpu-bench (every kernel against the GPU's measured peaks)
#   peer.json       PyTorch/cuDNN on the same conv shapes; compare.txt: ours / theirs per row
#
# Steps: the environment; every test binary with DDR_REQUIRE_GPU=1 (each runs on the GPU and the
# emulated device, so a missing GPU fails); the GPU bench and its PyTorch peer; a 200-iteration
# training run and a probe on the GPU against the CPU's; compute-sanitizer memcheck and racecheck
# on a few test binaries last. Aims at under 8 minutes on an H100/H200; each step has a timeout.
#
#   device run: bash scripts/gpu-check.sh   (carry ["gpu-pack"], timeout_s 540)
#
# A dry run of the training/probe step's logic on a machine without a GPU:
#   DDR_CHECK_DEVICE=cuda-emu DDR_CHECK_ITERS=4 DDR_CHECK_ONLY=train bash scripts/gpu-check.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${OUT:-gpu-check-out}
mkdir -p "$out"
exec > >(tee -a "$out/check.log") 2>&1
# The pack is unpacked outside the repository (python3's tarfile: xz may not be installed there).
pack=/tmp/ddr-gpu-pack
bin=$pack/bin
device=${DDR_CHECK_DEVICE:-cuda}
iters=${DDR_CHECK_ITERS:-200}
only=${DDR_CHECK_ONLY:-}
[ "$device" = cuda ] && export DDR_REQUIRE_GPU=1
export RUST_BACKTRACE=1 out pack bin device iters
: > "$out/summary.txt"

# step NAME TIMEOUT_S COMMAND: runs the shell command (the functions below are exported to it)
# with pipefail, records PASS/FAIL and its time.
step() {
    local name=$1 limit=$2 cmd=$3
    echo
    echo "== $name"
    local t0=$SECONDS
    if timeout "$limit" bash -o pipefail -c "$cmd"; then r=PASS; else r="FAIL ($?)"; fi
    printf '%-40s %-10s %4d s\n' "$name" "$r" $((SECONDS - t0)) | tee -a "$out/summary.txt"
}

if [ ! -f gpu-pack/pack.tar.xz ]; then
    echo "no gpu-pack/pack.tar.xz: run scripts/gpu-pack.sh on the build machine and carry gpu-pack" >&2
    exit 2
fi
rm -rf "$pack"
mkdir -p "$pack"
python3 -c "import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" gpu-pack/pack.tar.xz "$pack"
cat gpu-pack/MANIFEST

env_report() {
    nvidia-smi
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
    ldd --version | head -1
    command -v nvcc && nvcc --version | tail -2
    "$bin/ddr-engine" info
    "$bin/ddr-engine" --device cuda info | tail -1
}
export -f env_report
step "environment" 60 env_report

if [ -z "$only" ]; then
for t in "$pack"/tests/*; do
    step "test $(basename "$t")" 240 "'$t' --test-threads=4"
done

step "gpu bench" 240 "'$bin/gpu-bench' --bench | tee '$out/bench.txt'"
step "pytorch peer (cuDNN)" 240 "python3 benches/peers/torch_gpu_conv.py > '$out/peer.json'"

compare() {
    python3 - "$out/bench.txt" "$out/peer.json" <<'PY' | tee "$out/compare.txt"
import json, re, sys
ours = {}
for line in open(sys.argv[1]):
    m = re.match(r"^(.*?) +([0-9.]+) ms +([0-9.]+) (TFLOP/s|GB/s) +([0-9.]+)% of peak", line.rstrip())
    if m:
        ours[m.group(1).strip()] = (float(m.group(2)), float(m.group(5)))
peer = json.load(open(sys.argv[2]))
print(f"PyTorch {peer['torch']} on {peer['gpu']}; ratio = our time / cuDNN's (below 1: we are faster)")
print(f"{'row':<64} {'ours ms':>9} {'cuDNN ms':>9} {'ratio':>7} {'% peak':>7}")
for r in peer["rows"]:
    key = f"{r['shape']} {r['pass']} {r['math']}"
    if key in ours:
        ms, pct = ours[key]
        print(f"{key:<64} {ms:>9.3f} {r['ms']:>9.3f} {ms / max(r['ms'], 1e-9):>7.2f} {pct:>6.1f}%")
PY
}
export -f compare
step "compare with cuDNN" 30 compare
fi

# Training and probe on the GPU against the CPU (the same code the tests compare at two steps,
# here at a length where drift would show).
work=$(mktemp -d)
export work
train_and_probe() {
    set -e
    "$bin/ddr-engine" data pack --builtin -o "$work/b.pack"
    printf '[model]\nkind = "msrresnet"\nnf = 16\nnb = 4\nscale = 4\nglobal_residual = true\n\n[data]\ntrain = "%s"\nlr_patch = 16\nbatch = 8\n\n[run]\niterations = %d\nlog_every = %d\n' \
        "$work/b.pack" "$iters" $(((iters + 3) / 4)) > "$work/t.toml"
    for d in cpu "$device"; do
        /usr/bin/time -f "$d training: %e s" "$bin/ddr-engine" --device $d train --config "$work/t.toml" --out "$work/$d" --quiet
        /usr/bin/time -f "$d probe: %e s" "$bin/ddr-engine" --device $d probe --ckpt "$work/cpu/model.safetensors" \
            --out "$work/probe-$d" --count 40 --patch 16 --runs 2 --layers rb4
    done
    python3 - "$work" "$device" <<'PY'
import json, sys
w, dev = sys.argv[1], sys.argv[2]
loss = {d: [json.loads(l)["loss"] for l in open(f"{w}/{d}/metrics.jsonl") if '"loss"' in l] for d in ("cpu", dev)}
for d in ("cpu", dev):
    print(f"training loss, {d:>8}:", " ".join(f"{v:.5f}" for v in loss[d]))
rel = abs(loss[dev][-1] - loss["cpu"][-1]) / loss["cpu"][-1]
print(f"final loss differs by {rel:.2e} relative")
p = {d: json.load(open(f"{w}/probe-{d}/report.json"))["layers"][0]["main"] for d in ("cpu", dev)}
for s in ("bd", "wd", "chi"):
    print(f"PCA {s}: cpu {p['cpu']['pca'][s]:.6g} {dev} {p[dev]['pca'][s]:.6g}")
print(f"t-SNE KL: cpu {p['cpu']['tsne_kl']['mean']:.4f} {dev} {p[dev]['tsne_kl']['mean']:.4f}")
assert rel < 0.05, "the GPU's training drifted from the CPU's"
for s in ("bd", "wd", "chi"):
    a, b = p["cpu"]["pca"][s], p[dev]["pca"][s]
    assert abs(a - b) <= 1e-3 * abs(a), f"PCA {s} differs"
PY
}
export -f train_and_probe
step "train 200 iterations + probe, GPU vs CPU" 180 train_and_probe
rm -rf "$work"

# compute-sanitizer last: slow, and a finding should not stop the figures above from being taken.
[ -z "$only" ] && for t in gpu_parity_elementwise gpu_parity_loss gpu_parity_pool2d; do
    step "memcheck $t" 120 "compute-sanitizer --tool memcheck --error-exitcode 1 '$pack/tests/$t' --test-threads=1"
done
[ -z "$only" ] && for t in gpu_parity_loss gpu_parity_batchnorm; do
    step "racecheck $t" 120 "compute-sanitizer --tool racecheck --error-exitcode 1 '$pack/tests/$t' --test-threads=1"
done

echo
echo "== summary"
cat "$out/summary.txt"
! grep -q FAIL "$out/summary.txt"
