//! The whole pipeline on the CUDA devices the suite covers (the emulated device always, a GPU when
//! there is one) against the CPU, through the binary: a two-step training run and a probe.
//!
//! Tolerances, and why:
//! - training losses: 1e-6 relative. Both backends accumulate the f32 GEMMs in increasing k, but
//!   the loss sums (double, different trees) and the batch-norm-free gradient reductions (split-K
//!   slices on CUDA) round differently: a few ulps of f32 over two steps.
//! - weights after two Adam steps: 1e-6 absolute plus 1e-4 relative. Adam divides by sqrt(v), so
//!   a parameter whose gradient is a rounding error away from zero can move by up to lr; none of
//!   the network's parameters has such a gradient here, and any that did would show in this bound.
//! - probe: the features the network produces on the device (1e-5 relative) and the PCA scores
//!   computed from them (1e-4 relative). The probe's t-SNE maps start from seeded random points,
//!   and at 36 points a rounding difference can send a run to another local optimum (on either
//!   device, one seed in three ended with KL 0.3 to 0.8 instead of 0.06): their agreement is
//!   tested from the deterministic PCA start in gpu_parity_tsne.rs; here the device's runs
//!   must finish with a finite, positive KL.

mod common;

use common::cli::{ddr, ok};
use common::cuda_devices;
use safetensors::SafeTensors;
use std::path::Path;

/// `--device` names of the CUDA devices [`cuda_devices`] covers.
fn device_flags(test: &str) -> Vec<String> {
    cuda_devices(test)
        .iter()
        .map(|d| if d.is_emulated() { "cuda-emu".into() } else { "cuda:0".into() })
        .collect()
}

fn train(dir: &Path, device: &str) -> std::path::PathBuf {
    let pack = dir.join("builtin.pack");
    if !pack.exists() {
        ok(ddr(&["data", "pack", "--builtin", "-o", pack.to_str().unwrap()]));
    }
    let cfg = dir.join("two.toml");
    std::fs::write(
        &cfg,
        format!(
            "[model]\nkind = \"msrresnet\"\nnf = 8\nnb = 2\nscale = 4\nglobal_residual = true\n\n\
             [data]\ntrain = \"{}\"\nlr_patch = 12\nbatch = 2\n\n[run]\niterations = 2\nlog_every = 1\n",
            pack.display()
        ),
    )
    .unwrap();
    let out = dir.join(format!("run-{device}"));
    ok(ddr(&[
        "--device",
        device,
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]));
    out
}

fn losses(run: &Path) -> Vec<f64> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?["loss"].as_f64())
        .collect()
}

fn weights(run: &Path) -> Vec<(String, Vec<f32>)> {
    let bytes = std::fs::read(run.join("model.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<String> = st.names().into_iter().map(String::from).collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let v = bytemuck::pod_collect_to_vec::<u8, f32>(st.tensor(&n).unwrap().data());
            (n, v)
        })
        .collect()
}

#[test]
fn two_training_steps_on_a_cuda_device_match_the_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let cpu = train(dir.path(), "cpu");
    let (want_loss, want_w) = (losses(&cpu), weights(&cpu));
    assert_eq!(want_loss.len(), 2);
    for device in device_flags("two_training_steps_on_a_cuda_device_match_the_cpu") {
        let run = train(dir.path(), &device);
        for (step, (got, want)) in losses(&run).iter().zip(&want_loss).enumerate() {
            assert!(
                (got - want).abs() <= 1e-6 * want,
                "{device} step {}: loss {got} vs the CPU's {want}",
                step + 1
            );
        }
        for ((name, got), (_, want)) in weights(&run).iter().zip(&want_w) {
            for (i, (g, w)) in got.iter().zip(want).enumerate() {
                assert!((g - w).abs() <= 1e-6 + 1e-4 * w.abs(), "{device} {name}[{i}]: {g} vs the CPU's {w}");
            }
        }
    }
}

#[test]
fn a_probe_on_a_cuda_device_matches_the_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let model = train(dir.path(), "cpu").join("model.safetensors");
    let probe = |device: &str| {
        let out = dir.path().join(format!("probe-{device}"));
        ok(ddr(&[
            "--device",
            device,
            "probe",
            "--ckpt",
            model.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--count",
            "12",
            "--patch",
            "8",
            "--runs",
            "1",
            "--tsne-iters",
            "300",
            "--perplexity",
            "5",
            "--pca-dims",
            "10",
            "--layers",
            "rb2",
        ]));
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
        let features = ddr_engine::io::npy::read(&out.join("features_rb2.npy")).unwrap();
        (v["layers"][0]["main"].clone(), features.to_f64_matrix("features").unwrap().2)
    };
    let (want, want_features) = probe("cpu");
    for device in device_flags("a_probe_on_a_cuda_device_matches_the_cpu") {
        let (got, features) = probe(&device);
        assert_eq!(features.len(), want_features.len());
        for (i, (g, w)) in features.iter().zip(&want_features).enumerate() {
            assert!((g - w).abs() <= 1e-5 * (1.0 + w.abs()), "{device} feature {i}: {g} vs the CPU's {w}");
        }
        for score in ["bd", "wd", "chi"] {
            let (g, w) = (got["pca"][score].as_f64().unwrap(), want["pca"][score].as_f64().unwrap());
            assert!((g - w).abs() <= 1e-4 * w.abs(), "{device} PCA {score}: {g} vs the CPU's {w}");
        }
        let kl = got["tsne_kl"]["mean"].as_f64().unwrap();
        assert!(kl.is_finite() && kl > 0.0, "{device} t-SNE KL {kl}");
    }
}
