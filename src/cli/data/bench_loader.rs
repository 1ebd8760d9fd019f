//! `ddr-engine data bench-loader`: the training loader's speed and memory.

use crate::data::degrade::Pipeline;
use crate::data::loader::LoaderConfig;
use crate::data::loader_bench::measure_loader;
use crate::Result;
use clap::Args;
use std::path::PathBuf;

/// Measure the training loader: batches per second and peak resident memory.
///
/// Pulls BATCHES batches from the loader (after a warm-up) as fast as it delivers them and
/// reports the rate and the process's peak resident set size (VmHWM, Linux). With
/// --degradations the on-the-fly degradations are included.
///
/// Example (the paper's training batches, FAIG's degradations):
///
///   ddr-engine data bench-loader train.pack --degradations 'blur:21:2@0.5,bilinear:1/4,noise:25.5@0.5'
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub struct BenchArgs {
    #[arg(value_name = "PACK")]
    pack: PathBuf,
    /// Batches to time.
    #[arg(long, default_value_t = 200)]
    batches: u64,
    /// Batches pulled before timing starts.
    #[arg(long, default_value_t = 10)]
    warmup: u64,
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// LR patch side.
    #[arg(long, default_value_t = 32)]
    patch: usize,
    #[arg(long, default_value_t = 4)]
    scale: usize,
    /// Background loader threads.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    #[arg(long, default_value_t = 4)]
    prefetch: usize,
    /// Degradation steps (as for `degrade`, with @P probabilities); default: bicubic only.
    #[arg(long, value_name = "SPEC", default_value = "")]
    degradations: Pipeline,
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

pub fn bench_loader(a: BenchArgs) -> Result<()> {
    let cfg = LoaderConfig {
        batch: a.batch,
        lr_patch: a.patch,
        scale: a.scale,
        augment: true,
        degradations: a.degradations,
        round_lr: true,
        varying: None,
        seed: a.seed,
        workers: a.workers,
        prefetch: a.prefetch,
    };
    let m = measure_loader(&a.pack, cfg, a.warmup, a.batches)?;
    let (hwm, rss) = m.rss_kib.unwrap_or((0, 0));
    let mib = |k: u64| k as f64 / 1024.0;
    println!(
        "pack {} ({} images, {:.1} MiB of pixels); pipeline `{}`",
        a.pack.display(),
        m.images,
        m.pixel_bytes as f64 / (1 << 20) as f64,
        m.pipeline
    );
    println!(
        "{} batches of {} x LR {p}x{p} / HR {hp}x{hp} with {} worker(s): {:.3} s, {:.1} batches/s",
        a.batches,
        a.batch,
        a.workers,
        m.secs,
        m.batches_per_sec(),
        p = a.patch,
        hp = a.patch * a.scale
    );
    println!("resident memory: peak {:.1} MiB, now {:.1} MiB", mib(hwm), mib(rss));
    Ok(())
}
