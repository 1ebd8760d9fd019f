//! Running the `ddr-engine` binary from the CLI tests.

use std::process::{Command, Output};

/// Runs `ddr-engine ARGS` and waits for it.
pub fn ddr(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ddr-engine")).args(args).output().unwrap()
}

/// The run's output, after asserting it succeeded (its stderr is the failure message).
pub fn ok(out: Output) -> Output {
    assert!(out.status.success(), "failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// The stderr of a run that must fail: a non-zero exit and a message, never a panic.
pub fn err(out: Output) -> String {
    assert!(!out.status.success(), "should have failed");
    let e = stderr(&out);
    assert!(!e.contains("panicked"), "{e}");
    e
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A training run small enough for a test: MSRResNet nf 8, nb 2, x4, 12 iterations on the
/// built-in photos, checkpoints every 4, validation every 6.
const TINY_TRAIN: &str = r#"
[model]
kind = "msrresnet"
nf = 8
nb = 2
scale = 4
global_residual = true

[data]
train = "builtin.pack"
val = "builtin"
lr_patch = 12
batch = 3
val_crop = 64
val_images = 2
workers = 2

[run]
iterations = 12
ckpt_every = 4
val_every = 6
log_every = 2
"#;

/// Packs the built-in photos into `dir` and writes the [`TINY_TRAIN`] configuration reading
/// them; returns the configuration's path.
pub fn tiny_train_config(dir: &std::path::Path) -> String {
    let pack = dir.join("builtin.pack");
    ok(ddr(&["data", "pack", "--builtin", "-o", pack.to_str().unwrap()]));
    let cfg = dir.join("run.toml");
    std::fs::write(&cfg, TINY_TRAIN.replace("builtin.pack", pack.to_str().unwrap())).unwrap();
    cfg.to_str().unwrap().to_string()
}

/// A checkpoint of `arch` holding `params` only (no EMA, optimiser state or buffers): a network
/// made by a test, to run through the CLI.
pub fn bare_checkpoint(
    arch: &ddr_engine::nn::models::Arch,
    params: Vec<f32>,
) -> ddr_engine::nn::checkpoint::Checkpoint {
    ddr_engine::nn::checkpoint::Checkpoint {
        arch: arch.clone(),
        step: 0,
        params,
        params_ema: None,
        buffers: vec![],
        optim: None,
        meta: Default::default(),
    }
}

/// Trains GAN mode from the MSE model `init`: `mse_cfg` (a configuration's text) with optim.lr
/// 1e-4 and a `[gan]` section of a tiny discriminator (plus `gan_extra` lines) and seeded random
/// VGG19 weights (a smoke run: the perceptual loss measures nothing here), into `dir/gan`.
/// Returns the run's folder.
pub fn train_gan_smoke(
    dir: &std::path::Path,
    mse_cfg: &str,
    init: &std::path::Path,
    gan_extra: &str,
) -> std::path::PathBuf {
    let gan = mse_cfg.replace(
        "[run]\n",
        &format!("[optim]\nlr = 1e-4\n\n[gan]\nd_nf = 4\nvgg19_random_widths = [4, 8, 8, 8, 8]\n{gan_extra}\n[run]\n"),
    );
    let cfg = dir.join("gan.toml");
    std::fs::write(&cfg, format!("init_from = \"{}\"\n{gan}", init.display())).unwrap();
    let run = dir.join("gan");
    ok(ddr(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
        "--quiet",
        "--vgg19-random",
    ]));
    run
}

/// The error of `train` on the configuration `text` (written to `dir/bad.toml`), which must fail.
pub fn train_refused(dir: &std::path::Path, text: &str) -> String {
    let cfg = dir.join("bad.toml");
    std::fs::write(&cfg, text).unwrap();
    err(ddr(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        dir.join("bad").to_str().unwrap(),
        "--quiet",
    ]))
}
