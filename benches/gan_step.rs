//! One full SRGAN training step on the CPU, as `train` runs it with a `[gan]` section: G forward,
//! pixel L1 + VGG19 conv5_4 perceptual (full torchvision widths, random weights: the cost does
//! not depend on them) + GAN loss through D, G backward and Adam, then D on real and fake (BatchNorm
//! in train mode) and D's Adam. D: BasicSR's VGG-style, nf 64, on 128x128 HR patches.
//! Sizes: the paper's generator (MSRResNet nf 64, nb 16, x4) at batch 16, LR 32, and a quick one
//! (nf 32, nb 8) at batch 4. benches/peers/gan_step.sh runs the same steps in PyTorch.

use criterion::{criterion_group, criterion_main, Criterion};
use ddr_engine::nn::{Pass, Want};
use ddr_engine::ops::optim::AdamStep;
use ddr_engine::train::gan::Gan;
use ddr_engine::train::TrainConfig;
use ddr_engine::{Device, Rng, Tensor};
use std::time::Duration;

/// The workloads: (generator nf, nb, batch).
const SIZES: [(usize, usize, usize); 2] = [(64, 16, 16), (32, 8, 4)];

fn config(nf: usize, nb: usize, batch: usize) -> TrainConfig {
    let text = format!(
        r#"
[model]
kind = "msrresnet"
nf = {nf}
nb = {nb}
scale = 4
global_residual = true
[data]
train = "unused.pack"
lr_patch = 32
batch = {batch}
[optim]
lr = 1e-4
[gan]
vgg19_random = true
[run]
iterations = 1
"#
    );
    let cfg: TrainConfig = toml::from_str(&text).unwrap();
    cfg.validate().unwrap();
    cfg
}

fn random(shape: &[usize], rng: &mut Rng, dev: &Device) -> Tensor {
    let n = shape.iter().product();
    Tensor::from_vec((0..n).map(|_| rng.uniform_f32()).collect(), shape, dev).unwrap()
}

fn step(c: &mut Criterion) {
    ddr_engine::device::cpu::set_threads(0).unwrap();
    let dev = Device::Cpu;
    let mut g = c.benchmark_group("gan_step_cpu");
    g.sample_size(10).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(20));
    for (nf, nb, batch) in SIZES {
        let cfg = config(nf, nb, batch);
        let mut gan = Gan::new(&cfg, &dev).unwrap().unwrap();
        let (mut net, mut p) = cfg.model.build(&dev, 0).unwrap();
        let n = p.len();
        let (mut m, mut v) = (Tensor::zeros(&[n], &dev).unwrap(), Tensor::zeros(&[n], &dev).unwrap());
        let mut rng = Rng::new(1);
        let lr = random(&[batch, 3, 32, 32], &mut rng, &dev);
        let hr = random(&[batch, 3, 128, 128], &mut rng, &dev);
        let mut t = 0;
        g.bench_function(format!("srgan_nf{nf}_nb{nb}_x4_b{batch}_lr32"), |b| {
            b.iter(|| {
                t += 1;
                let h = AdamStep { lr: 1e-4, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.0, step: t };
                let y = net.forward(&mut p, &lr, Pass::TRAIN).unwrap();
                let (_, _, dy) = gan.generator_loss(cfg.optim.loss, &y, &hr).unwrap();
                p.zero_grads().unwrap();
                net.backward(&mut p, &dy, Want::PARAMS).unwrap();
                p.adam_step(&h, &mut m, &mut v).unwrap();
                gan.discriminator_step(&y, &hr, &h).unwrap();
            })
        });
    }
    g.finish();
}

criterion_group!(benches, step);
criterion_main!(benches);
