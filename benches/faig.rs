//! The cost of FAIG on one image against the forward and backward passes it is made of: the
//! integral over `STEPS` points for two degradations is 2 x STEPS forward+backward passes plus
//! the interpolation of the flat parameter buffer at each point. The goal is at most 1.1x.
//! benches/peers/faig.sh runs the reference procedure in PyTorch on the same workload.

use criterion::{criterion_group, criterion_main, Criterion};
use ddr_engine::faig::{integrated_gradients, ParamPath, PathRule};
use ddr_engine::nn::models::Arch;
use ddr_engine::nn::{Pass, Want};
use ddr_engine::{ops, Device, Rng, Tensor};
use std::time::Duration;

const STEPS: usize = 10;

fn faig(c: &mut Criterion) {
    ddr_engine::device::cpu::set_threads(0).unwrap();
    let dev = Device::Cpu;
    let arch = Arch::Msrresnet { nf: 32, nb: 8, scale: 2, global_residual: true };
    let (mut net, mut p) = arch.build(&dev, 0).unwrap();
    let base = p.values.deep_clone().unwrap();
    let mut rng = Rng::new(1);
    let target = Tensor::from_vec(
        base.to_vec().unwrap().iter().map(|v| v + 0.01 * rng.normal() as f32).collect(),
        &[p.len()],
        &dev,
    )
    .unwrap();
    let (h, w) = (64, 64);
    let x =
        Tensor::from_vec((0..3 * h * w).map(|_| rng.uniform_f32()).collect(), &[1, 3, h, w], &dev).unwrap();
    let y = Tensor::from_vec(
        (0..3 * 4 * h * w).map(|_| rng.uniform_f32()).collect(),
        &[1, 3, 2 * h, 2 * w],
        &dev,
    )
    .unwrap();
    let path = ParamPath { base: &base, target: &target, steps: STEPS, rule: PathRule::Reference };
    let mut g = c.benchmark_group("faig_cpu");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.bench_function(format!("msrresnet_nf32_nb8_x2_lr64/faig_{STEPS}steps_x2deg"), |b| {
        b.iter(|| {
            for _ in 0..2 {
                integrated_gradients(net.as_mut(), &mut p, &path, &x, &y).unwrap();
            }
        })
    });
    p.set_values(target.clone()).unwrap();
    g.bench_function(format!("msrresnet_nf32_nb8_x2_lr64/plain_{}_fwd_bwd", 2 * STEPS), |b| {
        b.iter(|| {
            for _ in 0..2 * STEPS {
                let out = net.forward(&mut p, &x, Pass::EVAL_GRAD).unwrap();
                let (_, dy) = ops::loss::sse_sum(&out, &y, 1.0).unwrap();
                net.backward(&mut p, &dy, Want::PARAMS).unwrap();
            }
        })
    });
    g.finish();
}

criterion_group!(benches, faig);
criterion_main!(benches);
