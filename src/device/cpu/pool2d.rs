//! 2x2 max pooling with stride 2 (VGG), NCHW. Odd trailing rows/columns are dropped, as in
//! PyTorch's MaxPool2d(2). Ties go to the first maximum in row-major order; NaN wins.

use rayon::prelude::*;

fn argmax4(v: [f32; 4]) -> usize {
    let mut best = 0;
    for k in 1..4 {
        if v[k] > v[best] || (v[k].is_nan() && !v[best].is_nan()) {
            best = k;
        }
    }
    best
}

/// `x`: `[planes, h, w]` -> `y`: `[planes, h/2, w/2]`.
pub fn maxpool2_fwd_f32(h: usize, w: usize, x: &[f32], y: &mut [f32]) {
    let (ho, wo) = (h / 2, w / 2);
    if ho * wo == 0 {
        return; // a plane under 2x2 pools to nothing (and a zero chunk size would panic)
    }
    y.par_chunks_mut(ho * wo).zip(x.par_chunks(h * w)).for_each(|(out, inp)| {
        for oy in 0..ho {
            for ox in 0..wo {
                let (r0, r1) = (2 * oy * w + 2 * ox, (2 * oy + 1) * w + 2 * ox);
                let v = [inp[r0], inp[r0 + 1], inp[r1], inp[r1 + 1]];
                out[oy * wo + ox] = v[argmax4(v)];
            }
        }
    });
}

/// Routes each output gradient to the input that won the forward max (`dx` overwritten).
pub fn maxpool2_bwd_f32(h: usize, w: usize, x: &[f32], dy: &[f32], dx: &mut [f32]) {
    let (ho, wo) = (h / 2, w / 2);
    if ho * wo == 0 {
        dx.fill(0.0); // no window: every input was dropped
        return;
    }
    dx.par_chunks_mut(h * w).zip(x.par_chunks(h * w)).zip(dy.par_chunks(ho * wo)).for_each(
        |((d, inp), g)| {
            d.fill(0.0);
            for oy in 0..ho {
                for ox in 0..wo {
                    let (r0, r1) = (2 * oy * w + 2 * ox, (2 * oy + 1) * w + 2 * ox);
                    let idx = [r0, r0 + 1, r1, r1 + 1];
                    let k = argmax4([inp[r0], inp[r0 + 1], inp[r1], inp[r1 + 1]]);
                    d[idx[k]] = g[oy * wo + ox];
                }
            }
        },
    );
}
