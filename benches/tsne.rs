//! PCA and exact t-SNE: CPU always; CUDA when a GPU is usable (the group says it was skipped
//! otherwise). Small sizes (N = 300, 1000) so that `cargo bench` stays short; the comparison
//! with scikit-learn and openTSNE at larger N is `benches/peers/tsne.sh`.

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use ddr_engine::reduce::tsne::cpu::PairKernel;
use ddr_engine::reduce::{joint_probabilities, pca, tsne, TsneConfig};
use ddr_engine::{Device, Rng};
use std::hint::black_box;

/// n points of d dims in 5 Gaussian clusters.
fn blobs(n: usize, d: usize) -> Vec<f32> {
    let mut rng = Rng::new(n as u64);
    (0..n * d).map(|t| (rng.normal() + 8.0 * ((t / d) % 5) as f64 * ((t % d) % 2) as f64) as f32).collect()
}

fn cpu_group(c: &mut Criterion) {
    ddr_engine::device::cpu::set_threads(0).unwrap();
    let mut g = c.benchmark_group("tsne_cpu");
    g.sample_size(10);
    for n in [300usize, 1000] {
        let x = blobs(n, 50);
        g.bench_function(format!("pca_50_to_2/{n}"), |b| b.iter(|| pca(black_box(&x), n, 50, 2).unwrap()));
        if n == 300 {
            // The Gram route (D > N); at N = 1000 the O(N^3) eigen-solver takes seconds.
            let wide = blobs(n, 4096);
            g.bench_function(format!("pca_4096_to_50_gram/{n}"), |b| {
                b.iter(|| pca(black_box(&wide), n, 4096, 50).unwrap())
            });
        }
        g.bench_function(format!("joint_p/{n}"), |b| {
            b.iter(|| joint_probabilities(black_box(&x), n, 50, 30.0).unwrap())
        });
        let mut k = PairKernel::new(joint_probabilities(&x, n, 50, 30.0).unwrap());
        let y: Vec<f32> = blobs(n, 2).iter().map(|v| v * 3.0).collect();
        let mut grad = vec![0.0f32; 2 * n];
        g.bench_function(format!("gradient_one_iteration/{n}"), |b| {
            b.iter(|| k.grad(black_box(&y), 1.0, &mut grad))
        });
        let cfg = TsneConfig::default();
        g.bench_function(format!("tsne_1000_iterations/{n}"), |b| {
            b.iter(|| tsne(black_box(&x), n, 50, &cfg, &Device::Cpu, &|_| {}).unwrap())
        });
    }
    g.finish();
}

fn cuda_group(c: &mut Criterion) {
    let Some(dev) = common::gpu_or_skip("tsne_cuda").map(Device::Cuda) else {
        return;
    };
    let mut g = c.benchmark_group("tsne_cuda");
    g.sample_size(10);
    for n in [300usize, 1000] {
        let x = blobs(n, 50);
        let cfg = TsneConfig::default();
        g.bench_function(format!("tsne_1000_iterations/{n}"), |b| {
            b.iter(|| tsne(black_box(&x), n, 50, &cfg, &dev, &|_| {}).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, cpu_group, cuda_group);
criterion_main!(benches);
