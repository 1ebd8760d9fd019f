//! `ddr-engine probe` and `ddr-engine faig` end to end on tiny networks trained here for a few
//! iterations: every output is written, reruns with the same seed reproduce them byte for byte,
//! and bad requests are clear errors.

mod common;

use common::cli::{ddr, err, ok};
use std::path::Path;

/// Trains a tiny network for a few iterations; returns its model path.
fn train(dir: &Path, name: &str, scale: usize, extra: &[&str]) -> String {
    let pack = dir.join("builtin.pack");
    if !pack.exists() {
        ok(ddr(&["data", "pack", "--builtin", "-o", pack.to_str().unwrap()]));
    }
    let cfg = dir.join(format!("{name}.toml"));
    std::fs::write(
        &cfg,
        format!(
            "[model]\nkind = \"msrresnet\"\nnf = 8\nnb = 2\nscale = {scale}\nglobal_residual = true\n\n\
             [data]\ntrain = \"{}\"\nlr_patch = 12\nbatch = 2\n\n[run]\niterations = 4\n",
            pack.display()
        ),
    )
    .unwrap();
    let out = dir.join(name);
    let mut args =
        vec!["train", "--config", cfg.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"];
    args.extend_from_slice(extra);
    ok(ddr(&args));
    out.join("model.safetensors").display().to_string()
}

#[test]
fn probe_writes_every_output_and_reproduces_with_the_same_seed() {
    let dir = tempfile::tempdir().unwrap();
    let model = train(dir.path(), "net", 4, &[]);
    let run = |out: &str| {
        let o = dir.path().join(out);
        ok(ddr(&[
            "probe",
            "--ckpt",
            &model,
            "--out",
            o.to_str().unwrap(),
            "--count",
            "12",
            "--patch",
            "8",
            "--runs",
            "2",
            "--tsne-iters",
            "300",
            "--perplexity",
            "5",
            "--pca-dims",
            "10",
            "--layers",
            "conv1,rb2",
            "--intra",
        ]));
        o
    };
    let (a, b) = (run("a"), run("b"));
    for f in [
        "report.md",
        "report.json",
        "tsne_conv1.png",
        "tsne_rb2.png",
        "tsne_rb2_intra1.png",
        "featmap_rb2_top8.png",
        "featmap_conv1_all_clean.png",
        "features_rb2.npy",
        "labels.npy",
        "embedding_rb2_run2.npy",
    ] {
        assert!(a.join(f).exists(), "probe did not write {f}");
        if f != "report.json" && f != "report.md" {
            assert!(
                std::fs::read(a.join(f)).unwrap() == std::fs::read(b.join(f)).unwrap(),
                "{f} differs between runs"
            );
        }
    }
    // The t-SNE runs start from different seeds: their maps differ.
    assert!(
        std::fs::read(a.join("embedding_rb2_run1.npy")).unwrap()
            != std::fs::read(a.join("embedding_rb2_run2.npy")).unwrap(),
        "t-SNE runs 1 and 2 gave the same map"
    );
    // The reports differ only in the wall time they state.
    let strip = |p: &Path| {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(p.join("report.json")).unwrap()).unwrap();
        serde_json::to_string(&v["layers"]).unwrap()
    };
    assert_eq!(strip(&a), strip(&b));
    let md = std::fs::read_to_string(a.join("report.md")).unwrap();
    assert!(md.contains("| rb2 |") && md.contains("noise:10, noise:30"), "{md}");

    let e = err(ddr(&[
        "probe", "--ckpt", &model, "--out", "x", "--layers", "rb9", "--count", "12", "--patch", "8",
    ]));
    assert!(e.contains("no layer 'rb9'"), "{e}");
    let e =
        err(ddr(&["probe", "--ckpt", &model, "--out", "x", "--count", "5", "--patch", "8", "--runs", "1"]));
    assert!(e.contains("perplexity"), "{e}");
}

#[test]
fn faig_scores_masks_and_modulates_and_refuses_mismatched_networks() {
    let dir = tempfile::tempdir().unwrap();
    let base = train(dir.path(), "base", 2, &[]);
    let target = train(
        dir.path(),
        "target",
        2,
        &[
            "--set",
            &format!("init_from=\"{base}\""),
            "--set",
            "data.degradations=\"blur:21:2@0.5,bilinear:1/2,noise:25.5@0.5\"",
        ],
    );
    let out = dir.path().join("faig");
    let o = out.to_str().unwrap();
    let common = [
        "--baseline",
        base.as_str(),
        "--target",
        target.as_str(),
        "--count",
        "2",
        "--crop",
        "32",
        "--out",
        o,
    ];
    let mut args = vec!["faig", "score", "--steps", "3"];
    args.extend_from_slice(&common);
    ok(ddr(&args));
    for f in [
        "scores_blur.npy",
        "scores_noise.npy",
        "ranking_blur.txt",
        "ranking_ig_noise.txt",
        "ranking_weight_change.txt",
        "filters.json",
        "top_filters.md",
    ] {
        assert!(out.join(f).exists(), "faig score did not write {f}");
    }
    let mut args = vec!["faig", "mask", "--percents", "1,10"];
    args.extend_from_slice(&common);
    let md = String::from_utf8_lossy(&ok(ddr(&args)).stdout).to_string();
    assert!(md.contains("| FAIG | 1% |") && md.contains("| random | 10% |"), "{md}");
    let mut args = vec!["faig", "modulate", "--lambda", "0:1:0.5"];
    args.extend_from_slice(&common);
    ok(ddr(&args));
    assert!(out.join("modulation.csv").exists() && out.join("modulate_blur_lambda0.50.png").exists());

    let other = train(dir.path(), "x4", 4, &[]);
    let e = err(ddr(&["faig", "score", "--baseline", &base, "--target", &other, "--out", o]));
    assert!(e.contains("same architecture"), "{e}");
}
