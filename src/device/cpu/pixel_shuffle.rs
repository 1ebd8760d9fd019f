//! PixelShuffle(r) with PyTorch's semantics, and its exact inverse as the backward pass:
//! `y[n, c, h*r + i, w*r + j] = x[n, c*r*r + i*r + j, h, w]`.

use rayon::prelude::*;

/// `x`: `[n, c*r*r, h, w]` -> `y`: `[n, c, h*r, w*r]`; `c` is the OUTPUT channel count.
pub fn pixel_shuffle_fwd_f32(c: usize, h: usize, w: usize, r: usize, x: &[f32], y: &mut [f32]) {
    debug_assert!(x.len() == y.len() && x.len().is_multiple_of((c * r * r * h * w).max(1)));
    let (wr, plane_out) = (w * r, h * r * w * r);
    // One task per output channel plane: it reads r*r input planes.
    y.par_chunks_mut(plane_out).enumerate().for_each(|(nc, out)| {
        let (img, ch) = (nc / c, nc % c);
        for i in 0..r {
            for j in 0..r {
                let src = &x[((img * c + ch) * r * r + i * r + j) * h * w..][..h * w];
                for hh in 0..h {
                    let row = &mut out[(hh * r + i) * wr..][..wr];
                    for (ww, &v) in src[hh * w..(hh + 1) * w].iter().enumerate() {
                        row[ww * r + j] = v;
                    }
                }
            }
        }
    });
}

/// The gradient of [`pixel_shuffle_fwd_f32`], its exact inverse permutation:
/// `dx[n, c*r*r + i*r + j, h, w] = dy[n, c, h*r + i, w*r + j]`; `c` is the channel count of `dy`.
pub fn pixel_shuffle_bwd_f32(c: usize, h: usize, w: usize, r: usize, dy: &[f32], dx: &mut [f32]) {
    debug_assert!(dy.len() == dx.len() && dy.len().is_multiple_of((c * r * r * h * w).max(1)));
    let (wr, plane_out) = (w * r, h * r * w * r);
    dx.par_chunks_mut(r * r * h * w).enumerate().for_each(|(nc, out)| {
        let src = &dy[nc * plane_out..][..plane_out];
        for i in 0..r {
            for j in 0..r {
                let dst = &mut out[(i * r + j) * h * w..][..h * w];
                for hh in 0..h {
                    let row = &src[(hh * r + i) * wr..][..wr];
                    for ww in 0..w {
                        dst[hh * w + ww] = row[ww * r + j];
                    }
                }
            }
        }
    });
}
