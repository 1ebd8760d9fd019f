//! Training learns: every trainable SR architecture, from its seeded initialisation, overfits
//! one fixed batch with the trainer's own pieces (forward, L1 loss, backward, Adam). A broken
//! gradient, a sign flip in the update or a layer cut from the graph stops the loss falling.
//! SRGAN's discriminator overfits one real/fake batch, and the generator's combined gradient
//! (pixel + perceptual + adversarial) agrees with finite differences of its loss.

mod common;

use common::cuda_devices;
use ddr_engine::nn::models::Arch;
use ddr_engine::nn::{Pass, Want};
use ddr_engine::ops::optim::AdamStep;
use ddr_engine::train::config::PixelLoss;
use ddr_engine::train::gan::{pixel_loss, Gan};
use ddr_engine::train::TrainConfig;
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

/// SRGAN's two networks as `train` builds them: a `[gan]` run of MSRResNet x2 on 16x16 LR
/// patches (the discriminator judges 32x32), small random VGG19 for the perceptual term.
fn gan(pixel: f32, perceptual: f32, adversarial: f32) -> Gan {
    let text = format!(
        r#"
[model]
kind = "msrresnet"
nf = 8
nb = 1
scale = 2
global_residual = true
[data]
train = "unused.pack"
lr_patch = 16
batch = 2
[optim]
lr = 1e-4
[run]
iterations = 1
[gan]
pixel_weight = {pixel}
perceptual_weight = {perceptual}
gan_weight = {adversarial}
d_nf = 8
vgg19_random = true
vgg19_random_widths = [8, 8, 16, 16, 16]
"#
    );
    let cfg: TrainConfig = toml::from_str(&text).unwrap();
    Gan::new(&cfg, &Device::Cpu).unwrap().expect("a [gan] section")
}

fn images(seed: u64, n: usize, side: usize) -> Tensor {
    let mut rng = Rng::new(seed);
    let len = n * 3 * side * side;
    Tensor::from_vec((0..len).map(|_| rng.uniform_f32()).collect(), &[n, 3, side, side], &Device::Cpu)
        .unwrap()
}

#[test]
fn the_discriminator_overfits_one_batch() {
    // Real: random images; fake: the same images averaged over 4x4 blocks, blocky and smooth as
    // an untrained generator's output. (An affine change of the real images would not do: each
    // batch passes D's BatchNorm on its own statistics, which undo it.)
    let mut g = gan(1.0, 0.0, 1.0);
    let hr = images(1, 2, 32);
    let real = hr.to_vec().unwrap();
    let fake: Vec<f32> = (0..real.len())
        .map(|i| {
            let (plane, y, x) = (i / 1024, i / 32 % 32, i % 32);
            let (y0, x0) = (y / 4 * 4, x / 4 * 4);
            (0..16).map(|k| real[plane * 1024 + (y0 + k / 4) * 32 + x0 + k % 4]).sum::<f32>() / 16.0
        })
        .collect();
    let sr = Tensor::from_vec(fake, &[2, 3, 32, 32], &Device::Cpu).unwrap();
    let loss = |t: &[(&str, f64)]| t.iter().filter(|x| x.0.starts_with("l_d")).map(|x| x.1).sum::<f64>();
    let mut first = None;
    let mut last = f64::NAN;
    for step in 1..=100 {
        let h = AdamStep { lr: 1e-3, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.0, step };
        last = loss(&g.discriminator_step(&sr, &hr, &h).unwrap());
        first.get_or_insert(last);
    }
    let first = first.unwrap();
    eprintln!("discriminator: BCE real + fake {first:.4} -> {last:.4}");
    assert!(last < first / 10.0, "BCE real + fake {first:.4} -> {last:.4} in 100 steps");
}

/// The generator's loss along a direction v: (L(sr + eps v) - L(sr - eps v)) / (2 eps), and
/// the analytic <dL/dsr, v> of the same loss.
fn directional(g: &mut Gan, sr: &[f32], hr: &Tensor, v: &[f32], eps: f32) -> (f64, f64) {
    let at = |t: f32| {
        let x: Vec<f32> = sr.iter().zip(v).map(|(a, b)| a + t * b).collect();
        Tensor::from_vec(x, hr.shape(), &Device::Cpu).unwrap()
    };
    let (_, _, grad) = g.generator_loss(PixelLoss::L1, &at(0.0), hr).unwrap();
    let analytic: f64 = grad.to_vec().unwrap().iter().zip(v).map(|(a, b)| (a * b) as f64).sum();
    let plus = g.generator_loss(PixelLoss::L1, &at(eps), hr).unwrap().0;
    let minus = g.generator_loss(PixelLoss::L1, &at(-eps), hr).unwrap().0;
    ((plus - minus) / (2.0 * eps as f64), analytic)
}

#[test]
fn the_generators_combined_gradient_matches_finite_differences() {
    // Each term alone at weight 1, then SRGAN's mix (1e-2, 1, 5e-3). The perceptual and
    // adversarial terms pass ReLUs, max pools and (D) BatchNorm over two samples at 1x1, which
    // curve sharply: the central difference of the adversarial term is 2.36 at a step of L2 norm
    // 3e-3, 2.48 at 3e-4, against a gradient of 2.47. So the steps are small (norm 3e-4 over 6144
    // pixels), taken along directions where the loss changes most, for a signal well above f32
    // rounding: the gradient itself, and the gradient mixed with a random sign pattern of the
    // same norm (which a gradient right only in magnitude fails). Tolerance 2%.
    let hr = images(2, 2, 32);
    let mut rng = Rng::new(4);
    // sr = hr moved by 0.1 to 0.3 either way: no L1 kink within the step.
    let sr: Vec<f32> = hr
        .to_vec()
        .unwrap()
        .iter()
        .map(|h| h + if rng.bernoulli(0.5) { 1.0 } else { -1.0 } * rng.range(0.1, 0.3) as f32)
        .collect();
    let unit = |v: Vec<f32>| {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / norm).collect::<Vec<f32>>()
    };
    for (pixel, perceptual, adversarial) in
        [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (1e-2, 1.0, 5e-3)]
    {
        let mut g = gan(pixel, perceptual, adversarial);
        let sr_t = Tensor::from_vec(sr.clone(), hr.shape(), &Device::Cpu).unwrap();
        let grad = unit(g.generator_loss(PixelLoss::L1, &sr_t, &hr).unwrap().2.to_vec().unwrap());
        let signs = unit((0..sr.len()).map(|_| if rng.bernoulli(0.5) { 1.0 } else { -1.0 }).collect());
        let mixed = unit(grad.iter().zip(&signs).map(|(a, b)| a + b).collect());
        for (name, v) in [("gradient", &grad), ("mixed", &mixed)] {
            let (numeric, analytic) = directional(&mut g, &sr, &hr, v, 3e-4);
            eprintln!("weights ({pixel}, {perceptual}, {adversarial}), {name}: numeric {numeric:.6e}, analytic {analytic:.6e}");
            assert!(
                (numeric - analytic).abs() <= 0.02 * analytic.abs(),
                "weights ({pixel}, {perceptual}, {adversarial}), along the {name}: finite differences {numeric:.6e}, gradient {analytic:.6e}"
            );
        }
    }
}
