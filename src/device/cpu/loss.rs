//! Losses: value and gradient in one pass. Values are summed in f64 over fixed-size chunks added
//! in order, so they do not depend on the thread count. `weight` multiplies both the value and
//! the gradient (a loss term's weight in a sum of losses).

use rayon::prelude::*;

const CHUNK: usize = 1 << 14;

/// Sums `f(pred, target)` into f64 and writes `g(pred, target)` into `grad`.
fn reduce(
    pred: &[f32],
    target: &[f32],
    grad: &mut [f32],
    f: impl Fn(f32, f32) -> f64 + Sync,
    g: impl Fn(f32, f32) -> f32 + Sync,
) -> f64 {
    debug_assert!(pred.len() == target.len() && pred.len() == grad.len());
    let partial: Vec<f64> = grad
        .par_chunks_mut(CHUNK)
        .zip(pred.par_chunks(CHUNK).zip(target.par_chunks(CHUNK)))
        .map(|(gr, (p, t))| {
            let mut s = 0f64;
            for k in 0..gr.len() {
                s += f(p[k], t[k]);
                gr[k] = g(p[k], t[k]);
            }
            s
        })
        .collect();
    partial.iter().sum()
}

/// `weight` times the mean of `f(pred, target)`; writes `g(pred, target)` into `grad`.
fn mean(
    pred: &[f32],
    target: &[f32],
    weight: f32,
    grad: &mut [f32],
    f: impl Fn(f32, f32) -> f64 + Sync,
    g: impl Fn(f32, f32) -> f32 + Sync,
) -> f64 {
    weight as f64 * reduce(pred, target, grad, f, g) / pred.len() as f64
}

/// Mean absolute error. d/dp = sign(p - t) / N (0 where p == t, as PyTorch).
pub fn l1_mean_f32(pred: &[f32], target: &[f32], weight: f32, grad: &mut [f32]) -> f64 {
    let k = weight / pred.len() as f32;
    mean(
        pred,
        target,
        weight,
        grad,
        |p, t| (p - t).abs() as f64,
        |p, t| {
            let d = p - t;
            if d > 0.0 {
                k
            } else if d < 0.0 {
                -k
            } else {
                0.0
            }
        },
    )
}

/// Mean squared error. d/dp = 2 (p - t) / N.
pub fn mse_mean_f32(pred: &[f32], target: &[f32], weight: f32, grad: &mut [f32]) -> f64 {
    let k = 2.0 * weight / pred.len() as f32;
    mean(pred, target, weight, grad, |p, t| ((p - t) as f64).powi(2), |p, t| k * (p - t))
}

/// Sum of squared errors (FAIG's loss). d/dp = 2 (p - t).
pub fn sse_sum_f32(pred: &[f32], target: &[f32], weight: f32, grad: &mut [f32]) -> f64 {
    let k = 2.0 * weight;
    weight as f64 * reduce(pred, target, grad, |p, t| ((p - t) as f64).powi(2), |p, t| k * (p - t))
}

/// Huber loss with delta 1 (what DQN calls clipping the error), mean over elements: with
/// d = p - t, 0.5 d^2 where |d| < 1 and |d| - 0.5 elsewhere. d/dp = clamp(d, -1, 1) / N.
pub fn huber_mean_f32(pred: &[f32], target: &[f32], weight: f32, grad: &mut [f32]) -> f64 {
    let k = weight / pred.len() as f32;
    mean(
        pred,
        target,
        weight,
        grad,
        |p, t| {
            let d = (p - t) as f64;
            if d.abs() < 1.0 {
                0.5 * d * d
            } else {
                d.abs() - 0.5
            }
        },
        |p, t| k * (p - t).clamp(-1.0, 1.0),
    )
}

/// Binary cross-entropy on logits against labels in [0, 1], mean over elements, computed the
/// stable way: `max(x, 0) - x t + ln(1 + e^-|x|)`. d/dx = (sigmoid(x) - t) / N.
pub fn bce_logits_mean_f32(logits: &[f32], target: &[f32], weight: f32, grad: &mut [f32]) -> f64 {
    let k = weight / logits.len() as f32;
    mean(
        logits,
        target,
        weight,
        grad,
        |x, t| {
            let x = x as f64;
            x.max(0.0) - x * t as f64 + (-x.abs()).exp().ln_1p()
        },
        |x, t| k * (1.0 / (1.0 + (-x).exp()) - t),
    )
}
