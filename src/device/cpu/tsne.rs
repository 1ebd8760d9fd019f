//! CPU references for `kernels/tsne.cu`: exact t-SNE's building blocks over dense row-major
//! N x N matrices, with the same names and semantics as the CUDA kernels. They are written for
//! clarity (f64 accumulation, one row at a time); the fast CPU t-SNE in `reduce::tsne::cpu`
//! computes the same quantities with symmetric tiles and is tested against these.
//!
//! Layouts: points `x` are N x D row-major f32; the embedding `y` is N x 2 interleaved
//! (x0, y0, x1, y1, ...); `rows` holds five numbers per point, see [`tsne_rowsums_f32`].

use super::fastmath::exp_neg;
use rayon::prelude::*;

/// scikit-learn's floor for probabilities: `np.finfo(np.double).eps`.
pub const MACHINE_EPSILON: f64 = f64::EPSILON;
/// scikit-learn's entropy tolerance, a C `float` 1e-5 read as a double.
pub const PERPLEXITY_TOLERANCE: f64 = 1e-5f32 as f64;
/// scikit-learn's stand-in for a zero row sum, a C `float` 1e-8 read as a double.
pub const ZERO_SUM: f64 = 1e-8f32 as f64;
/// Binary-search steps per row, as scikit-learn.
pub const PERPLEXITY_STEPS: usize = 100;

/// out[i, j] = sum_k (x[i, k] - x[j, k])^2, accumulated in f64 in order k = 0.., rounded to f32.
pub fn tsne_sqdist_f32(x: &[f32], n: usize, d: usize, out: &mut [f32]) {
    assert!(x.len() == n * d && out.len() == n * n);
    out.par_chunks_mut(n.max(1)).enumerate().for_each(|(i, row)| {
        let xi = &x[i * d..(i + 1) * d];
        for (j, o) in row.iter_mut().enumerate() {
            let xj = &x[j * d..(j + 1) * d];
            let mut s = 0.0f64;
            for k in 0..d {
                let t = xi[k] as f64 - xj[k] as f64;
                s += t * t;
            }
            *o = s as f32;
        }
    });
}

/// Binary search for the precision beta of one row, exactly as scikit-learn's
/// `_binary_search_perplexity` (beta starts at 1, doubles/halves until bracketed, then bisects;
/// stops when |entropy - ln(perplexity)| <= 1e-5 or after 100 steps). `d` holds the row's
/// squared distances WITHOUT the point itself. Returns (beta, sum) of the last evaluation:
/// the conditional probabilities are exp(-d_j beta) / sum.
pub fn perplexity_search_row(d: &[f32], log_perplexity: f64) -> (f64, f64) {
    let (mut beta, mut lo, mut hi) = (1.0f64, f64::NEG_INFINITY, f64::INFINITY);
    let mut last = (beta, ZERO_SUM);
    for _ in 0..PERPLEXITY_STEPS {
        let (s, sd) = exp_sums(d, beta);
        let mut sum = (s[0] + s[1]) + (s[2] + s[3]);
        let sum_d = (sd[0] + sd[1]) + (sd[2] + sd[3]);
        if sum == 0.0 {
            sum = ZERO_SUM;
        }
        last = (beta, sum);
        let entropy = sum.ln() + beta * (sum_d / sum);
        let diff = entropy - log_perplexity;
        if diff.abs() <= PERPLEXITY_TOLERANCE {
            break;
        }
        if diff > 0.0 {
            lo = beta;
            beta = if hi == f64::INFINITY { beta * 2.0 } else { (beta + hi) / 2.0 };
        } else {
            hi = beta;
            beta = if lo == f64::NEG_INFINITY { beta / 2.0 } else { (beta + lo) / 2.0 };
        }
    }
    last
}

/// Lane sums (four fixed lanes: element t goes to lane t % 4) of e_j = exp(-d_j beta) and of
/// d_j e_j, in f64. AVX2 when the CPU has it; the scalar path rounds identically.
fn exp_sums(d: &[f32], beta: f64) -> ([f64; 4], [f64; 4]) {
    let mut s = [0.0f64; 4];
    let mut sd = [0.0f64; 4];
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked just above).
        unsafe { exp_sums_avx2(d, beta, &mut s, &mut sd) };
        done = d.len() / 4 * 4;
    }
    for (t, &dj) in d.iter().enumerate().skip(done) {
        let dj = dj as f64;
        let e = exp_neg(-dj * beta);
        s[t % 4] += e;
        sd[t % 4] += dj * e;
    }
    (s, sd)
}

/// The full chunks of four of [`exp_sums`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn exp_sums_avx2(d: &[f32], beta: f64, s: &mut [f64; 4], sd: &mut [f64; 4]) {
    use super::fastmath::exp_neg_avx2;
    use std::arch::x86_64::*;
    let nb = _mm256_set1_pd(-beta);
    let (mut vs, mut vsd) = (_mm256_setzero_pd(), _mm256_setzero_pd());
    let chunk = |c: &[f32]| {
        // SAFETY: c holds 4 f32.
        let dj = _mm256_cvtps_pd(unsafe { _mm_loadu_ps(c.as_ptr()) });
        // dj * (-beta) == -dj * beta exactly (IEEE multiplication is sign-symmetric).
        (dj, exp_neg_avx2(_mm256_mul_pd(dj, nb)))
    };
    // Four independent exponentials per trip for instruction-level parallelism; the sums still
    // take the chunks in order, so the rounding is that of the plain loop.
    let mut quads = d.chunks_exact(16);
    for q in &mut quads {
        let e: [_; 4] = std::array::from_fn(|k| chunk(&q[4 * k..4 * k + 4]));
        for (dj, ej) in e {
            vs = _mm256_add_pd(vs, ej);
            vsd = _mm256_add_pd(vsd, _mm256_mul_pd(dj, ej));
        }
    }
    for c in quads.remainder().chunks_exact(4) {
        let (dj, ej) = chunk(c);
        vs = _mm256_add_pd(vs, ej);
        vsd = _mm256_add_pd(vsd, _mm256_mul_pd(dj, ej));
    }
    // SAFETY: s and sd hold 4 f64 each.
    unsafe {
        _mm256_storeu_pd(s.as_mut_ptr(), vs);
        _mm256_storeu_pd(sd.as_mut_ptr(), vsd);
    }
}

/// One conditional probability p_{j|i} = exp(-d beta) / sum, rounded to f32 (as scikit-learn
/// returns them).
#[inline(always)]
pub fn conditional_p(d: f32, beta: f64, sum: f64) -> f32 {
    (exp_neg(-(d as f64) * beta) / sum) as f32
}

/// Per row i of the N x N squared distances `dist`: the perplexity search, then
/// pcond[i, j] = p_{j|i} (0 on the diagonal) and rowsum[i] = sum_j pcond[i, j] (f64, as f32).
pub fn tsne_perplexity_f32(dist: &[f32], n: usize, perplexity: f32, pcond: &mut [f32], rowsum: &mut [f32]) {
    assert!(dist.len() == n * n && pcond.len() == n * n && rowsum.len() == n);
    let log_perp = (perplexity as f64).ln();
    pcond.par_chunks_mut(n.max(1)).zip(rowsum.par_iter_mut()).enumerate().for_each(|(i, (prow, rs))| {
        let drow = &dist[i * n..(i + 1) * n];
        let off: Vec<f32> = (0..n).filter(|&j| j != i).map(|j| drow[j]).collect();
        let (beta, sum) = perplexity_search_row(&off, log_perp);
        let mut total = 0.0f64;
        for j in 0..n {
            prow[j] = if j == i { 0.0 } else { conditional_p(drow[j], beta, sum) };
            total += prow[j] as f64;
        }
        *rs = total as f32;
    });
}

/// P[i, j] = max((pcond[i, j] + pcond[j, i]) / total, MACHINE_EPSILON) off the diagonal, 0 on
/// it; `total` = scikit-learn's `sum_P`, the sum of all entries of pcond + pcond^T (twice the
/// sum of the row sums).
pub fn tsne_joint_p_f32(pcond: &[f32], n: usize, total: f64, p: &mut [f32]) {
    assert!(pcond.len() == n * n && p.len() == n * n);
    p.par_chunks_mut(n.max(1)).enumerate().for_each(|(i, row)| {
        for (j, o) in row.iter_mut().enumerate() {
            *o = if i == j {
                0.0
            } else {
                let sym = pcond[i * n + j] + pcond[j * n + i];
                (sym as f64 / total).max(MACHINE_EPSILON) as f32
            };
        }
    });
}

/// (y_i - y_j) [x, y] (differences in f32, as the kernels take them) and
/// w_ij = 1 / (1 + |y_i - y_j|^2) in f64.
#[inline]
fn student_t(y: &[f32], i: usize, j: usize) -> (f64, f64, f64) {
    let dx = (y[2 * i] - y[2 * j]) as f64;
    let dy = (y[2 * i + 1] - y[2 * j + 1]) as f64;
    (dx, dy, 1.0 / (1.0 + dx * dx + dy * dy))
}

/// Per point i, with w_ij = 1 / (1 + |y_i - y_j|^2) over j != i:
/// rows[5i..5i+5] = (Z_i = sum w, A = sum p_ij w (y_i - y_j) [x, y], B = sum w^2 (y_i - y_j)
/// [x, y]). Then KL's gradient is 4 (exaggeration A - B / Z) with Z = sum_i Z_i.
pub fn tsne_rowsums_f32(p: &[f32], y: &[f32], n: usize, rows: &mut [f32]) {
    assert!(p.len() == n * n && y.len() == 2 * n && rows.len() == 5 * n);
    rows.par_chunks_mut(5).enumerate().for_each(|(i, r)| {
        let mut acc = [0.0f64; 5];
        for j in 0..n {
            if j == i {
                continue;
            }
            let (dx, dy, w) = student_t(y, i, j);
            let pw = p[i * n + j] as f64 * w;
            let ww = w * w;
            acc[0] += w;
            acc[1] += pw * dx;
            acc[2] += pw * dy;
            acc[3] += ww * dx;
            acc[4] += ww * dy;
        }
        for (o, a) in r.iter_mut().zip(acc) {
            *o = a as f32;
        }
    });
}

/// z[0] = sum_i rows[5i] (in f64, point order).
pub fn tsne_q_sum_f32(rows: &[f32], n: usize, z: &mut [f32]) {
    assert!(rows.len() == 5 * n && z.len() == 1);
    z[0] = (0..n).map(|i| rows[5 * i] as f64).sum::<f64>() as f32;
}

/// grad[2i + c] = 4 (exaggeration * A_c - B_c / Z), from [`tsne_rowsums_f32`] and
/// [`tsne_q_sum_f32`]; f32 arithmetic in that order.
pub fn tsne_grad_f32(rows: &[f32], z: &[f32], n: usize, exaggeration: f32, grad: &mut [f32]) {
    assert!(rows.len() == 5 * n && grad.len() == 2 * n && z.len() == 1);
    for i in 0..n {
        for c in 0..2 {
            let a = rows[5 * i + 1 + c];
            let b = rows[5 * i + 3 + c];
            grad[2 * i + c] = 4.0 * (exaggeration * a - b / z[0]);
        }
    }
}

/// scikit-learn's gradient-descent step with momentum and per-parameter gains, in f32:
/// gains += 0.2 where update and grad have opposite signs, else gains *= 0.8; gains floored at
/// `min_gain`; update = momentum * update - learning_rate * gains * grad; y += update.
pub fn tsne_update_f32(
    grad: &[f32],
    momentum: f32,
    learning_rate: f32,
    min_gain: f32,
    update: &mut [f32],
    gains: &mut [f32],
    y: &mut [f32],
) {
    let m = grad.len();
    assert!(update.len() == m && gains.len() == m && y.len() == m);
    for t in 0..m {
        let g = grad[t];
        let mut gain = if update[t] * g < 0.0 { gains[t] + 0.2 } else { gains[t] * 0.8 };
        if gain < min_gain {
            gain = min_gain;
        }
        gains[t] = gain;
        let u = momentum * update[t] - learning_rate * (g * gain);
        update[t] = u;
        y[t] += u;
    }
}

/// Per row i: kl[i] = sum_{j != i} p_ij ln(max(p_ij, eps) / max(w_ij / Z, eps)), in f64, stored
/// as f32; the KL divergence is the sum over rows.
pub fn tsne_kl_rows_f32(p: &[f32], y: &[f32], n: usize, z: &[f32], kl: &mut [f32]) {
    assert!(p.len() == n * n && y.len() == 2 * n && kl.len() == n && z.len() == 1);
    let z = z[0] as f64;
    kl.par_iter_mut().enumerate().for_each(|(i, out)| {
        let mut s = 0.0f64;
        for j in 0..n {
            if j == i {
                continue;
            }
            let (_, _, w) = student_t(y, i, j);
            let q = (w / z).max(MACHINE_EPSILON);
            let pij = p[i * n + j] as f64;
            s += pij * (pij.max(MACHINE_EPSILON).ln() - q.ln());
        }
        *out = s as f32;
    });
}
