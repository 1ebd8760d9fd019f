//! The training loader: batches per second for batch 16, LR 32x32, x4 (the paper's MSRResNet
//! setting), clean bicubic and with FAIG's on-the-fly degradations. The pack is built here from
//! the built-in photos, so the bench runs on a fresh clone; `ddr-engine data bench-loader`
//! measures the same on any pack (docs/PERFORMANCE.md has the figures for the 2K wallpapers).
//! Each iteration computes one whole batch on the calling thread (`Loader::batch`), so
//! "elements/s" is batches per second per loader worker.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ddr_engine::data::loader::{Loader, LoaderConfig};
use ddr_engine::data::pack::{Pack, PackWriter};
use ddr_engine::data::photos;
use std::sync::Arc;

fn builtin_pack(dir: &std::path::Path) -> Arc<Pack> {
    let path = dir.join("builtin.pack");
    let mut w = PackWriter::create(&path).unwrap();
    for (name, img) in photos::builtin().unwrap() {
        w.add_rgb(name, &img).unwrap();
    }
    w.finish().unwrap();
    Arc::new(Pack::open(&path).unwrap())
}

fn loader_group(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let pack = builtin_pack(dir.path());
    let mut g = c.benchmark_group("loader");
    g.throughput(Throughput::Elements(1));
    for (label, spec) in [
        ("b16_lr32_x4/clean_bicubic", ""),
        ("b16_lr32_x4/faig_blur21_bilinear_noise", "blur:21:2@0.5,bilinear:1/4,noise:25.5@0.5"),
    ] {
        let cfg = LoaderConfig { degradations: spec.parse().unwrap(), workers: 0, ..LoaderConfig::default() };
        let loader = Loader::new(pack.clone(), cfg).unwrap();
        let mut step = 0u64;
        g.bench_function(label, |b| {
            b.iter(|| {
                step += 1;
                loader.batch(step).unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, loader_group);
criterion_main!(benches);
