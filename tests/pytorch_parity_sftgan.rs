//! ddr-engine's SFT-GAN generator and discriminator against PyTorch on committed fixtures
//! (tests/fixtures/sftgan/make_fixtures.py, the reference's SFT_Net and ACD_VGG_BN_96 at small
//! sizes): every key name and shape, inference, and one training step's loss and parameter
//! gradients, the condition network's and both discriminator heads' included.

mod common;

use common::devices;
use common::torch_fixture::{assert_grads_match, load_weights, max_abs, max_abs_diff, tensor};
use ddr_engine::nn::models::acd::AcdSpec;
use ddr_engine::nn::models::sftgan::{SftGenerator, SftSpec};
use ddr_engine::nn::{ParamBuilder, Pass, Want};
use ddr_engine::ops::loss::l1_mean;
use ddr_engine::{Device, Tensor};
use safetensors::SafeTensors;

const SPEC: SftSpec = SftSpec { nf: 8, nb: 2, cond_in: 3, cond_mid: 8, cond_nf: 4, cond_down: 4 };

fn input(st: &SafeTensors, name: &str, dev: &Device) -> Tensor {
    let (v, s) = tensor(st, name);
    Tensor::from_vec(v, &s, dev).unwrap()
}

#[test]
fn sft_generator_matches_pytorch() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sftgan/sft_small_io.safetensors");
    let bytes = std::fs::read(path).unwrap();
    let io = SafeTensors::deserialize(&bytes).unwrap();
    for dev in devices("sft_generator_matches_pytorch") {
        let mut pb = ParamBuilder::new();
        let mut net = SftGenerator::new(&mut pb, SPEC).unwrap();
        let mut p = pb.build(&dev, 0).unwrap();
        load_weights(&mut p, &io);

        let want = tensor(&io, "output").0;
        let y =
            net.forward(&mut p, &input(&io, "input", &dev), &input(&io, "cond", &dev), Pass::EVAL).unwrap();
        let d = max_abs_diff(&y.to_vec().unwrap(), &want);
        // Outputs reach |20| with these std-0.2 weights: 1e-5 relative to the largest.
        assert!(d <= 1e-5 * max_abs(&want), "inference on {dev} differs from PyTorch by {d:e} (max abs)");

        let y =
            net.forward(&mut p, &input(&io, "lr", &dev), &input(&io, "lr_cond", &dev), Pass::TRAIN).unwrap();
        let (loss, dy) = l1_mean(&y, &input(&io, "hr", &dev), 1.0).unwrap();
        let want_loss = tensor(&io, "loss").0[0] as f64;
        assert!((loss - want_loss).abs() <= 1e-5 * want_loss.abs(), "loss on {dev}: {loss} vs {want_loss}");
        p.zero_grads().unwrap();
        assert!(net.backward(&mut p, &dy, Want::PARAMS).unwrap().is_none());
        assert_grads_match(&format!("{dev}"), &p, &io);
    }
}

#[test]
fn condition_maps_of_the_wrong_size_are_refused() {
    let dev = Device::Cpu;
    let mut pb = ParamBuilder::new();
    let mut net = SftGenerator::new(&mut pb, SPEC).unwrap();
    let mut p = pb.build(&dev, 0).unwrap();
    let x = Tensor::zeros(&[1, 3, 6, 5], &dev).unwrap();
    let cond = Tensor::zeros(&[1, 3, 6, 5], &dev).unwrap();
    let e = net.forward(&mut p, &x, &cond, Pass::EVAL).unwrap_err().to_string();
    assert!(e.contains("[1, 3, 24, 20]"), "{e}");
    let bad = SftSpec { cond_down: 0, ..SPEC };
    assert!(SftGenerator::new(&mut ParamBuilder::new(), bad).is_err());
}

#[test]
fn acd_discriminator_matches_pytorch() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sftgan/acd_small_io.safetensors");
    let bytes = std::fs::read(path).unwrap();
    let io = SafeTensors::deserialize(&bytes).unwrap();
    for dev in devices("acd_discriminator_matches_pytorch") {
        let (mut d, mut p) = AcdSpec { nf: 4, input: 32, classes: 8 }.build(&dev, 0).unwrap();
        load_weights(&mut p, &io);

        // Training mode (batch statistics), both heads.
        let (gan, cls) = d.forward_heads(&mut p, &input(&io, "input", &dev), Pass::TRAIN).unwrap();
        for (name, got) in [("gan", &gan), ("cls", &cls)] {
            let want = tensor(&io, name).0;
            let diff = max_abs_diff(&got.to_vec().unwrap(), &want);
            assert!(diff <= 1e-4 * max_abs(&want).max(1.0), "{name} logits on {dev} differ by {diff:e}");
        }
        let buffers = p.buffers.to_vec().unwrap();
        for s in p.buffer_specs() {
            let want = tensor(&io, &format!("after.{}", s.name)).0;
            let diff = max_abs_diff(&buffers[s.range()], &want);
            assert!(diff <= 1e-5 * max_abs(&want).max(1.0), "{} on {dev} differs by {diff:e}", s.name);
        }
        p.zero_grads().unwrap();
        let dx = d
            .backward_heads(&mut p, &input(&io, "dgan", &dev), Some(&input(&io, "dcls", &dev)), Want::ALL)
            .unwrap()
            .expect("an input gradient");
        let want = tensor(&io, "grad_input").0;
        let diff = max_abs_diff(&dx.to_vec().unwrap(), &want);
        assert!(diff <= 1e-5 + 1e-3 * max_abs(&want), "input gradient on {dev} differs by {diff:e}");
        assert_grads_match(&format!("{dev}"), &p, &io);
    }
}
