//! `ddr-engine train` and `sr` end to end on the built-in photos with a tiny network: exact
//! resumption, NaN handling, checkpoint shape checks, inference and tiling.

mod common;

use common::cli::{bare_checkpoint, ddr, err, ok, tiny_train_config};
use ddr_engine::data::Image;
use ddr_engine::infer::{super_resolve, Tiling};
use ddr_engine::nn::checkpoint;
use ddr_engine::nn::models::Arch;
use ddr_engine::{Device, Rng};
use std::path::Path;

#[test]
fn a_second_train_into_a_running_runs_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny_train_config(dir.path());
    let out = dir.path().join("run");
    let o = out.to_str().unwrap();
    // Long enough to still be running while the others try; killed below.
    let mut first = std::process::Command::new(env!("CARGO_BIN_EXE_ddr-engine"))
        .args(["train", "--config", &cfg, "--out", o, "--quiet", "--set", "run.iterations=1000000"])
        .args(["--set", "run.ckpt_every=0", "--set", "run.val_every=0"])
        .spawn()
        .unwrap();
    // config.toml is written after the lock is taken.
    let t0 = std::time::Instant::now();
    while !out.join("config.toml").exists() {
        assert!(t0.elapsed().as_secs() < 120, "the first run never started");
        assert!(first.try_wait().unwrap().is_none(), "the first run ended early");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let config_before = std::fs::read(out.join("config.toml")).unwrap();
    for extra in [&["--set", "run.seed=7"][..], &["--resume"][..]] {
        let mut args = vec!["train", "--config", &cfg, "--out", o, "--quiet"];
        args.extend_from_slice(extra);
        let e = err(ddr(&args));
        assert!(e.contains("another ddr-engine train is writing into"), "{e}");
    }
    assert_eq!(std::fs::read(out.join("config.toml")).unwrap(), config_before);
    first.kill().unwrap();
    first.wait().unwrap();
}

#[test]
fn a_killed_and_resumed_run_ends_bit_identical_to_an_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny_train_config(dir.path());
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    ok(ddr(&["train", "--config", &cfg, "--out", a.to_str().unwrap(), "--quiet"]));
    // "Killed" after iteration 6: the last checkpoint is iteration 4, so 5 and 6 are redone.
    ok(ddr(&["train", "--config", &cfg, "--out", b.to_str().unwrap(), "--quiet", "--stop-after", "6"]));
    assert!(!b.join("model.safetensors").exists());
    ok(ddr(&["train", "--config", &cfg, "--out", b.to_str().unwrap(), "--quiet", "--resume"]));
    let (fa, fb) = (
        std::fs::read(a.join("model.safetensors")).unwrap(),
        std::fs::read(b.join("model.safetensors")).unwrap(),
    );
    assert!(fa == fb, "resumed run's weights differ from the uninterrupted run's");
    let ck = checkpoint::load(&a.join("model.safetensors"), None).unwrap();
    assert_eq!(ck.step, 12);
    assert!(ck.params_ema.is_some() && ck.optim.is_none());
    let metrics = std::fs::read_to_string(b.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().filter(|l| l.contains("\"loss\"")).count(), 6, "{metrics}");
    // The clock continues across the resume: `seconds` is the run's training time.
    let seconds: Vec<f64> = metrics
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?.get("seconds")?.as_f64())
        .collect();
    assert!(seconds.windows(2).all(|w| w[1] >= w[0]), "seconds go back at the resume: {seconds:?}");
    // Validations at 6 and 12 score both the EMA and the raw weights, and are drawn.
    assert_eq!(metrics.lines().filter(|l| l.contains("\"val_psnr_y_raw\"")).count(), 2, "{metrics}");
    let curves = image::open(b.join("curves.png")).expect("curves.png is a readable image");
    assert!(curves.width() > 100 && curves.height() > 100);
    std::fs::remove_file(b.join("curves.png")).unwrap();
    ok(ddr(&["train", "--out", b.to_str().unwrap(), "--redraw"]));
    assert!(b.join("curves.png").exists());
    let out = ddr(&["train", "--out", dir.path().join("nowhere").to_str().unwrap(), "--redraw"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("metrics.jsonl"));
    // Starting over in a used folder without --resume is refused.
    let out = ddr(&["train", "--config", &cfg, "--out", a.to_str().unwrap(), "--quiet"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--resume"));
}

#[test]
fn a_nan_loss_stops_training_and_keeps_the_last_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny_train_config(dir.path());
    let out_dir = dir.path().join("nan");
    let out = ddr(&[
        "train",
        "--config",
        &cfg,
        "--out",
        out_dir.to_str().unwrap(),
        "--quiet",
        "--set",
        "optim.lr=1e30",
        "--set",
        "run.ckpt_every=1",
        "--set",
        "optim.ema=0",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("loss became NaN at iteration") || err.contains("loss became inf"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let ck = checkpoint::load(&out_dir.join("ckpt/latest.safetensors"), None).unwrap();
    assert!(err.contains(&format!("iteration {}", ck.step + 1)), "{err}");
    assert!(ck.params.iter().all(|v| v.is_finite()));
}

#[test]
fn checkpoints_that_do_not_fit_are_refused_naming_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let small = Arch::Msrresnet { nf: 8, nb: 1, scale: 4, global_residual: true };
    let big = Arch::Msrresnet { nf: 16, nb: 1, scale: 4, global_residual: true };
    // A plain state dict (no architecture recorded), as converted from PyTorch.
    let (_, pb) = small.declare().unwrap();
    let (specs, _) = pb.specs();
    let data: Vec<Vec<u8>> = specs.iter().map(|s| vec![0u8; s.len() * 4]).collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = specs
        .iter()
        .zip(&data)
        .map(|(s, d)| {
            (
                s.name.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.shape.clone(), d).unwrap(),
            )
        })
        .collect();
    let path = dir.path().join("plain.safetensors");
    std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
    assert!(checkpoint::load(&path, Some(&small)).is_ok());
    let e = format!("{:#}", checkpoint::load(&path, Some(&big)).unwrap_err());
    assert!(e.contains("conv_first.weight has shape [8, 3, 3, 3]") && e.contains("[16, 3, 3, 3]"), "{e}");
    let e = format!("{:#}", checkpoint::load(&path, None).unwrap_err());
    assert!(e.contains("--arch"), "{e}");
    // A checkpoint that records its architecture refuses to be read as another one.
    let ck = bare_checkpoint(&small, vec![0.0; specs.iter().map(|s| s.len()).sum()]);
    let rec = dir.path().join("rec.safetensors");
    checkpoint::save(&rec, &ck).unwrap();
    let e = format!("{:#}", checkpoint::load(&rec, Some(&big)).unwrap_err());
    assert!(e.contains("holds a msrresnet nf 8"), "{e}");
    // Garbage is a clear error.
    std::fs::write(dir.path().join("bad.safetensors"), b"not a checkpoint").unwrap();
    let out = ddr(&[
        "sr",
        "--ckpt",
        dir.path().join("bad.safetensors").to_str().unwrap(),
        "--input",
        ".",
        "--output",
        "x",
    ]);
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("not a valid safetensors")
    );
}

#[test]
fn sr_writes_upscaled_images_and_tiles_match_whole_images() {
    let dir = tempfile::tempdir().unwrap();
    let arch = Arch::Msrresnet { nf: 8, nb: 2, scale: 4, global_residual: true };
    let (mut net, mut p) = arch.build(&Device::Cpu, 3).unwrap();
    let ck = bare_checkpoint(&arch, p.values.to_vec().unwrap());
    let ckpt = dir.path().join("m.safetensors");
    checkpoint::save(&ckpt, &ck).unwrap();
    let mut rng = Rng::new(4);
    let (h, w) = (23, 30);
    let img = Image::new(3, h, w, (0..3 * h * w).map(|_| rng.uniform_f32()).collect()).unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    ddr_engine::data::image_io::save_png(&input.join("x.png"), &img.to_rgb8().unwrap()).unwrap();
    let out = dir.path().join("out");
    ok(ddr(&[
        "sr",
        "--ckpt",
        ckpt.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]));
    let sr = image::open(out.join("x.png")).unwrap().to_rgb8();
    assert_eq!(sr.dimensions(), (w as u32 * 4, h as u32 * 4));
    // Writing the outputs over the inputs is refused, and the inputs stay as they were.
    let before = std::fs::read(input.join("x.png")).unwrap();
    let (i, c) = (input.to_str().unwrap(), ckpt.to_str().unwrap());
    let e = err(ddr(&["sr", "--ckpt", c, "--input", i, "--output", i]));
    assert!(e.contains("is an input"), "{e}");
    let e = err(ddr(&["sr", "--ckpt", c, "--input", input.join("x.png").to_str().unwrap(), "--output", i]));
    assert!(e.contains("is an input"), "{e}");
    assert_eq!(std::fs::read(input.join("x.png")).unwrap(), before);

    let whole = super_resolve(net.as_mut(), &mut p, &img, None).unwrap();
    let tiled = super_resolve(net.as_mut(), &mut p, &img, Some(Tiling { tile: 9, overlap: 8 })).unwrap();
    let d = whole.data.iter().zip(&tiled.data).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    // nb 2: six 3x3 convs at LR resolution plus three at 2x/4x: a receptive-field radius of
    // about 7 LR pixels, so an overlap of 8 is exact.
    assert!(d <= 1e-6, "tiled output differs by {d}");
}

#[test]
fn every_example_and_documented_config_is_valid() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    // The examples, the configurations of the committed results and of the runs RESULTS.md tried.
    let mut folders = vec![("configs".to_string(), 3), ("results/ddr_cpu_more".to_string(), 2)];
    // Every committed study's configurations (reproduce ddr writes 5, reproduce sft 3).
    for e in std::fs::read_dir(docs.join("results")).unwrap() {
        let study = e.unwrap().path();
        if study.join("configs").is_dir() {
            let name = study.file_name().unwrap().to_string_lossy().into_owned();
            folders.push((format!("results/{name}/configs"), if name.starts_with("ddr") { 5 } else { 3 }));
        }
    }
    assert!(folders.len() >= 3, "no committed study configurations found");
    for (folder, at_least) in folders {
        let dir = docs.join(&folder);
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                ddr_engine::train::TrainConfig::load(&p, &[])
                    .unwrap_or_else(|e| panic!("{}: {e:#}", p.display()));
                n += 1;
            }
        }
        assert!(n >= at_least, "expected {at_least} configurations in {}", dir.display());
    }
}
