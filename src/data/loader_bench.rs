//! How fast the training loader delivers batches, and how much memory it holds.

use super::loader::{Loader, LoaderConfig};
use super::pack::Pack;
use crate::Result;
use std::path::Path;
use std::sync::Arc;

/// One measurement of [`measure_loader`].
pub struct LoaderSpeed {
    pub images: usize,
    /// Bytes of pixels in the pack.
    pub pixel_bytes: usize,
    /// The degradation pipeline as the loader runs it.
    pub pipeline: String,
    pub batches: u64,
    pub secs: f64,
    /// Peak and current resident set size of the process in KiB (Linux; `None` elsewhere).
    pub rss_kib: Option<(u64, u64)>,
}

impl LoaderSpeed {
    pub fn batches_per_sec(&self) -> f64 {
        self.batches as f64 / self.secs
    }
}

/// Pulls `warmup` batches, then times `batches` more, pulled as fast as the loader delivers them.
pub fn measure_loader(pack: &Path, cfg: LoaderConfig, warmup: u64, batches: u64) -> Result<LoaderSpeed> {
    let pack = Arc::new(Pack::open(pack)?);
    let pixel_bytes: usize = pack.entries().iter().map(|e| e.len).sum();
    let mut loader = Loader::new(pack.clone(), cfg)?;
    for _ in 0..warmup {
        loader.next()?;
    }
    let t = std::time::Instant::now();
    for _ in 0..batches {
        loader.next()?;
    }
    let secs = t.elapsed().as_secs_f64();
    Ok(LoaderSpeed {
        images: pack.len(),
        pixel_bytes,
        pipeline: loader.pipeline().to_string(),
        batches,
        secs,
        rss_kib: rss_kib(),
    })
}

/// Peak and current resident set size in KiB (Linux `/proc/self/status`).
fn rss_kib() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field =
        |key: &str| status.lines().find(|l| l.starts_with(key))?.split_whitespace().nth(1)?.parse().ok();
    Some((field("VmHWM:")?, field("VmRSS:")?))
}
