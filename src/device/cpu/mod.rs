//! The CPU backend: plain Rust over slices, multithreaded with rayon.
//!
//! Work is split into chunks whose boundaries depend only on the problem size, never on the
//! number of threads, and every reduction adds its partial results in a fixed order: the same
//! inputs give the same bytes whatever `--threads` is.

// An entry point takes its shapes as plain numbers and its buffers one by one, exactly as the
// kernel it mirrors does, so that both backends read the same; a struct per call would hide that.
#![allow(clippy::too_many_arguments)]

pub mod batchnorm;
pub mod conv2d;
pub mod elementwise;
pub(crate) mod fastmath;
pub mod gemm;
pub mod linear;
pub mod loss;
pub mod lstm;
pub mod optim;
pub mod pixel_shuffle;
pub mod pool2d;
pub mod tsne;
pub mod upsample;

use std::sync::OnceLock;

static THREADS: OnceLock<usize> = OnceLock::new();

/// Sets the number of worker threads for the whole process (first call wins). `0` means rayon's
/// default: `RAYON_NUM_THREADS` if set, else one per available core.
pub fn set_threads(n: usize) -> crate::Result<usize> {
    anyhow::ensure!(
        n <= max_threads(),
        "{n} threads is too many for {} cores: at most {} (8 per core, and never fewer than 64)",
        cores(),
        max_threads()
    );
    let chosen = *THREADS.get_or_init(|| {
        // Fails only if rayon's global pool was already built, e.g. by a test harness; rayon's
        // own default then stays.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(n).build_global();
        rayon::current_num_threads()
    });
    Ok(chosen)
}

/// The cores this process may run on.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The most threads a thread count may ask for: beyond 8 per core, threads only add switching
/// (5000 of them took 26 s to start), yet up to 64 are allowed anywhere so that a run made on a
/// bigger machine can be repeated with its thread count (results depend on it).
pub fn max_threads() -> usize {
    (8 * cores()).max(64)
}

/// The number of worker threads in use.
pub fn threads() -> usize {
    rayon::current_num_threads()
}

/// Elements per parallel chunk for memory-bound elementwise work: big enough to amortise the
/// task overhead, small enough to balance two to sixteen cores.
pub(crate) const ELEMENTWISE_CHUNK: usize = 1 << 15;
