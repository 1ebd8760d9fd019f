//! ddr-engine's MSRResNet against PyTorch on committed fixtures
//! (tests/fixtures/msrresnet/make_fixtures.py): inference output within 1e-4 max abs, and one
//! training step's loss and parameter gradients within stated tolerances, with and without the
//! global residual.

mod common;

use common::devices;
use common::torch_fixture::{assert_grads_match, max_abs_diff, tensor};
use ddr_engine::nn::checkpoint::{self, WeightSet};
use ddr_engine::nn::models::Arch;
use ddr_engine::nn::{Pass, Want};
use ddr_engine::ops::loss::l1_mean;
use ddr_engine::{Device, Tensor};
use safetensors::SafeTensors;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/msrresnet").join(name)
}

fn run(tag: &str) {
    for dev in devices(&format!("msrresnet {tag}")) {
        run_on(tag, &dev);
    }
}

fn run_on(tag: &str, dev: &Device) {
    let ck = checkpoint::load(&fixture(&format!("msrresnet_x4_{tag}.safetensors")), None).unwrap();
    assert_eq!(ck.arch, Arch::Msrresnet { nf: 8, nb: 2, scale: 4, global_residual: tag == "gr" });
    let bytes = std::fs::read(fixture(&format!("msrresnet_x4_{tag}_io.safetensors"))).unwrap();
    let io = SafeTensors::deserialize(&bytes).unwrap();
    let (mut net, mut p) = ck.arch.build(dev, 0).unwrap();
    p.load_values(ck.weights(WeightSet::Raw)).unwrap();

    let (x, xs) = tensor(&io, "input");
    let (want, _) = tensor(&io, "output");
    let y = net.forward(&mut p, &Tensor::from_vec(x, &xs, dev).unwrap(), Pass::EVAL).unwrap();
    let d = max_abs_diff(&y.to_vec().unwrap(), &want);
    assert!(d <= 1e-4, "{tag} on {dev}: inference differs from PyTorch by {d:e} (max abs)");

    let (lr, lrs) = tensor(&io, "lr");
    let (hr, hrs) = tensor(&io, "hr");
    let y = net.forward(&mut p, &Tensor::from_vec(lr, &lrs, dev).unwrap(), Pass::TRAIN).unwrap();
    let (loss, dy) = l1_mean(&y, &Tensor::from_vec(hr, &hrs, dev).unwrap(), 1.0).unwrap();
    let (want_loss, _) = tensor(&io, "loss");
    assert!(
        (loss - want_loss[0] as f64).abs() <= 1e-5 * want_loss[0].abs() as f64,
        "{tag} on {dev}: loss {loss} vs {}",
        want_loss[0]
    );
    p.zero_grads().unwrap();
    net.backward(&mut p, &dy, Want::PARAMS).unwrap();
    assert_grads_match(&format!("{tag} on {dev}"), &p, &io);
}

#[test]
fn msrresnet_with_global_residual_matches_pytorch() {
    run("gr");
}

#[test]
fn msrresnet_without_global_residual_matches_pytorch() {
    run("nogr");
}
