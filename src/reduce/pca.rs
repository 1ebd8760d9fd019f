//! PCA of N points of D dims, in f64, deterministic for any thread count.
//!
//! - D >= N (deep features: D up to 65,536, N a few thousand): centre, Gram matrix
//!   G = Xc Xc^T (N x N), eigen-decompose G = U L U^T; scores = U sqrt(L).
//! - D < N: covariance route, C = Xc^T Xc (D x D) = V L V^T; scores = Xc V.
//!
//! Both matrices are built by [`gram`]: panels of 256 columns converted to f64, a symmetric
//! rank-256 update per panel, rows split into fixed blocks on the rayon pool; each entry adds its
//! panels in the same order whatever the thread count.
//!
//! Signs follow scikit-learn 1.5+ (`svd_flip(u_based_decision=False)`): each principal axis
//! (a row of `components_`, in feature space) has its largest-magnitude entry positive.

use super::eigen::symmetric_eigen;
use crate::Result;
use anyhow::ensure;
use rayon::prelude::*;

/// The first `k` principal components of a point set.
#[derive(Clone, Debug)]
pub struct Pca {
    pub n: usize,
    pub k: usize,
    /// Scores (the data projected on the axes), row-major n x k.
    pub scores: Vec<f64>,
    /// Variance along each axis (eigenvalue / (n - 1)), descending.
    pub explained_variance: Vec<f64>,
}

const PANEL: usize = 256;
const ROW_BLOCK: usize = 16;

/// The m x m matrix of dot products between m implicit rows of length `len`, in f64.
/// `fill(row, col0, out)` writes entries `col0 .. col0 + out.len()` of `row`.
pub fn gram(m: usize, len: usize, fill: impl Fn(usize, usize, &mut [f64]) + Sync) -> Vec<f64> {
    let mut g = vec![0.0f64; m * m];
    let mut panel = vec![0.0f64; m * PANEL];
    for c0 in (0..len).step_by(PANEL) {
        let w = PANEL.min(len - c0);
        panel.par_chunks_mut(PANEL).enumerate().for_each(|(r, row)| {
            fill(r, c0, &mut row[..w]);
            row[w..].fill(0.0);
        });
        let panel = &panel;
        g.par_chunks_mut(ROW_BLOCK * m).enumerate().for_each(|(b, rows)| {
            let i0 = b * ROW_BLOCK;
            for (ri, grow) in rows.chunks_mut(m).enumerate() {
                let a = &panel[(i0 + ri) * PANEL..(i0 + ri + 1) * PANEL];
                // Upper triangle only (j >= i); mirrored at the end.
                for (j, gij) in grow.iter_mut().enumerate().skip(i0 + ri) {
                    *gij += dot_lanes(a, &panel[j * PANEL..(j + 1) * PANEL]);
                }
            }
        });
    }
    for i in 0..m {
        for j in 0..i {
            g[i * m + j] = g[j * m + i];
        }
    }
    g
}

/// Dot product of two PANEL-long slices with four fixed lanes (vectorises; fixed order).
#[inline]
fn dot_lanes(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    for (ca, cb) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for l in 0..8 {
            acc[l] += ca[l] * cb[l];
        }
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

/// PCA of `n` points of `d` dims (row-major `x`) to `k` components.
///
/// Errors on non-finite input and on `k > min(n, d)` (scikit-learn's limit). Components beyond
/// the data's rank have zero variance and zero scores.
pub fn pca<T: Copy + Into<f64> + Sync>(x: &[T], n: usize, d: usize, k: usize) -> Result<Pca> {
    ensure!(x.len() == n * d, "PCA: {} values do not make {n} points of {d} dims", x.len());
    ensure!(n >= 2, "PCA needs at least 2 points, got {n}");
    ensure!(
        k >= 1 && k <= n.min(d),
        "PCA: cannot keep {k} components of {n} points in {d} dims (at most min(N, D) = {})",
        n.min(d)
    );
    if let Some(i) = x.iter().position(|v| !(*v).into().is_finite()) {
        anyhow::bail!("PCA: point {} has a non-finite value at feature {}", i / d, i % d);
    }
    let mean = column_means(x, n, d);
    let xc = |i: usize, j: usize| x[i * d + j].into() - mean[j];
    let (scores, lambda) = if d >= n {
        let g = gram(n, d, |r, c0, out| {
            for (t, o) in out.iter_mut().enumerate() {
                *o = xc(r, c0 + t);
            }
        });
        let (vals, vecs) = symmetric_eigen(&g, n);
        let mut scores = vec![0.0; n * k];
        for c in 0..k {
            let u = &vecs[c * n..(c + 1) * n];
            let s = vals[c].max(0.0).sqrt();
            // The axis in feature space is Xc^T u (up to a positive factor): its largest entry
            // decides the sign.
            let axis: Vec<f64> =
                (0..d).into_par_iter().map(|j| (0..n).map(|i| xc(i, j) * u[i]).sum()).collect();
            let sign = sign_of_largest(&axis);
            for i in 0..n {
                scores[i * k + c] = sign * u[i] * s;
            }
        }
        (scores, vals)
    } else {
        let c = gram(d, n, |r, c0, out| {
            for (t, o) in out.iter_mut().enumerate() {
                *o = xc(c0 + t, r);
            }
        });
        let (vals, vecs) = symmetric_eigen(&c, d);
        let signs: Vec<f64> = (0..k).map(|c| sign_of_largest(&vecs[c * d..(c + 1) * d])).collect();
        let mut scores = vec![0.0; n * k];
        scores.par_chunks_mut(k).enumerate().for_each(|(i, row)| {
            for (c, s) in row.iter_mut().enumerate() {
                let v = &vecs[c * d..(c + 1) * d];
                *s = signs[c] * (0..d).map(|j| xc(i, j) * v[j]).sum::<f64>();
            }
        });
        (scores, vals)
    };
    let explained_variance = lambda[..k].iter().map(|l| l.max(0.0) / (n - 1) as f64).collect();
    Ok(Pca { n, k, scores, explained_variance })
}

fn column_means<T: Copy + Into<f64> + Sync>(x: &[T], n: usize, d: usize) -> Vec<f64> {
    (0..d).into_par_iter().map(|j| (0..n).map(|i| x[i * d + j].into()).sum::<f64>() / n as f64).collect()
}

/// +1 or -1: the sign of the entry with the largest magnitude (the first one on ties).
fn sign_of_largest(v: &[f64]) -> f64 {
    let mut best = 0.0f64;
    for &x in v {
        if x.abs() > best.abs() {
            best = x;
        }
    }
    if best < 0.0 {
        -1.0
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rng;

    fn data(n: usize, d: usize, seed: u64) -> Vec<f64> {
        let mut rng = Rng::new(seed);
        // Anisotropic so the components are well separated.
        (0..n * d).map(|t| rng.normal() * (1.0 + (t % d) as f64)).collect()
    }

    #[test]
    fn gram_and_covariance_routes_agree() {
        // Same points, one with D >= N and once padded to D < N by transposing roles is not
        // possible; instead compare each route against scores recomputed from definitions.
        for (n, d) in [(12, 30), (30, 12), (300, 5), (5, 300)] {
            let x = data(n, d, 3);
            let k = 3.min(n.min(d));
            let p = pca(&x, n, d, k).unwrap();
            // Scores are centred, mutually orthogonal, with variance = explained_variance.
            for c in 0..k {
                let col: Vec<f64> = (0..n).map(|i| p.scores[i * k + c]).collect();
                let mean: f64 = col.iter().sum::<f64>() / n as f64;
                let var: f64 = col.iter().map(|v| v * v).sum::<f64>() / (n - 1) as f64;
                assert!(mean.abs() < 1e-9 * var.sqrt());
                assert!((var - p.explained_variance[c]).abs() < 1e-9 * var);
                for c2 in 0..c {
                    let dot: f64 = (0..n).map(|i| p.scores[i * k + c2] * col[i]).sum();
                    assert!(dot.abs() < 1e-8 * var * n as f64);
                }
            }
            assert!(p.explained_variance.windows(2).all(|w| w[0] >= w[1]));
        }
    }

    #[test]
    fn same_bytes_for_any_thread_count() {
        let (n, d) = (40, 600);
        let x: Vec<f32> = data(n, d, 5).iter().map(|&v| v as f32).collect();
        let run = |t| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap()
                .install(|| pca(&x, n, d, 4).unwrap().scores)
        };
        let a = run(1);
        assert!(a.iter().zip(run(2)).all(|(x, y)| x.to_bits() == y.to_bits()));
    }

    #[test]
    fn bad_requests_are_errors() {
        let x = data(4, 3, 1);
        assert!(pca(&x, 4, 3, 4).is_err());
        assert!(pca(&x, 4, 3, 0).is_err());
        let mut y = x.clone();
        y[5] = f64::NAN;
        assert!(pca(&y, 4, 3, 2).unwrap_err().to_string().contains("point 1"));
        // Rank-deficient data: the extra component has zero variance.
        let flat = vec![1.0f64, 2.0, 1.0, 2.0, 1.0, 2.0];
        let p = pca(&flat, 3, 2, 2).unwrap();
        assert!(p.explained_variance.iter().all(|v| v.abs() < 1e-20));
    }
}
