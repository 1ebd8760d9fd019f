//! One MSRResNet training step on the CPU (forward, L1 loss, backward, Adam), batch 16, LR 32x32,
//! x4, at the paper's size (nf 64, nb 16) and a CPU size (nf 32, nb 8). benches/peers/train_step.sh
//! runs the same step in PyTorch in the same go.

use criterion::{criterion_group, criterion_main, Criterion};
use ddr_engine::nn::models::Arch;
use ddr_engine::nn::{Pass, Want};
use ddr_engine::ops::optim::AdamStep;
use ddr_engine::ops::{self};
use ddr_engine::{Device, Rng, Tensor};
use std::time::Duration;

fn step(c: &mut Criterion) {
    ddr_engine::device::cpu::set_threads(0).unwrap();
    let dev = Device::Cpu;
    let mut g = c.benchmark_group("train_step_cpu");
    g.sample_size(10).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(10));
    for (nf, nb) in [(64, 16), (32, 8)] {
        let arch = Arch::Msrresnet { nf, nb, scale: 4, global_residual: true };
        let (mut net, mut p) = arch.build(&dev, 0).unwrap();
        let n = p.len();
        let (mut m, mut v) = (Tensor::zeros(&[n], &dev).unwrap(), Tensor::zeros(&[n], &dev).unwrap());
        let mut rng = Rng::new(1);
        let lr = Tensor::from_vec(
            (0..16 * 3 * 32 * 32).map(|_| rng.uniform_f32()).collect(),
            &[16, 3, 32, 32],
            &dev,
        )
        .unwrap();
        let hr = Tensor::from_vec(
            (0..16 * 3 * 128 * 128).map(|_| rng.uniform_f32()).collect(),
            &[16, 3, 128, 128],
            &dev,
        )
        .unwrap();
        let mut t = 0;
        g.bench_function(format!("msrresnet_nf{nf}_nb{nb}_x4_b16_lr32"), |b| {
            b.iter(|| {
                t += 1;
                let y = net.forward(&mut p, &lr, Pass::TRAIN).unwrap();
                let (_, dy) = ops::loss::l1_mean(&y, &hr, 1.0).unwrap();
                p.zero_grads().unwrap();
                net.backward(&mut p, &dy, Want::PARAMS).unwrap();
                let h = AdamStep { lr: 2e-4, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.0, step: t };
                p.adam_step(&h, &mut m, &mut v).unwrap();
            })
        });
    }
    g.finish();
}

criterion_group!(benches, step);
criterion_main!(benches);
