//! Training learns: every trainable SR architecture, from its seeded initialisation, overfits
//! one fixed batch with the trainer's own pieces (forward, L1 loss, backward, Adam). A broken
//! gradient, a sign flip in the update or a layer cut from the graph stops the loss falling.

mod common;

use common::cuda_devices;
use ddr_engine::nn::models::Arch;
use ddr_engine::nn::{Pass, Want};
use ddr_engine::ops::optim::AdamStep;
use ddr_engine::train::config::PixelLoss;
use ddr_engine::train::gan::pixel_loss;
use ddr_engine::{Device, Rng, Tensor};

/// The L1 loss before training and after `steps` Adam steps on one fixed batch of two images.
fn overfit(dev: &Device, arch: &Arch, steps: u64, rate: f32) -> (f64, f64) {
    let dev = dev.clone();
    let (mut net, mut p) = arch.build(&dev, 1).unwrap();
    let s = arch.scale();
    let (lr_side, n) = (8, 2);
    let mut rng = Rng::new(5);
    let mut random = |shape: &[usize]| {
        let len = shape.iter().product();
        Tensor::from_vec((0..len).map(|_| rng.uniform_f32()).collect(), shape, &dev).unwrap()
    };
    let x = random(&[n, 3, lr_side, lr_side]);
    // A mapping the network can learn and its initialisation does not already know: the
    // inverted colours, upscaled by repetition.
    let lr = x.to_vec().unwrap();
    let hs = lr_side * s;
    let hr: Vec<f32> = (0..n * 3 * hs * hs)
        .map(|i| {
            let (plane, r, c) = (i / (hs * hs), i / hs % hs, i % hs);
            1.0 - lr[plane * lr_side * lr_side + (r / s) * lr_side + c / s]
        })
        .collect();
    let hr = Tensor::from_vec(hr, &[n, 3, hs, hs], &dev).unwrap();
    let (mut m, mut v) = (Tensor::zeros(&[p.len()], &dev).unwrap(), Tensor::zeros(&[p.len()], &dev).unwrap());
    let mut first = None;
    let mut last = f64::NAN;
    for step in 1..=steps {
        let y = net.forward(&mut p, &x, Pass::TRAIN).unwrap();
        let (loss, dy) = pixel_loss(PixelLoss::L1, &y, &hr, 1.0).unwrap();
        first.get_or_insert(loss);
        last = loss;
        p.zero_grads().unwrap();
        net.backward(&mut p, &dy, Want::PARAMS).unwrap();
        let h = AdamStep { lr: rate, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.0, step };
        p.adam_step(&h, &mut m, &mut v).unwrap();
    }
    (first.unwrap(), last)
}

#[test]
fn every_architecture_overfits_one_batch() {
    // The plain 9-layer SRCNN-style net needs a smaller step than the residual MSRResNet.
    let archs = [
        (Arch::Msrresnet { nf: 8, nb: 1, scale: 2, global_residual: true }, 1e-2),
        (Arch::Msrresnet { nf: 8, nb: 1, scale: 3, global_residual: false }, 1e-2),
        (Arch::Msrresnet { nf: 8, nb: 2, scale: 4, global_residual: true }, 1e-2),
        (Arch::SrcnnStyle { scale: 2 }, 5e-4),
    ];
    for (arch, rate) in &archs {
        let (before, after) = overfit(&Device::Cpu, arch, 400, *rate);
        eprintln!("{}: L1 {before:.4} -> {after:.4}", arch.describe());
        assert!(after < before / 5.0, "{}: L1 {before:.4} -> {after:.4} in 400 steps", arch.describe());
    }
}

/// The same on the CUDA devices (the emulated one is slow: one architecture, fewer steps; the CPU
/// run above halves its loss well within 100 steps too).
#[test]
fn training_on_a_cuda_device_learns() {
    for dev in cuda_devices("training_on_a_cuda_device_learns") {
        let arch = Arch::Msrresnet { nf: 8, nb: 1, scale: 2, global_residual: true };
        let (before, after) = overfit(&Device::Cuda(dev.clone()), &arch, 100, 1e-2);
        eprintln!("{} on {}: L1 {before:.4} -> {after:.4}", arch.describe(), dev.name());
        assert!(
            after < before / 2.0,
            "{} on {}: L1 {before:.4} -> {after:.4} in 100 steps",
            arch.describe(),
            dev.name()
        );
    }
}
