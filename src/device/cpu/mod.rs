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
    let chosen = *THREADS.get_or_init(|| {
        // Fails only if rayon's global pool was already built, e.g. by a test harness; rayon's
        // own default then stays.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(n).build_global();
        rayon::current_num_threads()
    });
    Ok(chosen)
}

/// The number of worker threads in use.
pub fn threads() -> usize {
    rayon::current_num_threads()
}

/// Elements per parallel chunk for memory-bound elementwise work: big enough to amortise the
/// task overhead, small enough to balance two to sixteen cores.
pub(crate) const ELEMENTWISE_CHUNK: usize = 1 << 15;
