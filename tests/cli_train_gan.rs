//! `ddr-engine train` in GAN mode end to end with tiny networks on the built-in photos: every loss
//! term logged, G and D checkpointed, exact resumption, and clear refusals without VGG19 weights.

mod common;

use common::cli::{ddr, ok};
use ddr_engine::nn::checkpoint;
use std::path::{Path, PathBuf};

const MSE: &str = r#"
[model]
kind = "msrresnet"
nf = 8
nb = 1
scale = 4
global_residual = true

[data]
train = "PACK"
lr_patch = 8
batch = 2
workers = 1

[run]
iterations = 2
"#;

/// HR patches of 32 for a discriminator of width 4; G starts from the MSE run's model.
const GAN: &str = r#"
init_from = "INIT"

[optim]
lr = 1e-4

[gan]
d_nf = 4
vgg19_random_widths = [4, 8, 8, 8, 8]

[run]
iterations = 6
ckpt_every = 2
log_every = 1
"#;

/// A packed copy of the built-in photos, an MSE model, and a GAN config starting from it.
fn setup(dir: &Path) -> String {
    let pack = dir.join("builtin.pack");
    ok(ddr(&["data", "pack", "--builtin", "-o", pack.to_str().unwrap()]));
    let mse_cfg = dir.join("mse.toml");
    let mse = MSE.replace("PACK", pack.to_str().unwrap());
    std::fs::write(&mse_cfg, &mse).unwrap();
    let mse_out = dir.join("mse");
    ok(ddr(&["train", "--config", mse_cfg.to_str().unwrap(), "--out", mse_out.to_str().unwrap(), "--quiet"]));
    let init = mse_out.join("model.safetensors");
    let gan = GAN.replace("INIT", init.to_str().unwrap());
    // TOML tables must follow the top-level keys: the GAN text goes first.
    let text = format!("{gan}\n{}", mse.replace("[run]\niterations = 2\n", ""));
    let cfg = dir.join("gan.toml");
    std::fs::write(&cfg, text).unwrap();
    cfg.to_str().unwrap().to_string()
}

fn fixture_vgg() -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gan/vgg19_w8.safetensors");
    p.to_str().unwrap().to_string()
}

#[test]
fn a_gan_run_logs_every_loss_term_and_writes_both_networks() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = setup(dir.path());
    let out = dir.path().join("gan");
    let o =
        ok(ddr(&["train", "--config", &cfg, "--out", out.to_str().unwrap(), "--quiet", "--vgg19-random"]));
    assert!(String::from_utf8_lossy(&o.stderr).contains("tests and smoke runs only"));
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = metrics.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 6, "{metrics}");
    for l in &lines {
        for k in
            ["loss", "l_g_pix", "l_g_percep", "l_g_gan", "l_d_real", "l_d_fake", "out_d_real", "out_d_fake"]
        {
            assert!(l[k].as_f64().is_some_and(f64::is_finite), "{k} missing or not finite in {l}");
        }
        let sum = l["l_g_pix"].as_f64().unwrap()
            + l["l_g_percep"].as_f64().unwrap()
            + l["l_g_gan"].as_f64().unwrap();
        assert!((l["loss"].as_f64().unwrap() - sum).abs() < 1e-9 * sum.abs().max(1.0));
    }
    // The generator is an ordinary checkpoint; D rides in the resumable ones and has its own file.
    let g = checkpoint::load(&out.join("model.safetensors"), None).unwrap();
    assert_eq!(g.step, 6);
    let latest = checkpoint::load_extra(&out.join("ckpt/latest.safetensors"), "disc.").unwrap();
    assert!(latest.contains_key("params.conv0_0.weight") && latest.contains_key("optim.adam_v"));
    let d = checkpoint::load_extra(&out.join("model_d.safetensors"), "").unwrap();
    assert_eq!(d["linear1.weight"].shape, [100, 32]);
    assert!(d.contains_key("bn4_1.running_var") && !d.contains_key("optim.adam_m"));
    assert!(out.join("ckpt/step_00000004.safetensors").exists());
}

#[test]
fn a_resumed_gan_run_ends_bit_identical_to_an_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = setup(dir.path());
    let vgg = fixture_vgg();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let run = |out: &Path, extra: &[&str]| {
        let mut args =
            vec!["train", "--config", &cfg, "--out", out.to_str().unwrap(), "--quiet", "--vgg19", &vgg];
        args.extend_from_slice(extra);
        ok(ddr(&args));
    };
    run(&a, &[]);
    // "Killed" after iteration 3: the last checkpoint is iteration 2, so 3 is redone.
    run(&b, &["--stop-after", "3"]);
    run(&b, &["--resume"]);
    for f in ["model.safetensors", "model_d.safetensors"] {
        let (fa, fb) = (std::fs::read(a.join(f)).unwrap(), std::fs::read(b.join(f)).unwrap());
        assert!(fa == fb, "{f}: the resumed run differs from the uninterrupted one");
    }
}

#[test]
fn a_perceptual_loss_without_vgg19_weights_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = setup(dir.path());
    let out = dir.path().join("novgg");
    let o = ddr(&["train", "--config", &cfg, "--out", out.to_str().unwrap(), "--quiet"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("perceptual loss") && err.contains("--vgg19 FILE"), "{err}");
    assert!(!out.exists());
    // Without a perceptual term no VGG19 is needed.
    ok(ddr(&[
        "train",
        "--config",
        &cfg,
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "--set",
        "gan.perceptual_weight=0",
        "--set",
        "run.iterations=1",
    ]));
    // The VGG flags belong to GAN runs only.
    let plain = dir.path().join("mse.toml");
    let o = ddr(&["train", "--config", plain.to_str().unwrap(), "--out", "unused", "--vgg19-random"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("no [gan] section"));
}
