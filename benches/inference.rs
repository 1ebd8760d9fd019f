//! Inference (eval forward) of the paper's MSRResNet (nf 64, nb 16, x4, wGR) on one RGB image of
//! 128x128 and of 512x512 LR pixels, on the CPU. benches/peers/inference.sh runs PyTorch on the
//! same in the same go.

use criterion::{criterion_group, criterion_main, Criterion};
use ddr_engine::nn::models::Arch;
use ddr_engine::nn::Pass;
use ddr_engine::{Device, Rng, Tensor};
use std::time::Duration;

fn inference(c: &mut Criterion) {
    ddr_engine::device::cpu::set_threads(0).unwrap();
    let dev = Device::Cpu;
    let (mut net, mut p) =
        Arch::Msrresnet { nf: 64, nb: 16, scale: 4, global_residual: true }.build(&dev, 0).unwrap();
    let mut g = c.benchmark_group("inference_cpu");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for side in [128usize, 512] {
        let mut rng = Rng::new(side as u64);
        let x = Tensor::from_vec(
            (0..3 * side * side).map(|_| rng.uniform_f32()).collect(),
            &[1, 3, side, side],
            &dev,
        )
        .unwrap();
        g.bench_function(format!("msrresnet_nf64_nb16_x4/{side}x{side}"), |b| {
            b.iter(|| net.forward(&mut p, &x, Pass::EVAL).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, inference);
criterion_main!(benches);
