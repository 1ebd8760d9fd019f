#!/usr/bin/env bash
# The emulated CUDA device's kernel tests with the host-compiled kernels instrumented by
# AddressSanitizer (out-of-bounds reads and writes of device buffers, shared memory and stacks),
# then ThreadSanitizer (races between the CUDA threads of a block: a missing __syncthreads or
# __syncwarp). Each sanitizer gets a build of its own under target/sanitize-<name>; the sanitizer's
# runtime is preloaded into the test binaries only.
#
#   scripts/sanitize-kernels.sh [address|thread ...]   (default: both)
#
# Exits non-zero on the first report. Needs g++ with libasan/libtsan; about 10 minutes for both
# on 2 cores, most of it the two builds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
sanitizers=("$@")
[ ${#sanitizers[@]} -gt 0 ] || sanitizers=(address thread)
tests=(gpu_parity_elementwise gpu_parity_pixel_shuffle gpu_parity_pool2d gpu_parity_upsample gpu_parity_optim
    gpu_parity_loss gpu_parity_lstm gpu_parity_batchnorm gpu_parity_linear gpu_parity_conv2d gpu_parity_tsne
    device_emulated)
for san in "${sanitizers[@]}"; do
    case $san in
    address) lib=$(g++ -print-file-name=libasan.so) opts="ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=1" ;;
    thread) lib=$(g++ -print-file-name=libtsan.so)
        opts="TSAN_OPTIONS=halt_on_error=1:abort_on_error=1:report_signal_unsafe=0:suppressions=$PWD/kernels/emu/tsan.supp" ;;
    *) echo "unknown sanitizer '$san': use address or thread" >&2; exit 2 ;;
    esac
    echo "== $san: building"
    args=()
    for t in "${tests[@]}"; do args+=(--test "$t"); done
    bins=$(DDR_EMU_SANITIZE=$san DDR_REQUIRE_EMU=1 CARGO_TARGET_DIR=target/sanitize-$san \
        cargo test --release --no-run --message-format=json "${args[@]}" |
        grep -o '"executable":"[^"]*/deps/[^"]*"' | sed 's/"executable":"\(.*\)"/\1/')
    for bin in $bins; do
        echo "== $san: $(basename "$bin")"
        # One test at a time: the pool hands a buffer from one test's thread to another's through
        # Rust code the sanitizer does not see.
        env "$opts" LD_PRELOAD="$lib" "$bin" --test-threads=1 -q
    done
done
echo "sanitizers clean: ${sanitizers[*]}"
