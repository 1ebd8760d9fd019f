//! Elementwise ops: CPU always; CUDA when a GPU is usable (the group says it was skipped
//! otherwise). Reports bytes moved per second.

mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ddr_engine::device::cpu::elementwise as cpu;
use ddr_engine::device::cuda::elementwise as cuda;
use ddr_engine::Rng;
use std::hint::black_box;

const N: usize = 1 << 22;

fn inputs() -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new(1);
    let x = (0..N).map(|_| rng.uniform_f32() - 0.5).collect();
    let y = (0..N).map(|_| rng.uniform_f32() - 0.5).collect();
    (x, y)
}

fn cpu_group(c: &mut Criterion) {
    ddr_engine::device::cpu::set_threads(0).unwrap();
    let (x, dy) = inputs();
    let mut out = vec![0.0f32; N];
    let mut g = c.benchmark_group("elementwise_cpu");
    g.throughput(Throughput::Bytes((N * 8) as u64));
    g.bench_function("relu_fwd_f32/4Mi", |b| b.iter(|| cpu::relu_fwd_f32(black_box(&x), &mut out)));
    g.bench_function("leaky_relu_fwd_f32/4Mi", |b| {
        b.iter(|| cpu::leaky_relu_fwd_f32(black_box(&x), 0.1, &mut out))
    });
    g.throughput(Throughput::Bytes((N * 12) as u64));
    g.bench_function("leaky_relu_bwd_f32/4Mi", |b| {
        b.iter(|| cpu::leaky_relu_bwd_f32(black_box(&x), &dy, 0.1, &mut out))
    });
    g.bench_function("axpy_f32/4Mi", |b| b.iter(|| cpu::axpy_f32(0.5, black_box(&x), &mut out)));
    g.finish();
}

fn cuda_group(c: &mut Criterion) {
    let Some(dev) = common::gpu_or_skip("elementwise_cuda") else {
        return;
    };
    let (x, dy) = inputs();
    let (gx, gdy) = (dev.upload(&x).unwrap(), dev.upload(&dy).unwrap());
    let mut out = dev.alloc(N).unwrap();
    let mut g = c.benchmark_group("elementwise_cuda");
    g.throughput(Throughput::Bytes((N * 8) as u64));
    g.bench_function("relu_fwd_f32/4Mi", |b| {
        b.iter(|| {
            cuda::relu_fwd_f32(&dev, &gx.dev_view(), &mut out.dev_view_mut()).unwrap();
            dev.synchronize().unwrap();
        })
    });
    g.throughput(Throughput::Bytes((N * 12) as u64));
    g.bench_function("leaky_relu_bwd_f32/4Mi", |b| {
        b.iter(|| {
            cuda::leaky_relu_bwd_f32(&dev, &gx.dev_view(), &gdy.dev_view(), 0.1, &mut out.dev_view_mut())
                .unwrap();
            dev.synchronize().unwrap();
        })
    });
    g.finish();
}

criterion_group!(benches, cpu_group, cuda_group);
criterion_main!(benches);
