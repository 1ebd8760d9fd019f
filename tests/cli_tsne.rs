//! `ddr-engine tsne` end to end on tiny generated .npy files: outputs, determinism across thread
//! counts, and clear one-line errors for bad input.

mod common;

use common::cli::ddr;
use ddr_engine::io::npy;
use ddr_engine::Rng;
use std::path::{Path, PathBuf};

fn workdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ddr-cli-tsne-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// 60 points in 3 clusters of 5 dims, float32, and their labels.
fn write_inputs(dir: &Path) -> (PathBuf, PathBuf) {
    let mut rng = Rng::new(99);
    let (n, d) = (60, 5);
    let x: Vec<f32> = (0..n * d).map(|t| (rng.normal() + 6.0 * ((t / d) % 3) as f64) as f32).collect();
    let labels: Vec<i64> = (0..n as i64).map(|i| 10 * (i % 3)).collect();
    let (xp, lp) = (dir.join("x.npy"), dir.join("labels.npy"));
    npy::write(&xp, &[n, d], &x).unwrap();
    npy::write(&lp, &[n], &labels).unwrap();
    (xp, lp)
}

#[test]
fn writes_embedding_plot_and_metrics_with_the_same_bytes_for_any_thread_count() {
    let dir = workdir("ok");
    let (x, labels) = write_inputs(&dir);
    let run = |threads: &str, tag: &str| -> Vec<u8> {
        let (out, png, json) = (
            dir.join(format!("y{tag}.npy")),
            dir.join(format!("p{tag}.png")),
            dir.join(format!("m{tag}.json")),
        );
        let o = ddr(&[
            "tsne",
            "--device",
            "cpu",
            "--threads",
            threads,
            "--input",
            s(&x),
            "--labels",
            s(&labels),
            "--perplexity",
            "10",
            "--iters",
            "300",
            "--out",
            s(&out),
            "--plot",
            s(&png),
            "--metrics-json",
            s(&json),
            "--quiet",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let y = npy::read(&out).unwrap();
        assert_eq!(y.shape, vec![60, 2]);
        assert!(matches!(y.data, npy::NpyData::F32(_)));
        let img = image::open(&png).unwrap();
        assert!(img.width() > 100 && img.height() > 100);
        let m: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        assert_eq!(m["points"], 60);
        assert!(m["kl"].as_f64().unwrap() > 0.0);
        // Three well-separated clusters: a large index in the embedding and the input.
        assert!(m["embedding_scores"]["chi"].as_f64().unwrap() > 10.0, "{m}");
        assert!(m["input_scores"]["chi"].as_f64().unwrap() > 10.0, "{m}");
        std::fs::read(&out).unwrap()
    };
    let a = run("1", "a");
    assert_eq!(a, run("2", "b"), "different bytes with 1 and 2 threads");
    assert_eq!(a, run("2", "c"), "different bytes on a second run");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn pca_dims_and_random_init_run() {
    let dir = workdir("pca");
    let (x, _) = write_inputs(&dir);
    let out = dir.join("y.npy");
    for extra in [&["--pca-dims", "3"][..], &["--init", "random", "--seed", "4"][..]] {
        let mut args = vec![
            "tsne",
            "--device",
            "cpu",
            "--input",
            s(&x),
            "--out",
            s(&out),
            "--iters",
            "260",
            "--perplexity",
            "5",
            "--quiet",
        ];
        args.extend_from_slice(extra);
        let o = ddr(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs `tsne` on the given input files and returns stderr, which must be one line without a
/// panic, from a failing run.
fn fails(dir: &Path, x: &Path, extra: &[&str]) -> String {
    let out = dir.join("y.npy");
    let mut args =
        vec!["tsne", "--device", "cpu", "--input", s(x), "--out", s(&out), "--iters", "10", "--quiet"];
    args.extend_from_slice(extra);
    let o = ddr(&args);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn bad_inputs_are_clear_errors() {
    let dir = workdir("bad");
    let (x, labels) = write_inputs(&dir);
    // Wrong dtype.
    let ints = dir.join("ints.npy");
    npy::write(&ints, &[10, 2], &[1i32; 20]).unwrap();
    let e = fails(&dir, &ints, &[]);
    assert!(e.contains("ints.npy") && e.contains("float32"), "{e}");
    // Wrong rank.
    let flat = dir.join("flat.npy");
    npy::write(&flat, &[20], &[1.0f32; 20]).unwrap();
    assert!(fails(&dir, &flat, &[]).contains("2-D"));
    // NaN.
    let nan = dir.join("nan.npy");
    let mut v = vec![0.5f64; 40];
    v[13] = f64::NAN;
    npy::write(&nan, &[20, 2], &v).unwrap();
    let e = fails(&dir, &nan, &[]);
    assert!(e.contains("non-finite") && e.contains("point 6"), "{e}");
    // Perplexity >= N.
    let e = fails(&dir, &x, &["--perplexity", "60"]);
    assert!(e.contains("less than the number of points"), "{e}");
    // Labels of the wrong length.
    let short = dir.join("short.npy");
    npy::write(&short, &[7], &[1i64; 7]).unwrap();
    assert!(fails(&dir, &x, &["--labels", s(&short)]).contains("7 labels"));
    // Float labels.
    assert!(fails(&dir, &x, &["--labels", s(&x)]).contains("1-D"));
    // Metrics without labels.
    let m = dir.join("m.json");
    assert!(fails(&dir, &x, &["--metrics-json", s(&m)]).contains("--labels"));
    // Too few points; missing file; not a .npy.
    let tiny = dir.join("tiny.npy");
    npy::write(&tiny, &[3, 2], &[0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
    assert!(fails(&dir, &tiny, &["--perplexity", "1"]).contains("at least 4 points"));
    assert!(fails(&dir, &dir.join("missing.npy"), &[]).contains("missing.npy"));
    assert!(fails(&dir, &labels, &[]).contains("2-D"));
    std::fs::write(dir.join("junk.npy"), b"not an array").unwrap();
    assert!(fails(&dir, &dir.join("junk.npy"), &[]).contains("magic"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn streamed_affinities_give_the_bytes_of_stored_ones_and_bad_modes_are_refused() {
    let dir = workdir("affinities");
    let (x, labels) = write_inputs(&dir);
    let run = |extra: &[&str], tag: &str| -> (Vec<u8>, serde_json::Value) {
        let (out, json) = (dir.join(format!("y{tag}.npy")), dir.join(format!("m{tag}.json")));
        let mut args = vec!["tsne", "--device", "cpu", "--input", s(&x), "--labels", s(&labels)];
        args.extend_from_slice(&["--iters", "100", "--out", s(&out), "--metrics-json", s(&json), "--quiet"]);
        args.extend_from_slice(extra);
        let o = ddr(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let m = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        (std::fs::read(&out).unwrap(), m)
    };
    let (stored, m) = run(&["--affinities", "stored"], "a");
    assert_eq!(m["p_streamed"], false);
    let (streamed, m) = run(&["--affinities", "streamed"], "b");
    assert_eq!(m["p_streamed"], true);
    assert_eq!(stored, streamed, "streamed P changed the embedding");
    // auto streams once the packed P (60 x 59 / 2 floats, 7080 bytes) exceeds the budget.
    let (auto, m) = run(&["--p-memory", "0"], "c");
    assert_eq!(m["p_streamed"], true);
    assert_eq!(auto, stored);
    assert_eq!(run(&[], "d").1["p_streamed"], false);
    for bad in [&["--affinities", "sometimes"][..], &["--p-memory", "lots"][..]] {
        let mut args = vec!["tsne", "--input", s(&x), "--out", "unused.npy"];
        args.extend_from_slice(bad);
        let o = ddr(&args);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("invalid value") && err.contains(bad[0]), "{err}");
    }
    let o = ddr(&["tsne", "--input", s(&x), "--out", "unused.npy", "--affinities", "sometimes"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("[possible values: auto, stored, streamed]"));
    std::fs::remove_dir_all(&dir).unwrap();
}
