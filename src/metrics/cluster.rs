//! Cluster scores of labelled points: within-class dispersion (WD), between-class dispersion (BD)
//! and the Calinski-Harabasz index (CHI), as in the DDR paper and scikit-learn's
//! `calinski_harabasz_score`.
//!
//! With K classes of n_k points, class means m_k and overall mean m:
//! WD = sum_k sum_i ||x_k^i - m_k||^2, BD = sum_k n_k ||m_k - m||^2,
//! CHI = (BD / WD) * (N - K) / (K - 1). Like scikit-learn, CHI is 1.0 when WD is 0 (every point
//! sits on its class mean). All sums are in f64, in point order (deterministic).

use crate::labels::encode_labels;
use crate::Result;
use anyhow::ensure;

#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct ClusterScores {
    /// Number of points.
    pub n: usize,
    /// Number of distinct labels.
    pub k: usize,
    pub wd: f64,
    pub bd: f64,
    pub chi: f64,
}

/// WD, BD and CHI of `n` points of `d` dims (row-major `x`, f32 or f64) with one label each.
/// Errors unless 2 <= K <= N - 1, the lengths agree and every value is finite.
pub fn cluster_scores<T: Copy + Into<f64>>(
    x: &[T],
    n: usize,
    d: usize,
    labels: &[i64],
) -> Result<ClusterScores> {
    ensure!(x.len() == n * d, "cluster scores: {} values do not make {n} points of {d} dims", x.len());
    ensure!(labels.len() == n, "cluster scores: {} labels for {n} points", labels.len());
    let (codes, distinct) = encode_labels(labels);
    let k = distinct.len();
    ensure!(k >= 2 && k < n, "cluster scores need 2 to N-1 distinct labels (N = {n} points), found {k}");
    let mut counts = vec![0usize; k];
    let mut sums = vec![0f64; k * d];
    let mut total = vec![0f64; d];
    for (i, &c) in codes.iter().enumerate() {
        counts[c] += 1;
        for j in 0..d {
            let v: f64 = x[i * d + j].into();
            ensure!(v.is_finite(), "cluster scores: point {i} has a non-finite value ({v})");
            sums[c * d + j] += v;
            total[j] += v;
        }
    }
    let mean: Vec<f64> = total.iter().map(|s| s / n as f64).collect();
    let means: Vec<f64> = (0..k * d).map(|t| sums[t] / counts[t / d] as f64).collect();
    let mut wd = 0.0;
    for (i, &c) in codes.iter().enumerate() {
        for j in 0..d {
            let e = x[i * d + j].into() - means[c * d + j];
            wd += e * e;
        }
    }
    let mut bd = 0.0;
    for c in 0..k {
        let mut s = 0.0;
        for j in 0..d {
            let e = means[c * d + j] - mean[j];
            s += e * e;
        }
        bd += counts[c] as f64 * s;
    }
    let chi = if wd == 0.0 { 1.0 } else { bd * (n - k) as f64 / (wd * (k - 1) as f64) };
    Ok(ClusterScores { n, k, wd, bd, chi })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_example() {
        // Two classes on a line: {0, 2} and {10}. Means 1 and 10, overall 4.
        let x = [0.0f64, 2.0, 10.0];
        let s = cluster_scores(&x, 3, 1, &[5, 5, -1]).unwrap();
        assert_eq!(s.k, 2);
        assert_eq!(s.wd, 2.0);
        assert_eq!(s.bd, 2.0 * 9.0 + 36.0);
        assert_eq!(s.chi, 54.0 / 2.0 * 1.0 / 1.0);
    }

    #[test]
    fn zero_within_dispersion_gives_one_like_sklearn() {
        let x = [1.0f32, 1.0, 3.0];
        assert_eq!(cluster_scores(&x, 3, 1, &[0, 0, 1]).unwrap().chi, 1.0);
    }

    #[test]
    fn bad_label_counts_are_errors() {
        let x = [0.0f64, 1.0, 2.0];
        let e = cluster_scores(&x, 3, 1, &[1, 1, 1]).unwrap_err();
        assert!(e.to_string().contains("found 1"), "{e}");
        assert!(cluster_scores(&x, 3, 1, &[1, 2, 3]).is_err());
        assert!(cluster_scores(&x, 3, 1, &[1, 2]).is_err());
        assert!(cluster_scores(&[0.0, f64::NAN, 1.0], 3, 1, &[0, 1, 1]).is_err());
    }
}
