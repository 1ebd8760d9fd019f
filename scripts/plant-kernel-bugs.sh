#!/usr/bin/env bash
# Mutation check of the kernel tests: plants one bug at a time in kernels/*.cu, runs the tests
# that CI runs on the emulated CUDA device, and expects them to FAIL; then restores the file. A
# plant the tests do not catch is reported and the script exits 1.
#
#   scripts/plant-kernel-bugs.sh [N ...]    (every plant, or plants N...; about 2 minutes each
#                                            on 2 cores)
#
# Builds in target/plant so that the normal build is left alone. Needs a clean kernels/ (the
# file is restored with git checkout).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
NVCC=$(scripts/install-nvcc.sh)
export NVCC CARGO_TARGET_DIR=target/plant DDR_REQUIRE_EMU=1
git diff --quiet -- kernels || { echo "kernels/ has uncommitted changes; commit or stash them first" >&2; exit 2; }

# file | python regex | replacement | what it is | tests that must fail
plants=(
    "kernels/gemm_core.cuh|__syncthreads\\(\\);  // the tile is complete|;|removed __syncthreads: a GEMM tile read before it is complete|gpu_parity_linear gpu_parity_conv2d"
    "kernels/gemm_core.cuh|__syncthreads\\(\\);  // everyone is done reading the previous tile|;|removed __syncthreads: the next GEMM tile overwrites one still being read|gpu_parity_linear gpu_parity_conv2d"
    "kernels/common.cuh|(sh\\[threadIdx.x\\] \\+= sh\\[threadIdx.x \\+ s\\];)\\n        __syncthreads\\(\\);|\\1|removed __syncthreads in the block reduction tree|gpu_parity_loss gpu_parity_batchnorm"
    "kernels/pixel_shuffle.cu|i \\* r \\+ j\\) \\* h|j * r + i) * h|wrong index: pixel shuffle's sub-pixel offsets swapped|gpu_parity_pixel_shuffle"
    "kernels/upsample.cu|__fsub_rn\\(src, \\(float\\)i0\\)|__fsub_rn(src, (float)i0 + 0.5f)|wrong arithmetic: bilinear weight off by half a pixel|gpu_parity_upsample"
    "kernels/tsne.cu|for \\(int off = 16; off > 0; off >>= 1\\)|for (int off = 8; off > 0; off >>= 1)|wrong warp reduction: half the lanes dropped|gpu_parity_tsne"
    "kernels/gemm_core.cuh|load_matrix_sync\\(fa, &As\\[ks\\]\\[wm \\* 16\\], LDA\\)|load_matrix_sync(fa, &As[ks][wm * 16 + 1], LDA)|wrong index: tensor-core A fragment shifted by one row|gpu_parity_linear"
    "kernels/loss.cu|d > 1.f \\? 1.f : \\(d < -1.f \\? -1.f : d\\)|d|wrong arithmetic: Huber's gradient not clamped to [-1, 1]|gpu_parity_loss"
    "kernels/lstm.cu|sigmoid_f32\\(x\\[0\\]\\), sigmoid_f32\\(x\\[hidden\\]\\)|sigmoid_f32(x[hidden]), sigmoid_f32(x[0])|wrong index: LSTM input and forget gates swapped|gpu_parity_lstm"
)

missed=0
picked=("$@")
[ ${#picked[@]} -gt 0 ] || picked=($(seq 1 ${#plants[@]}))
for i in "${picked[@]}"; do
    p=${plants[$((i - 1))]}
    IFS='|' read -r file pattern replacement what tests <<<"$p"
    python3 - "$file" "$pattern" "$replacement" <<'PY'
import re, sys
path, pattern, repl = sys.argv[1:4]
src = open(path).read()
new, n = re.subn(pattern, repl, src, count=1)
if n != 1:
    sys.exit(f"plant not applied: /{pattern}/ not found in {path}")
open(path, "w").write(new)
PY
    args=()
    for t in $tests; do args+=(--test "$t"); done
    if cargo test --release --no-fail-fast "${args[@]}" >/tmp/plant.log 2>&1; then
        echo "MISSED  $what ($file): $tests passed"
        missed=$((missed + 1))
    else
        failed=$(grep -E '^test .* FAILED$' /tmp/plant.log | sed 's/^test \(.*\) \.\.\. FAILED$/\1/' | tr '\n' ' ' || true)
        echo "caught  $what ($file): ${failed:-build or run failure}"
    fi
    git checkout -- "$file"
done
[ "$missed" -eq 0 ]
