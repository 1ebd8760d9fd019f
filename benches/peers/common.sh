# Sourced by the peer scripts: runs from the repository root, with the thread count (THREADS,
# default: every core), the peers' python (venv.sh) and the output folder target/peers.
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
threads=${THREADS:-$(nproc)}
python=$(benches/peers/venv.sh)
out=target/peers
mkdir -p "$out"

# measure BENCH PEER: criterion's benches/BENCH.rs, then benches/peers/PEER.py (JSON into
# target/peers/PEER.json), with the same thread count. BENCH_FILTER: criterion's name filter.
measure() {
  echo "== ddr-engine: cargo bench --bench $1 ($threads threads)" >&2
  RAYON_NUM_THREADS=$threads cargo bench --bench "$1" -- --noplot ${BENCH_FILTER:-} >&2
  echo "== PyTorch: $2.py ($threads threads)" >&2
  "$python" "benches/peers/$2.py" "$threads" > "$out/$2.json"
}
