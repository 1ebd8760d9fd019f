//! CPU references for `kernels/elementwise.cu`. Same names, same semantics, bit-identical results.

use super::ELEMENTWISE_CHUNK as CHUNK;
use rayon::prelude::*;

fn map1(x: &[f32], y: &mut [f32], f: impl Fn(f32) -> f32 + Sync) {
    debug_assert_eq!(x.len(), y.len());
    if y.len() <= CHUNK {
        y.iter_mut().zip(x).for_each(|(y, &x)| *y = f(x));
    } else {
        y.par_chunks_mut(CHUNK)
            .zip(x.par_chunks(CHUNK))
            .for_each(|(y, x)| y.iter_mut().zip(x).for_each(|(y, &x)| *y = f(x)));
    }
}

fn map2(a: &[f32], b: &[f32], y: &mut [f32], f: impl Fn(f32, f32) -> f32 + Sync) {
    debug_assert!(a.len() == y.len() && b.len() == y.len());
    let body = |y: &mut [f32], a: &[f32], b: &[f32]| {
        for i in 0..y.len() {
            y[i] = f(a[i], b[i]);
        }
    };
    if y.len() <= CHUNK {
        body(y, a, b);
    } else {
        y.par_chunks_mut(CHUNK)
            .zip(a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK)))
            .for_each(|(y, (a, b))| body(y, a, b));
    }
}

/// y = a * x
pub fn scale_f32(x: &[f32], a: f32, y: &mut [f32]) {
    map1(x, y, |v| a * v);
}

/// y += a * x
pub fn axpy_f32(a: f32, x: &[f32], y: &mut [f32]) {
    debug_assert_eq!(x.len(), y.len());
    let body = |y: &mut [f32], x: &[f32]| y.iter_mut().zip(x).for_each(|(y, &x)| *y += a * x);
    if y.len() <= CHUNK {
        body(y, x);
    } else {
        y.par_chunks_mut(CHUNK).zip(x.par_chunks(CHUNK)).for_each(|(y, x)| body(y, x));
    }
}

/// y = a + b
pub fn add_f32(a: &[f32], b: &[f32], y: &mut [f32]) {
    map2(a, b, y, |a, b| a + b);
}

/// y = a * b, `a` of shape [n, c, hw] and `b` of [n, cb, hw] with cb = c or 1 (broadcast over
/// the channels).
pub fn mul_f32(a: &[f32], b: &[f32], y: &mut [f32], c: usize, hw: usize, cb: usize) {
    debug_assert!(a.len() == y.len() && (cb == c || cb == 1) && b.len() * c == a.len() * cb);
    if cb == c {
        return map2(a, b, y, |a, b| a * b);
    }
    // One image's channels share its map: parallel over images' channel planes.
    let plane = |k: usize, y: &mut [f32]| {
        let (img, at) = (k / c, k * hw);
        let map = &b[img * hw..(img + 1) * hw];
        y.iter_mut().zip(&a[at..at + hw]).zip(map).for_each(|((y, &a), &m)| *y = a * m);
    };
    if y.len() <= CHUNK || hw == 0 {
        y.chunks_mut(hw.max(1)).enumerate().for_each(|(k, y)| plane(k, y));
    } else {
        y.par_chunks_mut(hw).enumerate().for_each(|(k, y)| plane(k, y));
    }
}

/// db[img, p] = sum over channels of dy * a: the gradient of `mul_f32`'s channel-broadcast `b`.
/// Channels summed in ascending order, as the kernel does.
pub fn mul_bwd_bcast_f32(dy: &[f32], a: &[f32], db: &mut [f32], c: usize, hw: usize) {
    debug_assert!(dy.len() == a.len() && db.len() * c == a.len());
    let image = |img: usize, db: &mut [f32]| {
        db.fill(0.0);
        for ch in 0..c {
            let at = (img * c + ch) * hw;
            for ((d, &g), &x) in db.iter_mut().zip(&dy[at..at + hw]).zip(&a[at..at + hw]) {
                *d += g * x;
            }
        }
    };
    if a.len() <= CHUNK || hw == 0 {
        db.chunks_mut(hw.max(1)).enumerate().for_each(|(img, d)| image(img, d));
    } else {
        db.par_chunks_mut(hw).enumerate().for_each(|(img, d)| image(img, d));
    }
}

/// y = v
pub fn fill_f32(y: &mut [f32], v: f32) {
    y.fill(v);
}

/// y = max(x, 0), NaN kept
pub fn relu_fwd_f32(x: &[f32], y: &mut [f32]) {
    map1(x, y, |v| if v < 0.0 { 0.0 } else { v });
}

/// dx = y > 0 ? dy : 0 (from the forward output)
pub fn relu_bwd_f32(y: &[f32], dy: &[f32], dx: &mut [f32]) {
    map2(y, dy, dx, |y, dy| if y > 0.0 { dy } else { 0.0 });
}

/// y = x > 0 ? x : slope * x
pub fn leaky_relu_fwd_f32(x: &[f32], slope: f32, y: &mut [f32]) {
    map1(x, y, |v| if v > 0.0 { v } else { v * slope });
}

/// dx = x > 0 ? dy : slope * dy (from the forward input)
pub fn leaky_relu_bwd_f32(x: &[f32], dy: &[f32], slope: f32, dx: &mut [f32]) {
    map2(x, dy, dx, |x, dy| if x > 0.0 { dy } else { dy * slope });
}

/// y = 1 / (1 + exp(-x))
pub fn sigmoid_fwd_f32(x: &[f32], y: &mut [f32]) {
    map1(x, y, |v| 1.0 / (1.0 + (-v).exp()));
}

/// dx = dy * y * (1 - y) (from the forward output)
pub fn sigmoid_bwd_f32(y: &[f32], dy: &[f32], dx: &mut [f32]) {
    map2(y, dy, dx, |y, dy| dy * y * (1.0 - y));
}
