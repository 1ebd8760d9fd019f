//! The joint probabilities P of exact t-SNE, tile by tile from the input points: what both P
//! modes of the CPU backend share, so that they agree bit for bit.
//!
//! Construction keeps, besides the points, two f64 per row (beta_i and the normaliser of
//! p_{.|i}) and the normaliser of P: from these, any block of rows of P can be recomputed
//! exactly. The stored mode does it once into a packed triangle; the streamed mode does it for
//! each block of rows at each use, so its memory is O(N x d + N x tile) instead of O(N^2).
//!
//! Every value goes through the same functions in the same order whichever mode or thread
//! count: a squared distance is an f64 sum over the features in order (no FMA) rounded to f32
//! (AVX2 or SSE2, the lanes are independent columns, so the vector width cannot change a bit);
//! the search of row i sees its distances in column order; P_ij is [`joint_p`].

use crate::device::cpu::tsne::{conditional_p, perplexity_search_row, MACHINE_EPSILON};
use rayon::prelude::*;

/// Rows per tile of distances while P is built.
const TILE: usize = 128;
/// Columns per cache block of a distance tile: 256 columns of 50 f64 features are 100 KB.
const COLS: usize = 256;
/// Columns computed together (independent f64 sums: the loop vectorises without reordering;
/// 16 keeps four AVX2 add chains in flight).
const LANES: usize = 16;

/// Offset of row i's segment (columns i+1..n) in a packed upper triangle of size n.
#[inline]
pub fn row_offset(n: usize, i: usize) -> usize {
    i * (2 * n - i - 1) / 2
}

/// Bytes of P stored as a packed f32 upper triangle of `n` points.
pub fn packed_bytes(n: usize) -> u64 {
    n as u64 * n.saturating_sub(1) as u64 / 2 * 4
}

/// The joint probabilities P_ij for i < j, packed row by row, f32.
#[derive(Clone, Debug)]
pub struct PackedP {
    pub n: usize,
    pub data: Vec<f32>,
}

impl PackedP {
    /// P_ij (= P_ji; 0 for i == j).
    pub fn get(&self, i: usize, j: usize) -> f32 {
        match i.cmp(&j) {
            std::cmp::Ordering::Less => self.data[row_offset(self.n, i) + j - i - 1],
            std::cmp::Ordering::Greater => self.get(j, i),
            std::cmp::Ordering::Equal => 0.0,
        }
    }

    /// The full N x N matrix (for tests, small N and the GPU upload).
    pub fn to_dense(&self) -> Vec<f32> {
        let n = self.n;
        let mut out = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                out[i * n + j] = self.get(i, j);
            }
        }
        out
    }
}

/// Everything P needs besides the distances: the points, each row's perplexity search result
/// and P's normaliser.
pub struct Affinities {
    pub n: usize,
    d: usize,
    /// The points in groups of [`LANES`]: x_jk at ((j / LANES) d + k) LANES + j % LANES, zero
    /// padded to whole groups, so that a group's features are one contiguous run.
    xg: Vec<f64>,
    /// beta_i and sum_i of p_{j|i} = exp(-beta_i d_ij) / sum_i.
    beta: Vec<f64>,
    sum: Vec<f64>,
    /// scikit-learn's sum_P: the sum of p_{j|i} + p_{i|j} over all ordered pairs.
    total: f64,
}

impl Affinities {
    /// scikit-learn's perplexity search for every row and P's normaliser, from `n` points of
    /// `d` dims, two passes over the distances tile by tile.
    pub fn new<T: Copy + Into<f64> + Sync>(x: &[T], n: usize, d: usize, perplexity: f64) -> Affinities {
        let mut xg = vec![0.0f64; n.div_ceil(LANES) * LANES * d];
        for (j, p) in x.chunks(d).enumerate() {
            for (k, &v) in p.iter().enumerate() {
                xg[((j / LANES) * d + k) * LANES + j % LANES] = v.into();
            }
        }
        let mut a = Affinities { n, d, xg, beta: Vec::new(), sum: Vec::new(), total: 0.0 };
        let log_perp = (perplexity as f32 as f64).ln();
        let search: Vec<(f64, f64)> = a
            .tiles()
            .map_init(Vec::new, |buf, (i0, i1)| {
                buf.resize((i1 - i0) * n, 0.0);
                a.sqdist_tile(i0, i1, false, buf);
                let rows = buf.chunks_mut(n).enumerate();
                rows.map(|(r, row)| {
                    // The row without its diagonal, columns in order.
                    row.copy_within(i0 + r + 1.., i0 + r);
                    perplexity_search_row(&row[..n - 1], log_perp)
                })
                .collect::<Vec<_>>()
            })
            .flatten_iter()
            .collect();
        (a.beta, a.sum) = search.into_iter().unzip();
        let sums: Vec<f64> = a
            .tiles()
            .map_init(Vec::new, |buf, (i0, i1)| {
                buf.resize(row_offset(n, i1) - row_offset(n, i0), 0.0);
                a.sym_rows(i0, i1, buf);
                let mut off = 0;
                (i0..i1)
                    .map(|i| {
                        let row = &buf[off..off + n - 1 - i];
                        off += row.len();
                        row.iter().map(|&v| v as f64).sum::<f64>()
                    })
                    .collect::<Vec<_>>()
            })
            .flatten_iter()
            .collect();
        a.total = (2.0 * sums.iter().sum::<f64>()).max(MACHINE_EPSILON);
        a
    }

    /// The row tiles (first row, end), in order.
    fn tiles(&self) -> impl IndexedParallelIterator<Item = (usize, usize)> {
        let n = self.n;
        (0..n.div_ceil(TILE)).into_par_iter().map(move |t| (t * TILE, (t * TILE + TILE).min(n)))
    }

    /// P as a packed triangle: every tile of [`Self::rows_into`] once.
    pub fn packed(&self) -> PackedP {
        let n = self.n;
        let mut data = vec![0.0f32; n * n.saturating_sub(1) / 2];
        let mut parts = Vec::new();
        let mut rest = &mut data[..];
        for (i0, i1) in self.tiles().collect::<Vec<_>>() {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(row_offset(n, i1) - row_offset(n, i0));
            parts.push((i0, i1, head));
            rest = tail;
        }
        parts.into_par_iter().for_each(|(i0, i1, out)| self.rows_into(i0, i1, out));
        PackedP { n, data }
    }

    /// Rows i0..i1 of P packed (row i: columns i+1..n), computed into `out` (resized).
    pub fn rows(&self, i0: usize, i1: usize, out: &mut Vec<f32>) {
        out.resize(row_offset(self.n, i1) - row_offset(self.n, i0), 0.0);
        self.rows_into(i0, i1, out);
    }

    fn rows_into(&self, i0: usize, i1: usize, out: &mut [f32]) {
        self.sym_rows(i0, i1, out);
        for v in out {
            *v = joint_p(*v, self.total);
        }
    }

    /// p_{j|i} + p_{i|j} for rows i0..i1, packed, into `out`.
    fn sym_rows(&self, i0: usize, i1: usize, out: &mut [f32]) {
        self.sqdist_tile(i0, i1, true, out);
        let n = self.n;
        let mut off = 0;
        for i in i0..i1 {
            let row = &mut out[off..off + n - 1 - i];
            off += row.len();
            sym_row(row, self.beta[i], self.sum[i], &self.beta[i + 1..], &self.sum[i + 1..]);
        }
    }

    /// Squared distances of rows i0..i1: columns i+1..n packed (`upper`) or all n columns.
    /// Column blocks outside, rows inside, so that a block of points stays in cache.
    fn sqdist_tile(&self, i0: usize, i1: usize, upper: bool, out: &mut [f32]) {
        let (n, d) = (self.n, self.d);
        let base = row_offset(n, i0);
        let first = if upper { i0 + 1 } else { 0 };
        let mut xi = vec![0.0f64; d];
        for c0 in (first..n).step_by(COLS) {
            let c1 = (c0 + COLS).min(n);
            for i in i0..i1 {
                let lo = if upper { (i + 1).max(c0) } else { c0 };
                let start = if upper { row_offset(n, i) - base + lo - (i + 1) } else { (i - i0) * n + lo };
                if lo >= c1 {
                    continue;
                }
                for (k, v) in xi.iter_mut().enumerate() {
                    *v = self.xg[((i / LANES) * d + k) * LANES + i % LANES];
                }
                sqdist_span(&xi, &self.xg, lo, &mut out[start..start + c1 - lo]);
            }
        }
    }
}

/// P_ij from p_{j|i} + p_{i|j} (an f32 sum, as scikit-learn's P + P.T): divided by sum_P and
/// floored at machine epsilon, as scikit-learn does.
#[inline(always)]
fn joint_p(sym: f32, total: f64) -> f32 {
    ((sym as f64) / total).max(MACHINE_EPSILON) as f32
}

/// `d` (distances of row i to columns j) -> p_{j|i} + p_{i|j}.
fn sym_row(d: &mut [f32], bi: f64, si: f64, bj: &[f64], sj: &[f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked just above).
        unsafe { sym_row_avx2(d, bi, si, bj, sj) };
        return;
    }
    sym_row_body(d, bi, si, bj, sj)
}

#[inline(always)]
fn sym_row_body(d: &mut [f32], bi: f64, si: f64, bj: &[f64], sj: &[f64]) {
    for ((v, &b), &s) in d.iter_mut().zip(bj).zip(sj) {
        *v = conditional_p(*v, bi, si) + conditional_p(*v, b, s);
    }
}

/// [`sym_row_body`] compiled for AVX2: the same lane-wise operations, wider registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sym_row_avx2(d: &mut [f32], bi: f64, si: f64, bj: &[f64], sj: &[f64]) {
    sym_row_body(d, bi, si, bj, sj)
}

/// Squared distances from `xi` to the columns lo..lo + out.len() of `xg`.
fn sqdist_span(xi: &[f64], xg: &[f64], lo: usize, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked just above).
        unsafe { sqdist_span_avx2(xi, xg, lo, out) };
        return;
    }
    sqdist_span_body(xi, xg, lo, out)
}

/// Per column: s = 0, then s += (x_ik - x_jk)^2 for k in order, in f64; rounded to f32 as
/// scikit-learn casts its distances. Whole groups of columns, keeping those asked for.
#[inline(always)]
fn sqdist_span_body(xi: &[f64], xg: &[f64], lo: usize, out: &mut [f32]) {
    let (d, hi) = (xi.len(), lo + out.len());
    let mut j = lo / LANES * LANES;
    while j < hi {
        let g = &xg[j * d..(j + LANES) * d];
        let mut s = [0.0f64; LANES];
        for (k, &a) in xi.iter().enumerate() {
            let col: &[f64; LANES] = g[k * LANES..(k + 1) * LANES].try_into().unwrap();
            for l in 0..LANES {
                let e = a - col[l];
                s[l] += e * e;
            }
        }
        for c in j.max(lo)..(j + LANES).min(hi) {
            out[c - lo] = s[c - j] as f32;
        }
        j += LANES;
    }
}

/// [`sqdist_span_body`] compiled for AVX2: the same lane-wise operations, wider registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sqdist_span_avx2(xi: &[f64], xg: &[f64], lo: usize, out: &mut [f32]) {
    sqdist_span_body(xi, xg, lo, out)
}
