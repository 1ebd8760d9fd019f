//! Bilinear upsampling by an integer factor with `align_corners=False` (PyTorch's
//! `F.interpolate(mode="bilinear")`), the global residual of MSRResNet.
//!
//! Output pixel `o` samples input coordinate `src = (o + 0.5) / s - 0.5`, clamped below at 0;
//! neighbours `i0 = floor(src)`, `i1 = min(i0 + 1, size - 1)`, weights `1 - l`, `l`. The
//! arithmetic is f32 in the same order as PyTorch's CPU kernel, so results agree to rounding.

use rayon::prelude::*;

/// Source index pair and the weight of the second, for each output position along one axis.
pub fn bilinear_taps(in_size: usize, scale: usize) -> Vec<(usize, usize, f32)> {
    let ratio = 1.0f32 / scale as f32;
    (0..in_size * scale)
        .map(|o| {
            let src = ((o as f32 + 0.5) * ratio - 0.5).max(0.0);
            let i0 = (src as usize).min(in_size - 1);
            let i1 = (i0 + 1).min(in_size - 1);
            (i0, i1, src - i0 as f32)
        })
        .collect()
}

/// `x`: `[planes, h, w]` -> `y`: `[planes, h*s, w*s]`.
pub fn upsample_bilinear_fwd_f32(h: usize, w: usize, s: usize, x: &[f32], y: &mut [f32]) {
    let (ty, tx) = (bilinear_taps(h, s), bilinear_taps(w, s));
    let (ho, wo) = (h * s, w * s);
    y.par_chunks_mut(ho * wo).zip(x.par_chunks(h * w)).for_each(|(out, inp)| {
        for (oy, &(y0, y1, ly)) in ty.iter().enumerate() {
            let (r0, r1) = (&inp[y0 * w..][..w], &inp[y1 * w..][..w]);
            let row = &mut out[oy * wo..][..wo];
            for (ox, &(x0, x1, lx)) in tx.iter().enumerate() {
                let top = (1.0 - lx) * r0[x0] + lx * r0[x1];
                let bot = (1.0 - lx) * r1[x0] + lx * r1[x1];
                row[ox] = (1.0 - ly) * top + ly * bot;
            }
        }
    });
}

/// The gradient of [`upsample_bilinear_fwd_f32`]: each output gradient is spread back over its four
/// taps, plane by plane in a fixed order.
pub fn upsample_bilinear_bwd_f32(h: usize, w: usize, s: usize, dy: &[f32], dx: &mut [f32]) {
    let (ty, tx) = (bilinear_taps(h, s), bilinear_taps(w, s));
    let (ho, wo) = (h * s, w * s);
    dx.par_chunks_mut(h * w).zip(dy.par_chunks(ho * wo)).for_each(|(inp, out)| {
        inp.fill(0.0);
        for (oy, &(y0, y1, ly)) in ty.iter().enumerate() {
            let row = &out[oy * wo..][..wo];
            for (ox, &(x0, x1, lx)) in tx.iter().enumerate() {
                let g = row[ox];
                let (gt, gb) = ((1.0 - ly) * g, ly * g);
                inp[y0 * w + x0] += (1.0 - lx) * gt;
                inp[y0 * w + x1] += lx * gt;
                inp[y1 * w + x0] += (1.0 - lx) * gb;
                inp[y1 * w + x1] += lx * gb;
            }
        }
    });
}
