//! The bad-input suite: inputs and settings that once crashed, hung, allocated without bound or
//! wrote nonsense with exit 0. Each must now fail with a message naming the cause, before any
//! work, and leave existing outputs as they were. Crafted files are generated here.

mod common;

use common::cli::{ddr, err, ok, tiny_train_config};
use ddr_engine::nn::checkpoint::{self, Checkpoint, Extra};
use ddr_engine::nn::models::Arch;
use ddr_engine::Device;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The files of `dir`, sorted, with their bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn model_and_batch_sizes_are_checked_before_anything_is_allocated() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny_train_config(dir.path());
    let out = dir.path().join("run");
    let train = |sets: &[&str]| {
        let mut args = vec!["--device", "cpu", "train", "--config", &cfg, "--out", s(&out), "--quiet"];
        sets.iter().for_each(|kv| args.extend(["--set", kv]));
        let e = err(ddr(&args));
        assert!(!out.exists(), "a refused run left {}", out.display());
        e
    };
    let e = train(&["model.nb=2000000"]);
    assert!(e.contains("nb <= 1024") && e.contains("2000000"), "{e}");
    let e = train(&["model.nf=99999999999"]);
    assert!(e.contains("nf <= 4096"), "{e}");
    // Within the limits, but 310 billion parameters: refused against the free memory.
    let e = train(&["model.nf=4096", "model.nb=1024"]);
    assert!(e.contains("310605250563 parameters needs") && e.contains("free"), "{e}");
    let e = train(&["data.batch=100000000"]);
    assert!(e.contains("data.batch = 100000000") && e.contains("free"), "{e}");
    let e = err(ddr(&["sr", "--arch", "msrresnet,nf=99999999999,nb=2,scale=4"]));
    assert!(e.contains("nf <= 4096"), "{e}");
}

#[test]
fn a_checkpoint_whose_arch_outgrows_its_tensors_is_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("forged.safetensors");
    let arch = Arch::Msrresnet { nf: 4096, nb: 1024, scale: 4, global_residual: true };
    let meta = BTreeMap::from([("arch".to_string(), serde_json::to_string(&arch).unwrap())]);
    let t = Extra { name: "params.conv_first.weight".into(), shape: vec![2], data: vec![0.5, 0.5] };
    checkpoint::save_tensors(&path, &[t], meta).unwrap();
    let e = format!("{:#}", checkpoint::load(&path, None).unwrap_err());
    assert!(e.contains("params.conv_first.weight has shape [2]") && e.contains("nf 4096 nb 1024"), "{e}");
    let out = dir.path().join("out");
    let e = err(ddr(&["sr", "--ckpt", s(&path), "--input", s(dir.path()), "--output", s(&out)]));
    assert!(e.contains("expects [4096, 3, 3, 3]"), "{e}");
}

/// A tiny x2 network's checkpoint, its weights passed through `edit`.
fn srcnn_checkpoint(path: &Path, seed: u64, edit: impl FnOnce(&mut Vec<f32>)) {
    let arch = Arch::SrcnnStyle { scale: 2 };
    let (_, p) = arch.build(&Device::Cpu, seed).unwrap();
    let mut params = p.values.to_vec().unwrap();
    edit(&mut params);
    let ck = Checkpoint {
        arch,
        step: 1,
        params,
        params_ema: None,
        buffers: Vec::new(),
        optim: None,
        meta: BTreeMap::new(),
    };
    checkpoint::save(path, &ck).unwrap();
}

/// A 48x40 photo as PNG and the same photo as a JPEG cut short.
fn photos(dir: &Path) -> (PathBuf, PathBuf) {
    let img = image::RgbImage::from_fn(48, 40, |x, y| image::Rgb([(x * 5) as u8, (y * 6) as u8, 90]));
    let png = dir.join("a_good.png");
    img.save(&png).unwrap();
    let mut jpeg = std::io::Cursor::new(Vec::new());
    img.write_to(&mut jpeg, image::ImageFormat::Jpeg).unwrap();
    let bytes = jpeg.into_inner();
    let cut = dir.join("b_cut.jpg");
    std::fs::write(&cut, &bytes[..bytes.len() * 3 / 4]).unwrap();
    (png, cut)
}

#[test]
fn truncated_jpegs_are_refused_or_skipped_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let (png, cut) = photos(dir.path());
    let pack = dir.path().join("p.pack");
    let e = err(ddr(&["data", "pack", s(&cut), "-o", s(&pack)]));
    assert!(e.contains("b_cut.jpg") && e.contains("truncated"), "{e}");
    assert!(!pack.exists());
    let o = ok(ddr(&["data", "pack", s(&png), s(&cut), "--skip-bad", "-o", s(&pack)]));
    let said = common::cli::stderr(&o) + &String::from_utf8_lossy(&o.stdout);
    assert!(said.contains("b_cut.jpg") && said.contains("1 images from 1 photos"), "{said}");
    assert_eq!(said.matches("b_cut.jpg").count(), 1, "the photo is named once: {said}");
}

#[test]
fn sr_writes_all_outputs_or_none_and_refuses_nan_weights_and_tiny_tiles() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("lr");
    std::fs::create_dir(&inputs).unwrap();
    photos(&inputs);
    let ck = dir.path().join("net.safetensors");
    srcnn_checkpoint(&ck, 1, |_| {});
    let out = dir.path().join("sr");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("a_good.png"), b"an earlier result").unwrap();
    let before = snapshot(&out);
    let sr = |extra: &[&str]| {
        let mut args =
            vec!["--device", "cpu", "sr", "--ckpt", s(&ck), "--input", s(&inputs), "--output", s(&out)];
        args.extend_from_slice(extra);
        ddr(&args)
    };
    // The good image comes first; the cut one fails; nothing may have been replaced.
    let e = err(sr(&[]));
    assert!(e.contains("b_cut.jpg") && e.contains("truncated"), "{e}");
    assert_eq!(snapshot(&out), before);
    assert!(!out.join(".ddr-partial").exists());
    // A tile smaller than its context computes mostly overlap (--tile 1 ran for minutes).
    let t0 = std::time::Instant::now();
    let e = err(sr(&["--tile", "1"]));
    assert!(e.contains("--tile 1 is too small") && e.contains("--tile-overlap (40)"), "{e}");
    assert!(t0.elapsed().as_secs() < 30);
    // NaN weights: refused when the checkpoint is read, naming the tensor.
    srcnn_checkpoint(&ck, 1, |p| p[7] = f32::NAN);
    std::fs::remove_file(inputs.join("b_cut.jpg")).unwrap();
    let e = err(sr(&[]));
    assert!(e.contains("non-finite") && e.contains("params.features.0.weight"), "{e}");
    assert_eq!(snapshot(&out), before);
}

#[test]
fn thread_counts_are_capped_at_a_sane_multiple_of_the_cores() {
    let t0 = std::time::Instant::now();
    let e = err(ddr(&["--threads", "100000", "info"]));
    assert!(e.contains("100000 threads is too many") && e.contains("at most"), "{e}");
    assert!(t0.elapsed().as_secs() < 10);
    ok(ddr(&["--threads", "64", "info"]));
}

fn faig(dir: &Path, cmd: &str, base: &Path, target: &Path, extra: &[&str]) -> String {
    let mut args = vec!["--device", "cpu", "faig", cmd, "--baseline", s(base), "--target", s(target)];
    args.extend_from_slice(extra);
    for (flag, default) in [("--count", "1"), ("--crop", "32")] {
        if !extra.contains(&flag) {
            args.extend([flag, default]);
        }
    }
    args.extend(["--out", s(dir)]);
    err(ddr(&args))
}

#[test]
fn faig_refuses_inputs_whose_scores_would_be_nan_or_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (base, target, nan) =
        (dir.path().join("base.st"), dir.path().join("target.st"), dir.path().join("nan.st"));
    srcnn_checkpoint(&base, 1, |_| {});
    srcnn_checkpoint(&target, 2, |_| {});
    srcnn_checkpoint(&nan, 1, |p| p[0] = f32::NAN);
    let out = dir.path().join("faig");
    let e = faig(&out, "score", &nan, &target, &[]);
    assert!(e.contains("--baseline") && e.contains("non-finite"), "{e}");
    let e = faig(&out, "score", &base, &base, &[]);
    assert!(e.contains("same weights"), "{e}");
    let e = faig(&out, "score", &base, &target, &["--count", "0"]);
    assert!(e.contains("--count must be at least 1"), "{e}");
    let e = faig(&out, "score", &base, &target, &["--crop", "1"]);
    assert!(e.contains("--crop 1") && e.contains("multiple of 2"), "{e}");
    for p in ["0", "200", "-3"] {
        let e = faig(&out, "modulate", &base, &target, &[&format!("--percent={p}")]);
        assert!(e.contains("(0, 100]"), "{e}");
    }
    let e = faig(&out, "mask", &base, &target, &["--percents=-3,150"]);
    assert!(e.contains("(0, 100]"), "{e}");
    assert!(!out.exists(), "a refused FAIG run wrote {}", out.display());
}

/// 60 points in 3 clusters of 5 dims.
fn points(dir: &Path) -> PathBuf {
    let mut rng = ddr_engine::Rng::new(3);
    let x: Vec<f32> = (0..300).map(|t| (rng.normal() + 6.0 * ((t / 5) % 3) as f64) as f32).collect();
    let p = dir.join("x.npy");
    ddr_engine::io::npy::write(&p, &[60, 5], &x).unwrap();
    p
}

#[test]
fn a_diverging_tsne_fails_instead_of_writing_nan() {
    let dir = tempfile::tempdir().unwrap();
    let x = points(dir.path());
    let y = dir.path().join("y.npy");
    let e = err(ddr(&[
        "tsne",
        "--device",
        "cpu",
        "--input",
        s(&x),
        "--out",
        s(&y),
        "--quiet",
        "--learning-rate",
        "1e30",
    ]));
    assert!(e.contains("diverged") && e.contains("learning"), "{e}");
    assert!(!y.exists());
}

#[test]
fn a_plot_that_cannot_be_written_keeps_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let x = points(dir.path());
    let (y, plot) = (dir.path().join("y.npy"), dir.path().join("plot.png"));
    std::fs::write(&plot, vec![7u8; 100]).unwrap();
    // Files may grow to 4 KiB: the embedding fits, the plot does not (as on a full disk).
    let o = Command::new("bash")
        .args(["-c", "trap '' XFSZ; ulimit -f 4; exec \"$0\" \"$@\"", env!("CARGO_BIN_EXE_ddr-engine")])
        .args(["tsne", "--device", "cpu", "--input", s(&x), "--out", s(&y), "--plot", s(&plot), "--quiet"])
        .args(["--iters", "300"])
        .output()
        .unwrap();
    let e = err(o);
    assert!(e.contains("plot.png"), "{e}");
    assert_eq!(std::fs::read(&plot).unwrap(), vec![7u8; 100]);
    let left: Vec<_> = snapshot(dir.path()).into_iter().filter(|(p, _)| s(p).ends_with(".tmp")).collect();
    assert!(
        left.is_empty(),
        "temporary files left behind: {:?}",
        left.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
}

#[test]
fn messages_name_the_field_the_flag_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A resize factor out of range says which range.
    let e = err(ddr(&["data", "degrade", s(d), "-o", s(&d.join("o")), "--pipeline", "bicubic:1e9"]));
    assert!(e.contains("(0, 64]"), "{e}");
    // A mistyped [model] field is named, and an override is blamed, not the file.
    let cfg = tiny_train_config(d);
    let text = std::fs::read_to_string(&cfg).unwrap().replace("nf = 8", "nf = \"eight\"");
    let bad = d.join("bad.toml");
    std::fs::write(&bad, text).unwrap();
    let out = s(&d.join("run")).to_string();
    let e = err(ddr(&["train", "--config", s(&bad), "--out", &out]));
    assert!(e.contains("bad.toml") && e.contains("model.nf = \"eight\""), "{e}");
    let e = err(ddr(&["train", "--config", &cfg, "--out", &out, "--set", "data.batch=-1"]));
    assert!(e.contains("--set data.batch=-1") && !e.contains("run.toml"), "{e}");
    // A matrix without features; integers where points are needed.
    let (empty, ints) = (d.join("empty.npy"), d.join("ints.npy"));
    ddr_engine::io::npy::write(&empty, &[60, 0], &[0f32; 0]).unwrap();
    ddr_engine::io::npy::write(&ints, &[6, 2], &[1i64; 12]).unwrap();
    let y = s(&d.join("y.npy")).to_string();
    let e = err(ddr(&["tsne", "--input", s(&empty), "--out", &y]));
    assert!(e.contains("0 features"), "{e}");
    let e = err(ddr(&["tsne", "--input", s(&ints), "--out", &y]));
    assert!(e.contains("--input must be a 2-D float32 or float64 array"), "{e}");
}

#[test]
fn a_corrupt_pack_is_named_once_by_the_loader() {
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("b.pack");
    ok(ddr(&["data", "pack", "--builtin", "-o", s(&pack)]));
    let mut bytes = std::fs::read(&pack).unwrap();
    bytes[2_000_000] ^= 0xFF;
    std::fs::write(&pack, bytes).unwrap();
    let e = err(ddr(&["data", "bench-loader", s(&pack)]));
    assert!(e.contains("corrupt") && e.matches("b.pack").count() == 1, "{e}");
}

#[test]
fn checkpoint_damage_names_the_tensor_and_ema_only_files_load() {
    let dir = tempfile::tempdir().unwrap();
    // A header whose tensor claims 10 GB but holds 16 bytes.
    let header = br#"{"params.x":{"dtype":"F32","shape":[50000,50000],"data_offsets":[0,16]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&[0; 16]);
    let big = dir.path().join("big.safetensors");
    std::fs::write(&big, bytes).unwrap();
    let e = format!("{:#}", checkpoint::load(&big, Some(&Arch::SrcnnStyle { scale: 2 })).unwrap_err());
    assert!(e.contains("params.x") && e.contains("10000000000 bytes"), "{e}");
    // Only the moving average kept: it is the network.
    let arch = Arch::SrcnnStyle { scale: 2 };
    let (_, p) = arch.build(&Device::Cpu, 5).unwrap();
    let ema: Vec<Extra> = p
        .specs()
        .iter()
        .map(|sp| Extra {
            name: format!("params_ema.{}", sp.name),
            shape: sp.shape.clone(),
            data: p.values.to_vec().unwrap()[sp.range()].to_vec(),
        })
        .collect();
    let meta = BTreeMap::from([("arch".to_string(), serde_json::to_string(&arch).unwrap())]);
    let path = dir.path().join("ema.safetensors");
    checkpoint::save_tensors(&path, &ema, meta).unwrap();
    let ck = checkpoint::load(&path, None).unwrap();
    assert_eq!(ck.params, p.values.to_vec().unwrap());
    assert_eq!(ck.params_ema.as_ref(), Some(&ck.params));
}

#[test]
fn probe_refuses_settings_without_clusters_and_labels_the_pca_it_ran() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("net.safetensors");
    srcnn_checkpoint(&ck, 1, |_| {});
    let out = dir.path().join("probe");
    let probe = |extra: &[&str]| {
        let mut args = vec!["--device", "cpu", "probe", "--ckpt", s(&ck), "--out", s(&out), "--runs", "1"];
        args.extend_from_slice(&["--patch", "8", "--tsne-iters", "50", "--perplexity", "2", "--no-features"]);
        args.extend_from_slice(extra);
        ddr(&args)
    };
    let e = err(probe(&["--count", "1"]));
    assert!(e.contains("--count must be at least 2"), "{e}");
    let e = err(probe(&["--sets", "clean", "--count", "4"]));
    assert!(e.contains("--sets needs at least 2 test sets"), "{e}");
    ok(probe(&["--sets", "clean,blur:2", "--count", "4", "--pca-dims", "500"]));
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("CHI (PCA-8)") && !report.contains("PCA-500"), "{report}");
}

#[test]
fn resuming_a_finished_run_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny_train_config(dir.path());
    let out = dir.path().join("run");
    let args = ["--device", "cpu", "train", "--config", &cfg, "--out", s(&out), "--quiet"];
    ok(ddr(&args));
    let model = std::fs::read(out.join("model.safetensors")).unwrap();
    let e = err(ddr(&[&args[..], &["--resume"]].concat()));
    assert!(e.contains("has finished its 12 iterations") && !e.contains("NaN"), "{e}");
    assert_eq!(std::fs::read(out.join("model.safetensors")).unwrap(), model);
}
