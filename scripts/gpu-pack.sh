#!/usr/bin/env bash
# Builds, here, everything scripts/gpu-check.sh runs on a lent GPU machine (which has nvcc,
# PyTorch and compute-sanitizer but no Rust and no network), into gpu-pack/ (ignored by git; the
# device tool's `carry` takes it along, 64 MiB at most with the working tree):
#
#   gpu-pack/pack.tar.xz           bin/ddr-engine (kernels required: DDR_REQUIRE_PTX=1),
#                                  bin/gpu-bench (benches/gpu.rs), tests/<name> (the
#                                  device-generic test binaries that read no fixture files)
#   gpu-pack/MANIFEST              commit, sizes, checksums, the newest glibc symbol needed
#
# Binaries are stripped of debug info (symbols stay, for backtraces): about 3.5 MiB per test
# binary, each with every kernel's PTX and machine code in it; xz packs the ~74 MB into ~12 MB.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
NVCC=$(scripts/install-nvcc.sh)
export NVCC DDR_REQUIRE_PTX=1 DDR_REQUIRE_EMU=1
# Tests that need no file at a path baked in at build time (CARGO_MANIFEST_DIR, the binary's
# path): the kernel parity tests and the op, network and training tests.
tests=(gpu_parity_batchnorm gpu_parity_conv2d gpu_parity_elementwise gpu_parity_linear gpu_parity_loss
    gpu_parity_lstm gpu_parity_optim gpu_parity_pixel_shuffle gpu_parity_pool2d gpu_parity_tsne
    gpu_parity_upsample ops_layers ops_elementwise ops_lstm nn_compose train_learns device_emulated)
args=()
for t in "${tests[@]}"; do args+=(--test "$t"); done
exe() { grep -o '"executable":"[^"]*"' | sed 's/"executable":"\(.*\)"/\1/'; }
echo "== building (release, kernels and sm_90 machine code required)" >&2
cargo build --release --bin ddr-engine
test_bins=$(cargo test --release --no-run --message-format=json "${args[@]}" | exe | grep /deps/)
bench_bin=$(cargo bench --no-run --message-format=json --bench gpu | exe | grep /deps/gpu-)
rm -rf gpu-pack
mkdir -p gpu-pack/bin gpu-pack/tests
cp target/release/ddr-engine gpu-pack/bin/ddr-engine
cp "$bench_bin" gpu-pack/bin/gpu-bench
for b in $test_bins; do
    name=$(basename "$b")
    cp "$b" "gpu-pack/tests/${name%-*}"
done
strip --strip-debug gpu-pack/bin/* gpu-pack/tests/*
{
    echo "ddr-engine GPU check pack"
    echo "commit: $(git rev-parse HEAD)$(git diff --quiet HEAD || echo ' (with uncommitted changes)')"
    echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m), $(ldd --version | head -1)"
    echo "kernels: $(gpu-pack/bin/ddr-engine info | grep '^CUDA kernels')"
    # The device machine's glibc must be at least this (its image is not the build machine's).
    echo "needs: $(objdump -T gpu-pack/bin/* gpu-pack/tests/* 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -V | tail -1)," \
        "$(objdump -T gpu-pack/bin/* gpu-pack/tests/* 2>/dev/null | grep -o 'GLIBCXX_[0-9.]*' | sort -V | tail -1)"
    echo
    (cd gpu-pack && find bin tests -type f | sort | xargs sha256sum | while read -r sum f; do
        printf '%10d  %s  %s\n' "$(stat -c %s "$f")" "${sum:0:16}" "$f"
    done)
    echo
    echo "unpacked: $(du -sb gpu-pack | cut -f1) bytes"
} > gpu-pack/MANIFEST
cat gpu-pack/MANIFEST
tar -C gpu-pack -cf - bin tests | xz -6 -T0 > gpu-pack/pack.tar.xz
rm -rf gpu-pack/bin gpu-pack/tests
echo "packed: $(stat -c %s gpu-pack/pack.tar.xz) bytes (pack.tar.xz)" | tee -a gpu-pack/MANIFEST
total=$(du -sb gpu-pack | cut -f1)
limit=$((32 << 20)) # the tree that travels with it must fit in the 64 MiB too
if [ "$total" -gt "$limit" ]; then
    echo "gpu-pack is $total bytes, over the $limit-byte budget" >&2
    exit 1
fi
echo "gpu-pack ready: $(numfmt --to=iec "$total"); run scripts/gpu-check.sh on the GPU machine with carry [\"gpu-pack\"]" >&2
