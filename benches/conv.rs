//! The CPU conv workloads of MSRResNet, timed on their own (CUDA kernels have their own runner,
//! benches/gpu.rs). benches/peers/conv.sh runs the same workloads in PyTorch in the same go and
//! reports the ratio.
//!
//! - conv3x3_64to64_b16_32x32: a residual-block conv at LR resolution;
//! - conv3x3_64to256_ps_b16_64x64: the second upsampling conv followed by PixelShuffle(2).
//!
//! Threads: RAYON_NUM_THREADS (default: one per core).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ddr_engine::nn::layers::{Conv2d, PixelShuffle};
use ddr_engine::nn::{Init, Layer, ParamBuilder, Params, Pass, Want};
use ddr_engine::ops::conv2d::Conv2dSpec;
use ddr_engine::{Device, Rng, Tensor};
use std::time::Duration;

struct Workload {
    name: &'static str,
    batch: usize,
    size: usize,
    c_in: usize,
    c_out: usize,
    shuffle: bool,
}

const WORKLOADS: [Workload; 2] = [
    Workload { name: "conv3x3_64to64_b16_32x32", batch: 16, size: 32, c_in: 64, c_out: 64, shuffle: false },
    Workload {
        name: "conv3x3_64to256_ps_b16_64x64",
        batch: 16,
        size: 64,
        c_in: 64,
        c_out: 256,
        shuffle: true,
    },
];

fn setup(w: &Workload) -> (Conv2d, Params, Tensor) {
    let mut pb = ParamBuilder::new();
    let spec = Conv2dSpec { c_in: w.c_in, c_out: w.c_out, k: 3, stride: 1, pad: 1 };
    let conv = Conv2d::new(&mut pb, spec, true, Init::kaiming(1.0));
    let p = pb.build(&Device::Cpu, 1).unwrap();
    let mut rng = Rng::new(2);
    let n = w.batch * w.c_in * w.size * w.size;
    let x: Vec<f32> = (0..n).map(|_| rng.uniform_f32() - 0.5).collect();
    (conv, p, Tensor::from_vec(x, &[w.batch, w.c_in, w.size, w.size], &Device::Cpu).unwrap())
}

fn conv_cpu(c: &mut Criterion) {
    ddr_engine::device::cpu::set_threads(0).unwrap();
    let mut g = c.benchmark_group("conv_cpu");
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    for w in &WORKLOADS {
        let (mut conv, mut p, x) = setup(w);
        let mut ps = PixelShuffle { r: 2 };
        let flop = 2.0 * (w.batch * w.c_out * w.size * w.size * w.c_in * 9) as f64;
        g.throughput(Throughput::Elements(flop as u64));
        g.bench_function(format!("{}/fwd", w.name), |b| {
            b.iter(|| {
                let y = conv.forward(&mut p, &x, Pass::EVAL).unwrap();
                if w.shuffle {
                    ps.forward(&mut p, &y, Pass::EVAL).unwrap();
                }
            })
        });
        g.throughput(Throughput::Elements(3 * flop as u64));
        g.bench_function(format!("{}/fwd_bwd", w.name), |b| {
            b.iter(|| {
                let mut y = conv.forward(&mut p, &x, Pass::TRAIN).unwrap();
                if w.shuffle {
                    y = ps.forward(&mut p, &y, Pass::TRAIN).unwrap();
                }
                let mut dy = y.clone();
                if w.shuffle {
                    dy = ps.backward(&mut p, &dy, Want::ALL).unwrap().unwrap();
                }
                conv.backward(&mut p, &dy, Want::ALL).unwrap();
            })
        });
    }
    g.finish();
}

criterion_group!(benches, conv_cpu);
criterion_main!(benches);
