//! The fast CPU path of exact t-SNE: one fused pass over the pairs i < j per iteration that
//! yields Z and both halves of the gradient, with P stored or streamed ([`PSource`]).
//!
//! Memory: P is the only N^2 array, and only in the stored mode: f32 for the pairs i < j
//! (N(N-1)/2 floats: 50 MB at N = 5000). The streamed mode recomputes each 128-row block of P
//! from the points when the pass reaches it, into one block-sized buffer per worker. The
//! Student-t affinities w_ij and the distances of the embedding are never stored as a matrix:
//! each row block keeps O(N) column partial sums, and only the blocks of one wave (16) at a
//! time, so the working memory besides P is O(N x 16 x 4) floats (5 MB at N = 20000). P stays
//! dense because with perplexity 30 most entries of clustered data lie above the 2.2e-16 floor,
//! so a sparse P would be no smaller; every entry is exact.
//!
//! Determinism: rows are cut into blocks of 128 and blocks into waves of 16 whatever the thread
//! count; each block writes only its own row sums and its own column buffer, and after each
//! wave the column buffers are subtracted per point in block order. Lanes of 8 f32 (AVX2
//! intrinsics when the CPU has them, the same arithmetic in portable code otherwise: no fused
//! multiply-adds anywhere) are flushed into f64 every 512 columns.

use super::affinity::Affinities;
pub use super::affinity::{row_offset, PackedP};
use crate::device::cpu::fastmath::ln_ge1;
use crate::device::cpu::tsne::MACHINE_EPSILON;
use rayon::prelude::*;

/// Rows per block of the pair pass.
const BLOCK: usize = 128;
/// Blocks whose column buffers are alive at once.
const WAVE: usize = 16;
/// Columns between two flushes of the f32 lane sums into f64.
const SEGMENT: usize = 512;
const L: usize = 8;
/// x coordinate of padding points: its squared distance to any embedded point overflows to
/// +inf, so w = 1 / (1 + inf) = 0 exactly and every term of the pair is a signed zero.
const PAD: f32 = 3.0e19;

/// Where the pair pass gets P from: both give the same bits (see `tsne_affinity`).
pub enum PSource {
    /// The packed triangle, built once.
    Stored(PackedP),
    /// Recomputed from the points for each block of rows at each use.
    Streamed(Affinities),
}

impl From<PackedP> for PSource {
    fn from(p: PackedP) -> Self {
        PSource::Stored(p)
    }
}

impl From<Affinities> for PSource {
    fn from(a: Affinities) -> Self {
        PSource::Streamed(a)
    }
}

impl PSource {
    pub fn n(&self) -> usize {
        match self {
            PSource::Stored(p) => p.n,
            PSource::Streamed(a) => a.n,
        }
    }

    /// Rows i0..i1 of P packed (row i: columns i+1..n): a slice of the stored triangle, or
    /// computed into `buf`.
    fn rows<'a>(&'a self, i0: usize, i1: usize, buf: &'a mut Vec<f32>) -> &'a [f32] {
        match self {
            PSource::Stored(p) => &p.data[row_offset(p.n, i0)..row_offset(p.n, i1)],
            PSource::Streamed(a) => {
                a.rows(i0, i1, buf);
                buf
            }
        }
    }

    /// `f(i, P row i)` for every row, in parallel by blocks; the results in row order.
    fn map_rows<F: Fn(usize, &[f32]) -> f64 + Sync>(&self, f: F) -> Vec<f64> {
        let n = self.n();
        (0..n.div_ceil(BLOCK))
            .into_par_iter()
            .map_init(Vec::new, |buf, b| {
                let (i0, i1) = (b * BLOCK, (b * BLOCK + BLOCK).min(n));
                let p = self.rows(i0, i1, buf);
                let base = row_offset(n, i0);
                (i0..i1)
                    .map(|i| {
                        let off = row_offset(n, i) - base;
                        f(i, &p[off..off + n - 1 - i])
                    })
                    .collect::<Vec<_>>()
            })
            .flatten_iter()
            .collect()
    }
}

/// Per-iteration workspace and the fused pair pass.
pub struct PairKernel {
    pub p: PSource,
    /// sum_{i != j} p_ij ln p_ij (constant: the KL's entropy term).
    p_log_p: f64,
    yx: Vec<f32>,
    yy: Vec<f32>,
    /// Per block of the current wave: 4 column sums (A_x, A_y, B_x, B_y) for columns
    /// block_start..n, SoA.
    col: Vec<f32>,
    /// Per point: minus the column sums of the blocks above it (A_x, A_y, B_x, B_y).
    col_total: Vec<[f64; 4]>,
    /// Per point: (Z_row, A_x, A_y, B_x, B_y) over the columns to its right.
    row: Vec<[f64; 5]>,
}

impl PairKernel {
    pub fn new(p: impl Into<PSource>) -> PairKernel {
        let p = p.into();
        let n = p.n();
        let rows = p.map_rows(|_, r| r.iter().map(|&v| v as f64 * (v as f64).ln()).sum::<f64>());
        let p_log_p = 2.0 * rows.iter().sum::<f64>();
        PairKernel {
            p,
            p_log_p,
            yx: vec![0.0; n],
            yy: vec![0.0; n],
            col: vec![0.0; 4 * n * WAVE.min(n.div_ceil(BLOCK))],
            col_total: vec![[0.0; 4]; n],
            row: vec![[0.0; 5]; n],
        }
    }

    /// The KL gradient at embedding `y` (N x 2 interleaved) with P scaled by `exaggeration`,
    /// into `grad`. Returns Z = sum_{i != j} w_ij.
    pub fn grad(&mut self, y: &[f32], exaggeration: f64, grad: &mut [f32]) -> f64 {
        let n = self.p.n();
        for i in 0..n {
            self.yx[i] = y[2 * i];
            self.yy[i] = y[2 * i + 1];
        }
        let (yx, yy, source) = (&self.yx[..], &self.yy[..], &self.p);
        self.col_total.fill([0.0; 4]);
        let blocks = n.div_ceil(BLOCK);
        for w0 in (0..blocks).step_by(WAVE) {
            let wave = w0..(w0 + WAVE).min(blocks);
            let mut col_chunks = Vec::with_capacity(WAVE);
            let mut rest = &mut self.col[..];
            for b in wave.clone() {
                let (head, tail) = std::mem::take(&mut rest).split_at_mut(4 * (n - b * BLOCK));
                col_chunks.push(head);
                rest = tail;
            }
            let rows = &mut self.row[w0 * BLOCK..(wave.end * BLOCK).min(n)];
            col_chunks.into_par_iter().zip(rows.par_chunks_mut(BLOCK)).enumerate().for_each_init(
                Vec::new,
                |buf, (k, (col, rows))| {
                    let i0 = (w0 + k) * BLOCK;
                    let p = source.rows(i0, i0 + rows.len(), buf);
                    col.fill(0.0);
                    block_pass(Shared { n, yx, yy, p }, i0, rows, col);
                },
            );
            // Per point, the column sums of this wave's blocks in block order (the order of
            // the subtractions fixes the bits).
            let col = &self.col;
            let j0 = w0 * BLOCK;
            self.col_total[j0..].par_chunks_mut(BLOCK).enumerate().for_each(|(t, acc)| {
                let first = j0 + t * BLOCK;
                let mut off = 0;
                for b in wave.clone() {
                    let (i0, len) = (b * BLOCK, n - b * BLOCK);
                    // Chunks and blocks share their bounds: a block has no column in a chunk
                    // above its first row.
                    if first >= i0 {
                        for q in 0..4 {
                            let cq = &col[off + q * len + first - i0..][..acc.len()];
                            for (a, &v) in acc.iter_mut().zip(cq) {
                                a[q] -= v as f64;
                            }
                        }
                    }
                    off += 4 * len;
                }
            });
        }
        let z = 2.0 * self.row.iter().map(|r| r[0]).sum::<f64>();
        for (j, g) in grad.chunks_mut(2).enumerate() {
            let (r, c) = (&self.row[j], &self.col_total[j]);
            let (ax, ay, bx, by) = (r[1] + c[0], r[2] + c[1], r[3] + c[2], r[4] + c[3]);
            g[0] = (4.0 * (exaggeration * ax - bx / z)) as f32;
            g[1] = (4.0 * (exaggeration * ay - by / z)) as f32;
        }
        z
    }

    /// KL(P || Q) at the embedding of the last [`Self::gradient`] call, whose Z it takes, in
    /// f64, with scikit-learn's floors (q_ij >= machine epsilon).
    pub fn kl(&self, z: f64) -> f64 {
        let n = self.p.n();
        let ln_z = z.ln();
        let ln_eps = MACHINE_EPSILON.ln();
        let (yx, yy) = (&self.yx, &self.yy);
        let parts = self.p.map_rows(|i, ps| {
            let row = KlRow { xi: yx[i], yi: yy[i], xs: &yx[i + 1..], ys: &yy[i + 1..], ps, ln_z, ln_eps };
            let acc = kl_row(row);
            (acc[0] + acc[1]) + (acc[2] + acc[3])
        });
        debug_assert_eq!(parts.len(), n);
        self.p_log_p - 2.0 * parts.iter().sum::<f64>()
    }
}

/// One row of the KL sum: point i against the points i+1.. (SoA) and its P row.
#[derive(Clone, Copy)]
struct KlRow<'a> {
    xi: f32,
    yi: f32,
    xs: &'a [f32],
    ys: &'a [f32],
    ps: &'a [f32],
    ln_z: f64,
    ln_eps: f64,
}

/// Lane sums (element t in lane t % 4) of p_ij ln q_ij, ln q = max(-ln(1 + d^2) - ln Z, ln eps);
/// AVX2 for whole chunks of 4 when the CPU has it, rounding as the scalar code.
fn kl_row(r: KlRow) -> [f64; 4] {
    let mut acc = [0.0f64; 4];
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked just above).
        acc = unsafe { kl_row_avx2(r) };
        done = r.ps.len() / 4 * 4;
    }
    for t in done..r.ps.len() {
        let dx = (r.xi - r.xs[t]) as f64;
        let dy = (r.yi - r.ys[t]) as f64;
        let ln_q = (-ln_ge1(1.0 + (dx * dx + dy * dy)) - r.ln_z).max(r.ln_eps);
        acc[t % 4] += r.ps[t] as f64 * ln_q;
    }
    acc
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn kl_row_avx2(r: KlRow) -> [f64; 4] {
    use crate::device::cpu::fastmath::ln_ge1_avx2;
    use std::arch::x86_64::*;
    let len = r.ps.len();
    assert!(r.xs.len() >= len && r.ys.len() >= len);
    let (xi, yi) = (_mm_set1_ps(r.xi), _mm_set1_ps(r.yi));
    let (one, ln_z, ln_eps) = (_mm256_set1_pd(1.0), _mm256_set1_pd(r.ln_z), _mm256_set1_pd(r.ln_eps));
    let mut acc = _mm256_setzero_pd();
    // SAFETY: t + 4 <= len <= the length of every slice read (checked above).
    unsafe {
        for t in (0..len / 4 * 4).step_by(4) {
            let dx = _mm256_cvtps_pd(_mm_sub_ps(xi, _mm_loadu_ps(r.xs.as_ptr().add(t))));
            let dy = _mm256_cvtps_pd(_mm_sub_ps(yi, _mm_loadu_ps(r.ys.as_ptr().add(t))));
            let d = _mm256_add_pd(_mm256_mul_pd(dx, dx), _mm256_mul_pd(dy, dy));
            let l = ln_ge1_avx2(_mm256_add_pd(one, d));
            let ln_q = _mm256_max_pd(_mm256_sub_pd(_mm256_sub_pd(_mm256_setzero_pd(), l), ln_z), ln_eps);
            let p = _mm256_cvtps_pd(_mm_loadu_ps(r.ps.as_ptr().add(t)));
            acc = _mm256_add_pd(acc, _mm256_mul_pd(p, ln_q));
        }
    }
    let mut out = [0.0f64; 4];
    // SAFETY: out holds 4 f64.
    unsafe { _mm256_storeu_pd(out.as_mut_ptr(), acc) };
    out
}

/// What every block reads: the embedding (SoA) and the rows of P from the block's first on.
#[derive(Clone, Copy)]
struct Shared<'a> {
    n: usize,
    yx: &'a [f32],
    yy: &'a [f32],
    p: &'a [f32],
}

/// All pairs (i, j) with i in this block's rows (from i0) and j > i: row sums into `rows`,
/// column sums (to be subtracted from the points j) into `col`.
fn block_pass(s: Shared, i0: usize, rows: &mut [[f64; 5]], col: &mut [f32]) {
    let len = s.n - i0;
    let (cax, rest) = col.split_at_mut(len);
    let (cay, rest) = rest.split_at_mut(len);
    let (cbx, cby) = rest.split_at_mut(len);
    let mut cols = [cax, cay, cbx, cby];
    for (r, out) in rows.iter_mut().enumerate() {
        *out = [0.0; 5];
        row_pass(s, i0 + r, i0, out, &mut cols);
    }
}

/// Row i against columns i+1..n, in segments of 512 columns (lane sums flushed to f64 after each)
/// and chunks of 8; the last partial chunk is padded with far points of zero probability (see
/// [`PAD`]), which add exact zeros.
#[inline]
fn row_pass(s: Shared, i: usize, i0: usize, out: &mut [f64; 5], cols: &mut [&mut [f32]; 4]) {
    let Shared { n, yx, yy, p } = s;
    // `p` holds the rows from i0 on: P_{i, j} sits at row_offset(i) - row_offset(i0) + j - (i + 1).
    let poff = row_offset(n, i) - row_offset(n, i0) + n - i - 1; // P index of column j: poff + j - n
    let (xi, yi) = (yx[i], yy[i]);
    let mut j = i + 1;
    while j < n {
        let seg_end = (j + SEGMENT).min(n);
        let full = (seg_end - j) / L * L;
        let mut acc = [[0.0f32; L]; 5];
        let (pj, c0) = (poff + j - n, j - i0);
        let chunk = Chunk { xi, yi, xs: &yx[j..j + full], ys: &yy[j..j + full], ps: &p[pj..pj + full] };
        let [cax, cay, cbx, cby] = cols;
        full_chunks(
            chunk,
            &mut acc,
            [
                &mut cax[c0..c0 + full],
                &mut cay[c0..c0 + full],
                &mut cbx[c0..c0 + full],
                &mut cby[c0..c0 + full],
            ],
        );
        let w = seg_end - j - full;
        if w > 0 {
            let (j, c0, pj) = (j + full, c0 + full, pj + full);
            let mut xj = [PAD; L];
            let mut yj = [0.0f32; L];
            let mut pp = [0.0f32; L];
            xj[..w].copy_from_slice(&yx[j..j + w]);
            yj[..w].copy_from_slice(&yy[j..j + w]);
            pp[..w].copy_from_slice(&p[pj..pj + w]);
            let mut c = [[0.0f32; L]; 4];
            for q in 0..4 {
                c[q][..w].copy_from_slice(&cols[q][c0..c0 + w]);
            }
            lanes(xi, yi, &xj, &yj, &pp, &mut acc, &mut c);
            for q in 0..4 {
                cols[q][c0..c0 + w].copy_from_slice(&c[q][..w]);
            }
        }
        for q in 0..5 {
            let v = &acc[q];
            let h = ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
            out[q] += h as f64;
        }
        j = seg_end;
    }
}

/// One row's coordinates against a run of whole chunks of 8 columns.
#[derive(Clone, Copy)]
struct Chunk<'a> {
    xi: f32,
    yi: f32,
    xs: &'a [f32],
    ys: &'a [f32],
    ps: &'a [f32],
}

/// [`lanes`] over every chunk of 8 in `c` (lengths equal, multiples of 8): AVX2 intrinsics when
/// the CPU has them, the portable lanes otherwise; both round identically.
#[inline]
fn full_chunks(c: Chunk, acc: &mut [[f32; L]; 5], cols: [&mut [f32]; 4]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked just above).
        unsafe { full_chunks_avx2(c, acc, cols) };
        return;
    }
    let [cax, cay, cbx, cby] = cols;
    for k in (0..c.xs.len()).step_by(L) {
        let r = k..k + L;
        let arr = |v: &[f32]| -> [f32; L] { v.try_into().unwrap() };
        let mut cc = [arr(&cax[r.clone()]), arr(&cay[r.clone()]), arr(&cbx[r.clone()]), arr(&cby[r.clone()])];
        let (xj, yj, pj) = (arr(&c.xs[r.clone()]), arr(&c.ys[r.clone()]), arr(&c.ps[r.clone()]));
        lanes(c.xi, c.yi, &xj, &yj, &pj, acc, &mut cc);
        cax[r.clone()].copy_from_slice(&cc[0]);
        cay[r.clone()].copy_from_slice(&cc[1]);
        cbx[r.clone()].copy_from_slice(&cc[2]);
        cby[r].copy_from_slice(&cc[3]);
    }
}

/// The whole chunks of [`full_chunks`] with AVX2: per lane exactly the operations of
/// [`pair_terms`] and [`lanes`], in the same order (no FMA).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn full_chunks_avx2(c: Chunk, acc: &mut [[f32; L]; 5], cols: [&mut [f32]; 4]) {
    use std::arch::x86_64::*;
    let len = c.xs.len();
    assert!(c.ys.len() == len && c.ps.len() == len && cols.iter().all(|v| v.len() == len));
    let (xi, yi, one) = (_mm256_set1_ps(c.xi), _mm256_set1_ps(c.yi), _mm256_set1_ps(1.0));
    // SAFETY (all pointer reads and writes below): k + 8 <= len for every slice, checked above.
    unsafe {
        let mut a: [__m256; 5] = std::array::from_fn(|q| _mm256_loadu_ps(acc[q].as_ptr()));
        let cp: [*mut f32; 4] =
            [cols[0].as_mut_ptr(), cols[1].as_mut_ptr(), cols[2].as_mut_ptr(), cols[3].as_mut_ptr()];
        for k in (0..len).step_by(L) {
            let dx = _mm256_sub_ps(xi, _mm256_loadu_ps(c.xs.as_ptr().add(k)));
            let dy = _mm256_sub_ps(yi, _mm256_loadu_ps(c.ys.as_ptr().add(k)));
            let d = _mm256_add_ps(_mm256_mul_ps(dx, dx), _mm256_mul_ps(dy, dy));
            let w = _mm256_div_ps(one, _mm256_add_ps(one, d));
            let pw = _mm256_mul_ps(_mm256_loadu_ps(c.ps.as_ptr().add(k)), w);
            let ww = _mm256_mul_ps(w, w);
            let t =
                [_mm256_mul_ps(pw, dx), _mm256_mul_ps(pw, dy), _mm256_mul_ps(ww, dx), _mm256_mul_ps(ww, dy)];
            a[0] = _mm256_add_ps(a[0], w);
            for q in 0..4 {
                a[q + 1] = _mm256_add_ps(a[q + 1], t[q]);
                let col = cp[q].add(k);
                _mm256_storeu_ps(col, _mm256_add_ps(_mm256_loadu_ps(col), t[q]));
            }
        }
        for q in 0..5 {
            _mm256_storeu_ps(acc[q].as_mut_ptr(), a[q]);
        }
    }
}

/// (w, p w dx, p w dy, w^2 dx, w^2 dy) of one pair.
#[inline(always)]
fn pair_terms(dx: f32, dy: f32, p: f32) -> [f32; 5] {
    let w = 1.0 / (1.0 + (dx * dx + dy * dy));
    let pw = p * w;
    let ww = w * w;
    [w, pw * dx, pw * dy, ww * dx, ww * dy]
}

/// One row against 8 columns: row sums into `acc` (per quantity, per lane), column sums into
/// `c`.
#[inline(always)]
fn lanes(
    xi: f32,
    yi: f32,
    xj: &[f32; L],
    yj: &[f32; L],
    pj: &[f32; L],
    acc: &mut [[f32; L]; 5],
    c: &mut [[f32; L]; 4],
) {
    for l in 0..L {
        let t = pair_terms(xi - xj[l], yi - yj[l], pj[l]);
        for q in 0..5 {
            acc[q][l] += t[q];
        }
        for q in 0..4 {
            c[q][l] += t[q + 1];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::cpu::tsne as reference;
    use crate::reduce::tsne::kl_and_grad_f64;
    use crate::Rng;

    fn points(rng: &mut Rng, n: usize, d: usize) -> Vec<f32> {
        (0..n * d).map(|t| (rng.normal() + 3.0 * ((t / d) % 3) as f64) as f32).collect()
    }

    /// P from the dense reference kernels (the CUDA kernels' twins).
    fn reference_p(x: &[f32], n: usize, d: usize, perplexity: f32) -> Vec<f32> {
        let mut dist = vec![0.0; n * n];
        reference::tsne_sqdist_f32(x, n, d, &mut dist);
        let (mut pc, mut rs) = (vec![0.0; n * n], vec![0.0; n]);
        reference::tsne_perplexity_f32(&dist, n, perplexity, &mut pc, &mut rs);
        let total: f64 = 2.0 * rs.iter().map(|&v| v as f64).sum::<f64>();
        let mut p = vec![0.0; n * n];
        reference::tsne_joint_p_f32(&pc, n, total, &mut p);
        p
    }

    #[test]
    fn packed_p_matches_the_dense_reference() {
        let mut rng = Rng::new(7);
        for n in [5, 64, 131] {
            let x = points(&mut rng, n, 9);
            let fast = Affinities::new(&x, n, 9, 4.0).packed().to_dense();
            let want = reference_p(&x, n, 9, 4.0);
            for (a, b) in fast.iter().zip(&want) {
                assert!((a - b).abs() <= 2e-7 * b.abs(), "{a} vs {b}");
            }
            let sum: f64 = fast.iter().map(|&v| v as f64).sum();
            assert!((sum - 1.0).abs() < 1e-5, "P sums to {sum}");
        }
    }

    #[test]
    fn fused_pass_matches_plain_f64_formulas() {
        let mut rng = Rng::new(8);
        // Sizes around the lane, group, block and segment edges.
        for n in [4, 9, 67, 130, 600, 2200] {
            let x = points(&mut rng, n, 5);
            let p = Affinities::new(&x, n, 5, 3.0).packed();
            let dense = p.to_dense();
            let y: Vec<f32> = (0..2 * n).map(|_| rng.normal() as f32 * 3.0).collect();
            let y64: Vec<f64> = y.iter().map(|&v| v as f64).collect();
            let (kl, g) = kl_and_grad_f64(&p, &y64);
            let mut k = PairKernel::new(p);
            let mut grad = vec![f32::NAN; 2 * n];
            let z = k.grad(&y, 1.0, &mut grad);
            let scale = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            for (a, b) in grad.iter().zip(&g) {
                assert!((*a as f64 - b).abs() <= 1e-5 * scale, "n={n}: {a} vs {b}");
            }
            let kl_fast = k.kl(z);
            assert!((kl_fast - kl).abs() <= 1e-6 * kl.abs().max(1.0), "{kl_fast} vs {kl}");
            // Exaggeration scales the attractive half only.
            let mut g12 = vec![0.0; 2 * n];
            k.grad(&y, 12.0, &mut g12);
            let mut rows = vec![0.0; 5 * n];
            reference::tsne_rowsums_f32(&dense, &y, n, &mut rows);
            let mut zz = [0.0];
            reference::tsne_q_sum_f32(&rows, n, &mut zz);
            let mut want = vec![0.0; 2 * n];
            reference::tsne_grad_f32(&rows, &zz, n, 12.0, &mut want);
            let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            for (a, b) in g12.iter().zip(&want) {
                assert!((a - b).abs() <= 1e-5 * scale, "n={n}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn streamed_p_gives_the_bits_of_stored_p() {
        let mut rng = Rng::new(9);
        // Past one wave of blocks (16 x 128 rows), so that the per-wave column fold is crossed.
        let n = WAVE * BLOCK + 77;
        let x = points(&mut rng, n, 3);
        let y: Vec<f32> = (0..2 * n).map(|_| rng.normal() as f32 * 3.0).collect();
        let a = Affinities::new(&x, n, 3, 5.0);
        let mut stored = PairKernel::new(a.packed());
        let mut streamed = PairKernel::new(a);
        let (mut g1, mut g2) = (vec![0.0; 2 * n], vec![0.0; 2 * n]);
        let z1 = stored.grad(&y, 12.0, &mut g1);
        let z2 = streamed.grad(&y, 12.0, &mut g2);
        assert_eq!(z1.to_bits(), z2.to_bits());
        assert!(g1.iter().zip(&g2).all(|(a, b)| a.to_bits() == b.to_bits()), "gradients differ");
        assert_eq!(stored.kl(z1).to_bits(), streamed.kl(z2).to_bits());
    }
}
