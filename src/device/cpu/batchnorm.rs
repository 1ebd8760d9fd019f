//! BatchNorm2d over NCHW, per channel, as PyTorch computes it.
//!
//! Train mode normalises with the batch's mean and biased variance, and moves the running
//! statistics by `momentum` towards the batch mean and the UNBIASED variance. Eval mode uses the
//! running statistics. Per-channel sums are taken in f64 in a fixed order.

use rayon::prelude::*;

fn plane(x: &[f32], img: usize, ch: usize, c: usize, hw: usize) -> &[f32] {
    &x[(img * c + ch) * hw..][..hw]
}

/// Train-mode forward. `x`, `y`: `[n, c, hw]`; `gamma`, `beta`, `running_*`: `[c]`; `stats`:
/// `[2, c]`, written with what the backward pass needs: per-channel mean, then 1/sqrt(var+eps).
pub fn batchnorm_train_fwd_f32(
    n: usize,
    c: usize,
    hw: usize,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    momentum: f32,
    running_mean: &mut [f32],
    running_var: &mut [f32],
    y: &mut [f32],
    stats: &mut [f32],
) {
    let m = (n * hw) as f64;
    let per_channel: Vec<(f32, f32, f64)> = (0..c)
        .into_par_iter()
        .map(|ch| {
            let sum: f64 =
                (0..n).map(|i| plane(x, i, ch, c, hw).iter().map(|&v| v as f64).sum::<f64>()).sum();
            let mean = sum / m;
            let ss: f64 = (0..n)
                .map(|i| plane(x, i, ch, c, hw).iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>())
                .sum();
            let var = ss / m;
            (mean as f32, (1.0 / (var + eps as f64).sqrt()) as f32, var)
        })
        .collect();
    for (ch, &(mean, _, var)) in per_channel.iter().enumerate() {
        let unbiased = if m > 1.0 { var * m / (m - 1.0) } else { var };
        running_mean[ch] = (1.0 - momentum) * running_mean[ch] + momentum * mean;
        running_var[ch] = (1.0 - momentum) * running_var[ch] + momentum * unbiased as f32;
    }
    let (mean, inv_std) = stats.split_at_mut(c);
    for (ch, &(m, istd, _)) in per_channel.iter().enumerate() {
        (mean[ch], inv_std[ch]) = (m, istd);
    }
    normalise(n, c, hw, x, mean, inv_std, gamma, beta, y);
}

/// Eval-mode forward with the running statistics.
pub fn batchnorm_eval_fwd_f32(
    n: usize,
    c: usize,
    hw: usize,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    running_mean: &[f32],
    running_var: &[f32],
    y: &mut [f32],
) {
    let inv_std: Vec<f32> = running_var.iter().map(|&v| 1.0 / (v + eps).sqrt()).collect();
    normalise(n, c, hw, x, running_mean, &inv_std, gamma, beta, y);
}

fn normalise(
    n: usize,
    c: usize,
    hw: usize,
    x: &[f32],
    mean: &[f32],
    inv_std: &[f32],
    gamma: &[f32],
    beta: &[f32],
    y: &mut [f32],
) {
    debug_assert_eq!(x.len(), n * c * hw);
    y.par_chunks_mut(hw).zip(x.par_chunks(hw)).enumerate().for_each(|(i, (yo, xi))| {
        let ch = i % c;
        let (a, b) = (gamma[ch] * inv_std[ch], beta[ch] - gamma[ch] * inv_std[ch] * mean[ch]);
        yo.iter_mut().zip(xi).for_each(|(y, &x)| *y = a * x + b);
    });
}

/// Train-mode backward: `dx` (overwritten), `dgamma += sum(dy * xhat)`, `dbeta += sum(dy)` when
/// given (a frozen layer passes `None`); `stats` as [`batchnorm_train_fwd_f32`] wrote them.
pub fn batchnorm_train_bwd_f32(
    n: usize,
    c: usize,
    hw: usize,
    x: &[f32],
    dy: &[f32],
    gamma: &[f32],
    stats: &[f32],
    dx: &mut [f32],
    dgamma: Option<&mut [f32]>,
    dbeta: Option<&mut [f32]>,
) {
    let m = (n * hw) as f64;
    let (mean, inv_std) = stats.split_at(c);
    let sums: Vec<(f64, f64)> = (0..c)
        .into_par_iter()
        .map(|ch| {
            let (mean, istd) = (mean[ch] as f64, inv_std[ch] as f64);
            let (mut sdy, mut sdyx) = (0f64, 0f64);
            for i in 0..n {
                for (&d, &v) in plane(dy, i, ch, c, hw).iter().zip(plane(x, i, ch, c, hw)) {
                    sdy += d as f64;
                    sdyx += d as f64 * (v as f64 - mean) * istd;
                }
            }
            (sdy, sdyx)
        })
        .collect();
    if let Some(dbeta) = dbeta {
        dbeta.iter_mut().zip(&sums).for_each(|(d, &(sdy, _))| *d += sdy as f32);
    }
    if let Some(dgamma) = dgamma {
        dgamma.iter_mut().zip(&sums).for_each(|(d, &(_, sdyx))| *d += sdyx as f32);
    }
    dx.par_chunks_mut(hw).enumerate().for_each(|(i, dxo)| {
        let (img, ch) = (i / c, i % c);
        let (mean, istd) = (mean[ch], inv_std[ch]);
        let (sdy, sdyx) = ((sums[ch].0 / m) as f32, (sums[ch].1 / m) as f32);
        let k = gamma[ch] * istd;
        for ((d, &g), &v) in dxo.iter_mut().zip(plane(dy, img, ch, c, hw)).zip(plane(x, img, ch, c, hw)) {
            let xhat = (v - mean) * istd;
            *d = k * (g - sdy - xhat * sdyx);
        }
    });
}
