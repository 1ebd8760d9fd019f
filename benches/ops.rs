//! The CPU op families beside conv2d (benches/conv.rs) and elementwise (benches/elementwise.rs),
//! at MSRResNet/SRGAN sizes. CUDA kernels are timed by benches/gpu.rs.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ddr_engine::ops::{self, optim::AdamStep};
use ddr_engine::tensor::{Slice, SliceMut};
use ddr_engine::{Device, Rng, Tensor};
use std::hint::black_box;

fn rand(shape: &[usize], seed: u64) -> Tensor {
    let mut rng = Rng::new(seed);
    let n = shape.iter().product();
    Tensor::from_vec((0..n).map(|_| rng.uniform_f32() - 0.5).collect(), shape, &Device::Cpu).unwrap()
}

fn ops_cpu(c: &mut Criterion) {
    ddr_engine::device::cpu::set_threads(0).unwrap();
    let mut g = c.benchmark_group("ops_cpu");
    let bytes = |t: &Tensor, passes: usize| Throughput::Bytes((t.numel() * 4 * passes) as u64);

    let x = rand(&[16, 256, 64, 64], 1);
    g.throughput(bytes(&x, 2));
    g.bench_function("pixel_shuffle_fwd/b16_256ch_64x64", |b| {
        b.iter(|| ops::pixel_shuffle::pixel_shuffle_fwd(black_box(&x), 2).unwrap())
    });
    let y = ops::pixel_shuffle::pixel_shuffle_fwd(&x, 2).unwrap();
    g.bench_function("pixel_shuffle_bwd/b16_256ch_64x64", |b| {
        b.iter(|| ops::pixel_shuffle::pixel_shuffle_bwd(black_box(&y), 2).unwrap())
    });

    let lr = rand(&[16, 3, 32, 32], 2);
    let up = ops::upsample::upsample_bilinear_fwd(&lr, 4).unwrap();
    g.throughput(bytes(&up, 1));
    g.bench_function("upsample_bilinear_fwd/b16_32x32_x4", |b| {
        b.iter(|| ops::upsample::upsample_bilinear_fwd(black_box(&lr), 4).unwrap())
    });
    g.bench_function("upsample_bilinear_bwd/b16_32x32_x4", |b| {
        b.iter(|| ops::upsample::upsample_bilinear_bwd(black_box(&up), 4).unwrap())
    });

    let f = rand(&[16, 128, 32, 32], 3);
    let (gamma, beta) = (vec![1.0f32; 128], vec![0.0f32; 128]);
    let (mut rm, mut rv) = (vec![0.0f32; 128], vec![1.0f32; 128]);
    g.throughput(bytes(&f, 3));
    g.bench_function("batchnorm_train_fwd/b16_128ch_32x32", |b| {
        b.iter(|| {
            ops::batchnorm::batchnorm_train_fwd(
                &f,
                &Slice::Cpu(&gamma),
                &Slice::Cpu(&beta),
                1e-5,
                0.1,
                &mut SliceMut::Cpu(&mut rm),
                &mut SliceMut::Cpu(&mut rv),
            )
            .unwrap()
        })
    });
    let (_, saved) = ops::batchnorm::batchnorm_train_fwd(
        &f,
        &Slice::Cpu(&gamma),
        &Slice::Cpu(&beta),
        1e-5,
        0.1,
        &mut SliceMut::Cpu(&mut rm),
        &mut SliceMut::Cpu(&mut rv),
    )
    .unwrap();
    let (mut dg, mut db) = (vec![0.0f32; 128], vec![0.0f32; 128]);
    g.bench_function("batchnorm_train_bwd/b16_128ch_32x32", |b| {
        b.iter(|| {
            ops::batchnorm::batchnorm_train_bwd(
                &f,
                &f,
                &Slice::Cpu(&gamma),
                &saved,
                Some(&mut SliceMut::Cpu(&mut dg)),
                Some(&mut SliceMut::Cpu(&mut db)),
            )
            .unwrap()
        })
    });

    let v = rand(&[16, 64, 128, 128], 4);
    g.throughput(bytes(&v, 1));
    g.bench_function("maxpool2_fwd/b16_64ch_128x128", |b| {
        b.iter(|| ops::pool2d::maxpool2_fwd(black_box(&v)).unwrap())
    });
    let pooled = ops::pool2d::maxpool2_fwd(&v).unwrap();
    g.bench_function("maxpool2_bwd/b16_64ch_128x128", |b| {
        b.iter(|| ops::pool2d::maxpool2_bwd(&v, black_box(&pooled)).unwrap())
    });

    let h = rand(&[16, 8192], 5);
    let w = rand(&[100, 8192], 6).to_vec().unwrap();
    g.throughput(Throughput::Elements(2 * 16 * 8192 * 100));
    g.bench_function("linear_fwd/b16_8192to100", |b| {
        b.iter(|| ops::linear::linear_fwd(black_box(&h), &Slice::Cpu(&w), None, 100).unwrap())
    });

    let (p, t) = (rand(&[16, 3, 128, 128], 7), rand(&[16, 3, 128, 128], 8));
    g.throughput(bytes(&p, 3));
    g.bench_function("l1_mean/b16_3x128x128", |b| {
        b.iter(|| ops::loss::l1_mean(black_box(&p), &t, 1.0).unwrap())
    });
    g.bench_function("mse_mean/b16_3x128x128", |b| {
        b.iter(|| ops::loss::mse_mean(black_box(&p), &t, 1.0).unwrap())
    });

    let n = 1_517_571; // MSRResNet nf 64 nb 16 x4
    let grad = rand(&[n], 9).to_vec().unwrap();
    let (mut prm, mut m, mut vv) = (rand(&[n], 10).to_vec().unwrap(), vec![0f32; n], vec![0f32; n]);
    g.throughput(Throughput::Bytes((n * 4 * 7) as u64));
    let mut step = 0;
    g.bench_function("adam_step/msrresnet_paper_params", |b| {
        b.iter(|| {
            step += 1;
            let h = AdamStep { lr: 2e-4, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.0, step };
            ops::optim::adam_step(
                &h,
                &mut SliceMut::Cpu(&mut prm),
                &Slice::Cpu(&grad),
                &mut SliceMut::Cpu(&mut m),
                &mut SliceMut::Cpu(&mut vv),
            )
            .unwrap()
        })
    });
    let mut ema = prm.clone();
    g.throughput(Throughput::Bytes((n * 4 * 3) as u64));
    g.bench_function("ema/msrresnet_paper_params", |b| {
        b.iter(|| ops::optim::ema(0.999, &Slice::Cpu(&prm), &mut SliceMut::Cpu(&mut ema)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, ops_cpu);
criterion_main!(benches);
