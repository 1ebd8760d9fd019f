//! What the benches share.

use ddr_engine::device::cuda::CudaDevice;
use std::sync::Arc;

/// GPU 0, or `None` with a note on stderr when none is usable (the bench's GPU part is skipped).
/// With `DDR_REQUIRE_GPU=1` a missing GPU ends the bench with exit status 1 instead, so that a
/// GPU check cannot pass on a machine where the GPU was not used.
pub fn gpu_or_skip(bench: &str) -> Option<Arc<CudaDevice>> {
    match CudaDevice::open(0) {
        Ok(d) => Some(d),
        Err(why) if std::env::var("DDR_REQUIRE_GPU").is_ok_and(|v| v == "1") => {
            eprintln!("{bench}: DDR_REQUIRE_GPU=1 but no GPU is usable: {why}");
            std::process::exit(1);
        }
        Err(why) => {
            eprintln!("{bench}: skipped, no GPU ({why})");
            None
        }
    }
}
