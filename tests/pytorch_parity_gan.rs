//! SRGAN's networks against PyTorch on committed fixtures (tests/fixtures/gan/make_fixtures.py):
//! BasicSR's VGG-style discriminator with BatchNorm in train mode (logits, running statistics,
//! BCE loss, input and parameter gradients) and a reduced-width VGG19 loaded from a
//! torchvision-keyed file (conv5_4 features, perceptual L1 loss and its input gradient).
//!
//! Tolerances: values within 1e-5 + 1e-4 * max|torch| of their tensor, gradients within
//! 1e-5 + 1e-3 * max|torch| per tensor (f32 reductions summed in another order; BatchNorm's
//! backward subtracts means of products, which loses a few more bits than a convolution).

mod common;

use common::devices;
use ddr_engine::nn::models::discriminator::DiscSpec;
use ddr_engine::nn::models::vgg19::Vgg19Features;
use ddr_engine::nn::{Layer, Pass, Want};
use ddr_engine::ops::loss::bce_logits_mean;
use ddr_engine::{Device, Tensor};
use safetensors::SafeTensors;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gan").join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap()
}

fn tensor(st: &SafeTensors, name: &str) -> (Vec<f32>, Vec<usize>) {
    let t = st.tensor(name).unwrap_or_else(|_| panic!("fixture has no {name}"));
    let v = t.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    (v, t.shape().to_vec())
}

/// Asserts `|ours - torch| <= 1e-5 + rel * max|torch|` elementwise.
fn close(what: &str, ours: &[f32], torch: &[f32], rel: f32) {
    assert_eq!(ours.len(), torch.len(), "{what}: lengths differ");
    let scale = torch.iter().fold(0f32, |m, v| m.max(v.abs()));
    let d = ours.iter().zip(torch).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(d <= 1e-5 + rel * scale, "{what}: differs from PyTorch by {d:e} (max |torch| {scale:e})");
}

#[test]
fn discriminator_in_train_mode_matches_pytorch() {
    for dev in devices("discriminator_in_train_mode_matches_pytorch") {
        let (mut d, mut p) = DiscSpec { nf: 4, input: 32 }.build(&dev, 0).unwrap();
        let (wb, iob) = (read("disc_nf4_in32.safetensors"), read("disc_nf4_in32_io.safetensors"));
        let (w, io) = (SafeTensors::deserialize(&wb).unwrap(), SafeTensors::deserialize(&iob).unwrap());
        let mut values = vec![0f32; p.len()];
        for s in p.specs() {
            let (v, shape) = tensor(&w, &s.name);
            assert_eq!(shape, s.shape, "{}", s.name);
            values[s.range()].copy_from_slice(&v);
        }
        let mut buffers = vec![0f32; p.buffers.numel()];
        for s in p.buffer_specs() {
            buffers[s.range()].copy_from_slice(&tensor(&w, &s.name).0);
        }
        p.load_values(&values).unwrap();
        p.load_buffers(&buffers).unwrap();

        let (x, xs) = tensor(&io, "input");
        let logits = d.forward(&mut p, &Tensor::from_vec(x, &xs, &dev).unwrap(), Pass::TRAIN).unwrap();
        assert_eq!(logits.shape(), [4, 1]);
        close(&format!("logits on {dev}"), &logits.to_vec().unwrap(), &tensor(&io, "output").0, 1e-4);
        let after = p.buffers.to_vec().unwrap();
        for s in p.buffer_specs() {
            close(
                &format!("{} on {dev}", s.name),
                &after[s.range()],
                &tensor(&io, &format!("after.{}", s.name)).0,
                1e-4,
            );
        }

        let labels = Tensor::from_vec(vec![1.0, 0.0, 1.0, 0.0], &[4, 1], &dev).unwrap();
        let (loss, dlogits) = bce_logits_mean(&logits, &labels, 1.0).unwrap();
        let want = tensor(&io, "loss").0[0] as f64;
        assert!((loss - want).abs() <= 1e-5 * want.abs(), "loss on {dev}: {loss} vs {want}");
        p.zero_grads().unwrap();
        let dx = d.backward(&mut p, &dlogits, Want::ALL).unwrap().unwrap();
        close(&format!("input gradient on {dev}"), &dx.to_vec().unwrap(), &tensor(&io, "grad_input").0, 1e-3);
        let grads = p.grads.to_vec().unwrap();
        for s in p.specs() {
            close(
                &format!("grad {} on {dev}", s.name),
                &grads[s.range()],
                &tensor(&io, &format!("grad.{}", s.name)).0,
                1e-3,
            );
        }
    }
}

#[test]
fn reduced_vgg19_matches_pytorch_at_conv5_4_and_its_perceptual_gradient() {
    for dev in devices("reduced_vgg19_matches_pytorch_at_conv5_4_and_its_perceptual_gradient") {
        let (mut vgg, mut p) = Vgg19Features::load(&fixture("vgg19_w8.safetensors"), &dev).unwrap();
        assert_eq!(vgg.widths, [8, 16, 32, 32, 32]);
        let iob = read("vgg19_w8_io.safetensors");
        let io = SafeTensors::deserialize(&iob).unwrap();
        let (x, xs) = tensor(&io, "x");
        let (hr, hs) = tensor(&io, "hr");
        let (x, hr) = (Tensor::from_vec(x, &xs, &dev).unwrap(), Tensor::from_vec(hr, &hs, &dev).unwrap());
        let feat = vgg.forward(&mut p, &x, Pass::EVAL).unwrap();
        assert_eq!(feat.shape(), [2, 32, 2, 2]);
        close(&format!("conv5_4 on {dev}"), &feat.to_vec().unwrap(), &tensor(&io, "conv5_4").0, 1e-4);

        let (loss, dx) = vgg.perceptual_l1(&mut p, &x, &hr, 1.0).unwrap();
        let want = tensor(&io, "loss").0[0] as f64;
        assert!((loss - want).abs() <= 1e-4 * want.abs(), "perceptual loss on {dev}: {loss} vs {want}");
        close(&format!("input gradient on {dev}"), &dx.to_vec().unwrap(), &tensor(&io, "grad_x").0, 1e-3);
    }
}

#[test]
fn vgg19_files_with_wrong_keys_or_shapes_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.safetensors");
    let data = vec![0u8; 8 * 3 * 3 * 3 * 4];
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![8, 3, 3, 3], &data).unwrap();
    std::fs::write(&path, safetensors::serialize(vec![("features.0.weight", view)], None).unwrap()).unwrap();
    let e = format!("{:#}", Vgg19Features::load(&path, &Device::Cpu).err().unwrap());
    assert!(e.contains("no tensor features.2.weight") && e.contains("torchvision"), "{e}");
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![8, 3, 3, 3], &data).unwrap();
    std::fs::write(&path, safetensors::serialize(vec![("conv1_1.weight", view)], None).unwrap()).unwrap();
    let e = format!("{:#}", Vgg19Features::load(&path, &Device::Cpu).err().unwrap());
    assert!(e.contains("features.0.weight"), "{e}");
}
