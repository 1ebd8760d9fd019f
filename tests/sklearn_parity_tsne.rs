//! The analysis core against scikit-learn, on the fixtures that
//! `tests/fixtures/tsne/make_fixtures.py` made (pinned scikit-learn 1.6.1): joint P, full t-SNE
//! runs (final KL), cluster scores, PCA. Also the KL gradient against finite differences,
//! thread-count independence, and streamed P against stored P.

use ddr_engine::io::npy;
use ddr_engine::metrics::cluster_scores;
use ddr_engine::reduce::tsne::affinity::{packed_bytes, Affinities};
use ddr_engine::reduce::tsne::cpu::{PackedP, PairKernel};
use ddr_engine::reduce::tsne::kl_and_grad_f64;
use ddr_engine::reduce::{joint_probabilities, pca, tsne, PStorage, TsneConfig};
use ddr_engine::{Device, Rng};
use std::path::PathBuf;

fn fixture(name: &str) -> npy::NpyArray {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tsne").join(name);
    npy::read(&p).unwrap()
}

fn matrix(name: &str) -> (usize, usize, Vec<f64>) {
    fixture(name).to_f64_matrix(name).unwrap()
}

fn vector(name: &str) -> Vec<f64> {
    match fixture(name).data {
        npy::NpyData::F64(v) => v,
        other => panic!("{name}: unexpected dtype {}", other.descr()),
    }
}

#[test]
fn joint_p_matches_sklearn_exact() {
    let (n, d, x) = matrix("blobs300_x.npy");
    let want = vector("blobs300_p.npy");
    let p = joint_probabilities(&x, n, d, 30.0).unwrap();
    assert_eq!(p.data.len(), want.len());
    let (mut max_abs, mut max_rel) = (0.0f64, 0.0f64);
    let pmax = want.iter().cloned().fold(0.0, f64::max);
    for (&a, &b) in p.data.iter().zip(&want) {
        let e = (a as f64 - b).abs();
        max_abs = max_abs.max(e);
        max_rel = max_rel.max(e / b);
    }
    eprintln!("P vs sklearn: max |err| {max_abs:.3e} (max P {pmax:.3e}), max rel err {max_rel:.3e}");
    assert!(max_rel <= 1e-6, "max relative error {max_rel:e}");
}

#[test]
fn kl_grad_matches_finite_differences() {
    let (n, d, x) = matrix("blobs300_x.npy");
    let p = joint_probabilities(&x, n, d, 30.0).unwrap();
    let mut rng = Rng::new(21);
    let y: Vec<f64> = (0..2 * n).map(|_| 2.0 * rng.normal()).collect();
    let (_, g) = kl_and_grad_f64(&p, &y);
    // Central differences of the f64 KL on a few coordinates (h = 1e-4: the truncation error,
    // O(h^2), and the rounding error of the KL difference, ~1e-13 / h, both stay below 1e-8).
    let h = 1e-4;
    for t in [0, 1, 77, 300, 2 * n - 1] {
        let mut yp = y.clone();
        yp[t] += h;
        let mut ym = y.clone();
        ym[t] -= h;
        let fd = (kl_and_grad_f64(&p, &yp).0 - kl_and_grad_f64(&p, &ym).0) / (2.0 * h);
        assert!(
            (fd - g[t]).abs() <= 1e-5 * g[t].abs() + 1e-8,
            "coordinate {t}: finite difference {fd:e}, gradient {:e}",
            g[t]
        );
    }
    // The fast f32 pass gives the same gradient and KL.
    let y32: Vec<f32> = y.iter().map(|&v| v as f32).collect();
    let y_round: Vec<f64> = y32.iter().map(|&v| v as f64).collect();
    let (kl, g) = kl_and_grad_f64(&p, &y_round);
    let mut k = PairKernel::new(p);
    let mut grad = vec![0.0f32; 2 * n];
    let z = k.grad(&y32, 1.0, &mut grad);
    let scale = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (a, b) in grad.iter().zip(&g) {
        assert!((*a as f64 - b).abs() <= 1e-5 * scale);
    }
    assert!((k.kl(z) - kl).abs() <= 1e-7 * kl);
}

fn run(x: &[f64], n: usize, d: usize, threads: usize) -> (Vec<f32>, f64) {
    run_with(x, n, d, threads, &TsneConfig::default())
}

fn run_with(x: &[f64], n: usize, d: usize, threads: usize, cfg: &TsneConfig) -> (Vec<f32>, f64) {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let r = pool.install(|| tsne(x, n, d, cfg, &Device::Cpu, &|_| {})).unwrap();
    assert_eq!(r.embedding.len(), 2 * n);
    (r.embedding, r.kl)
}

fn full_run_against_sklearn(name: &str) {
    let (n, d, x) = matrix(&format!("{name}_x.npy"));
    let want = vector(&format!("{name}_kl.npy"))[0];
    let (y1, kl1) = run(&x, n, d, 1);
    let (y2, kl2) = run(&x, n, d, 2);
    let rel = (kl1 - want) / want;
    eprintln!("{name}: KL {kl1:.6} vs scikit-learn {want:.6} ({:+.2}%)", 100.0 * rel);
    assert!(rel.abs() <= 0.03, "{name}: KL {kl1} vs scikit-learn {want}");
    assert_eq!(kl1.to_bits(), kl2.to_bits(), "KL differs between 1 and 2 threads");
    assert!(
        y1.iter().zip(&y2).all(|(a, b)| a.to_bits() == b.to_bits()),
        "embedding differs between 1 and 2 threads"
    );
    // The KL reported is the KL of P and the returned embedding's Q, give or take the last step.
    let p = joint_probabilities(&x, n, d, 30.0).unwrap();
    let y64: Vec<f64> = y1.iter().map(|&v| v as f64).collect();
    let (kl_end, _) = kl_and_grad_f64(&p, &y64);
    assert!((kl_end - kl1).abs() <= 1e-3 * kl1, "{kl_end} vs {kl1}");
}

#[test]
fn full_run_300_matches_sklearn_kl_and_is_thread_independent() {
    full_run_against_sklearn("blobs300");
}

#[test]
fn full_run_1000_matches_sklearn_kl_and_is_thread_independent() {
    full_run_against_sklearn("blobs1000");
}

#[test]
fn streamed_p_matches_sklearn_exact() {
    let (n, d, x) = matrix("blobs300_x.npy");
    let want = vector("blobs300_p.npy");
    let a = Affinities::new(&x, n, d, 30.0);
    // Row blocks as the streamed pass asks for them, in uneven sizes on purpose.
    let (mut got, mut buf) = (Vec::new(), Vec::new());
    for (i0, i1) in [(0, 1), (1, 128), (128, 299), (299, n)] {
        a.rows(i0, i1, &mut buf);
        got.extend_from_slice(&buf);
    }
    assert_eq!(got.len(), want.len());
    let max_rel = got.iter().zip(&want).map(|(&a, &b)| (a as f64 - b).abs() / b).fold(0.0, f64::max);
    assert!(max_rel <= 1e-6, "max relative error {max_rel:e}");
}

#[test]
fn streamed_p_gives_the_bytes_of_stored_p_with_1_and_2_threads() {
    let (n, d, x) = matrix("blobs300_x.npy");
    let cfg = |p_storage| TsneConfig { p_storage, ..Default::default() };
    let (y, kl) = run_with(&x, n, d, 1, &cfg(PStorage::Stored));
    for threads in [1, 2] {
        let (ys, kls) = run_with(&x, n, d, threads, &cfg(PStorage::Streamed));
        assert_eq!(kl.to_bits(), kls.to_bits(), "KL differs with {threads} threads");
        assert!(y.iter().zip(&ys).all(|(a, b)| a.to_bits() == b.to_bits()), "{threads} threads");
    }
}

#[test]
fn auto_streams_p_only_past_the_budget() {
    let n = 1000;
    assert_eq!(packed_bytes(n), 1000 * 999 / 2 * 4);
    let cfg = |p_memory| TsneConfig { p_memory, ..Default::default() };
    assert!(!cfg(packed_bytes(n)).streams_p(n));
    assert!(cfg(packed_bytes(n) - 1).streams_p(n));
    assert!(!TsneConfig::default().streams_p(23_170) && TsneConfig::default().streams_p(23_171));
}

#[test]
fn cluster_scores_match_sklearn() {
    let expected = vector("metrics_expected.npy");
    for (a, dim) in [2usize, 50].iter().enumerate() {
        let (n, d, x) = matrix(&format!("metrics_x{dim}.npy"));
        for (b, name) in ["k2", "unbalanced", "k5"].iter().enumerate() {
            let labels = fixture(&format!("metrics_labels_{name}.npy")).to_i64_vec("labels").unwrap();
            let s = cluster_scores(&x, n, d, &labels).unwrap();
            let want = &expected[(a * 3 + b) * 3..(a * 3 + b) * 3 + 3];
            for (got, want, what) in [(s.wd, want[0], "WD"), (s.bd, want[1], "BD"), (s.chi, want[2], "CHI")] {
                assert!((got - want).abs() <= 1e-9 * want.abs(), "x{dim} {name} {what}: {got} vs {want}");
            }
        }
    }
}

#[test]
fn pca_matches_sklearn_including_signs() {
    for name in ["wide", "tall"] {
        let (n, d, x) = matrix(&format!("pca_{name}_x.npy"));
        let (_, k, want) = matrix(&format!("pca_{name}_scores.npy"));
        let p = pca(&x, n, d, k).unwrap();
        for c in 0..k {
            let scale = (0..n).map(|i| want[i * k + c].abs()).fold(0.0, f64::max);
            for i in 0..n {
                let (g, w) = (p.scores[i * k + c], want[i * k + c]);
                assert!((g - w).abs() <= 1e-6 * scale, "{name}: component {c}, point {i}: {g} vs {w}");
            }
        }
    }
}

#[test]
fn packed_p_round_trips_through_dense() {
    let p = PackedP { n: 3, data: vec![0.1, 0.2, 0.3] };
    assert_eq!(p.to_dense(), vec![0.0, 0.1, 0.2, 0.1, 0.0, 0.3, 0.2, 0.3, 0.0]);
}
