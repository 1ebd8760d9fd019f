//! Optimiser updates over flat parameter buffers: one pass each.

use super::ELEMENTWISE_CHUNK as CHUNK;
use crate::device::AdamStep;
use rayon::prelude::*;

/// `p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)` after updating the moments, in PyTorch's
/// operation order so results agree to rounding.
pub fn adam_step_f32(h: &AdamStep, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
    let bc1 = 1.0 - (h.beta1 as f64).powi(h.step as i32);
    let bc2 = 1.0 - (h.beta2 as f64).powi(h.step as i32);
    let step_size = (h.lr as f64 / bc1) as f32;
    let bc2_sqrt = bc2.sqrt() as f32;
    let body = |p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]| {
        for i in 0..p.len() {
            let gi = if h.weight_decay != 0.0 { g[i] + h.weight_decay * p[i] } else { g[i] };
            m[i] = h.beta1 * m[i] + (1.0 - h.beta1) * gi;
            v[i] = h.beta2 * v[i] + (1.0 - h.beta2) * gi * gi;
            let denom = v[i].sqrt() / bc2_sqrt + h.eps;
            p[i] -= step_size * m[i] / denom;
        }
    };
    p.par_chunks_mut(CHUNK)
        .zip(g.par_chunks(CHUNK))
        .zip(m.par_chunks_mut(CHUNK).zip(v.par_chunks_mut(CHUNK)))
        .for_each(|((p, g), (m, v))| body(p, g, m, v));
}

/// Exponential moving average of parameters: `ema = decay * ema + (1 - decay) * p`.
pub fn ema_f32(decay: f32, p: &[f32], ema: &mut [f32]) {
    ema.par_chunks_mut(CHUNK).zip(p.par_chunks(CHUNK)).for_each(|(e, p)| {
        e.iter_mut().zip(p).for_each(|(e, &p)| *e = decay * *e + (1.0 - decay) * p);
    });
}

/// `out = base + alpha * (target - base)`: a point on the straight path between two networks
/// (FAIG's interpolated parameters).
pub fn lerp_f32(base: &[f32], target: &[f32], alpha: f32, out: &mut [f32]) {
    out.par_chunks_mut(CHUNK).zip(base.par_chunks(CHUNK).zip(target.par_chunks(CHUNK))).for_each(
        |(o, (b, t))| {
            for i in 0..o.len() {
                o[i] = b[i] + alpha * (t[i] - b[i]);
            }
        },
    );
}
