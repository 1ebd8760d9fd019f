//! MATLAB-compatible bicubic resizing (`imresize(A, scale)` with its defaults).
//!
//! SR papers make their low-resolution images with MATLAB's `imresize`, and a network trained on
//! LR made any other way (OpenCV or PIL bicubic: a = -0.75, no low-pass filter when shrinking)
//! sees a different degradation. This is MATLAB's algorithm, written from its description:
//!
//! - output length `ceil(n * scale)`;
//! - Keys' cubic convolution kernel with a = -0.5, support [-2, 2];
//! - when shrinking, the kernel is stretched to `scale * cubic(scale * x)` (support `4 / scale`),
//!   which low-pass filters the input (MATLAB's antialiasing);
//! - output sample `x` (1-based) sits at input coordinate `u = x / scale + (1 - 1 / scale) / 2`;
//!   its taps are the `ceil(support) + 2` integers from `floor(u - support / 2)`, weighted by the
//!   kernel and normalised to sum to one;
//! - indices outside the image are mirrored with the edge sample repeated (symmetric padding);
//! - height first, then width (MATLAB's order when both scales are equal), nothing rounded in
//!   between.
//!
//! `tests/data_imresize.rs` checks it against an independent float64 script
//! (`tests/fixtures/imresize/make_fixtures.py`).

use super::Image;
use crate::Result;
use anyhow::ensure;

/// A sample type the resampler works in: `f32` for the engine, `f64` for checking the algorithm.
pub trait Sample:
    Copy + Send + Sync + std::ops::Add<Output = Self> + std::ops::Mul<Output = Self> + 'static
{
    const ZERO: Self;
    fn from_f64(x: f64) -> Self;
}

impl Sample for f32 {
    const ZERO: f32 = 0.0;
    fn from_f64(x: f64) -> f32 {
        x as f32
    }
}

impl Sample for f64 {
    const ZERO: f64 = 0.0;
    fn from_f64(x: f64) -> f64 {
        x
    }
}

/// Keys' cubic convolution kernel with a = -0.5.
fn cubic(x: f64) -> f64 {
    let ax = x.abs();
    let (ax2, ax3) = (ax * ax, ax * ax * ax);
    if ax <= 1.0 {
        1.5 * ax3 - 2.5 * ax2 + 1.0
    } else if ax <= 2.0 {
        -0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0
    } else {
        0.0
    }
}

/// The output length MATLAB gives an axis of `n` samples resized by `scale`.
pub fn output_len(n: usize, scale: f64) -> usize {
    (n as f64 * scale).ceil() as usize
}

/// 0-based index folded into `0..n` by symmetric padding (the edge sample is repeated).
fn mirror(i: i64, n: usize) -> usize {
    let period = 2 * n as i64;
    let r = i.rem_euclid(period);
    (if r < n as i64 { r } else { period - 1 - r }) as usize
}

/// Every output sample's input indices and weights along one axis, `taps` per output.
struct Taps<T> {
    taps: usize,
    index: Vec<usize>,
    weight: Vec<T>,
}

impl<T: Sample> Taps<T> {
    fn new(n_in: usize, scale: f64) -> Result<Self> {
        let n_out = output_len(n_in, scale);
        let shrink = scale < 1.0;
        let support = if shrink { 4.0 / scale } else { 4.0 };
        let taps = support.ceil() as usize + 2;
        // An image shrunk below one pixel would still get one output with `4 / scale` taps.
        ensure!(taps <= 4 * n_in + 8, "scale {scale} is too small for an axis of {n_in} pixels");
        let mut index = Vec::with_capacity(n_out * taps);
        let mut weight = Vec::with_capacity(n_out * taps);
        let mut w = vec![0.0f64; taps];
        for x in 1..=n_out {
            let u = x as f64 / scale + 0.5 * (1.0 - 1.0 / scale);
            let first = (u - support / 2.0).floor() as i64;
            for (k, wk) in w.iter_mut().enumerate() {
                let d = u - (first + k as i64) as f64;
                *wk = if shrink { scale * cubic(scale * d) } else { cubic(d) };
            }
            let sum: f64 = w.iter().sum();
            for (k, &wk) in w.iter().enumerate() {
                // `first` is 1-based like `u`; the slices are 0-based.
                index.push(mirror(first + k as i64 - 1, n_in));
                weight.push(T::from_f64(wk / sum));
            }
        }
        Ok(Taps { taps, index, weight })
    }

    fn outputs(&self) -> usize {
        self.index.len() / self.taps
    }

    fn of(&self, o: usize) -> impl Iterator<Item = (usize, T)> + '_ {
        let r = o * self.taps..(o + 1) * self.taps;
        self.index[r.clone()].iter().copied().zip(self.weight[r].iter().copied())
    }
}

/// Resizes `c` planes of `h x w` samples (channel-major) by `scale` in both directions.
/// Returns the planes and the new height and width.
pub fn resize_planes<T: Sample>(
    src: &[T],
    c: usize,
    h: usize,
    w: usize,
    scale: f64,
) -> Result<(Vec<T>, usize, usize)> {
    ensure!(scale.is_finite() && scale > 0.0, "resize scale must be a positive number, got {scale}");
    ensure!(h > 0 && w > 0, "cannot resize an empty {h}x{w} image");
    ensure!(src.len() == c * h * w, "{} samples do not make {c} planes of {h}x{w}", src.len());
    let rows = Taps::<T>::new(h, scale)?;
    let cols = Taps::<T>::new(w, scale)?;
    let (ho, wo) = (rows.outputs(), cols.outputs());

    // Height pass: each output row is a weighted sum of whole input rows (contiguous, so the
    // inner loop vectorises).
    let mut mid = vec![T::ZERO; c * ho * w];
    for ch in 0..c {
        let plane = &src[ch * h * w..(ch + 1) * h * w];
        for y in 0..ho {
            let out = &mut mid[(ch * ho + y) * w..(ch * ho + y + 1) * w];
            for (i, wt) in rows.of(y) {
                let row = &plane[i * w..(i + 1) * w];
                for (o, &v) in out.iter_mut().zip(row) {
                    *o = *o + wt * v;
                }
            }
        }
    }
    // Width pass: gather along each row.
    let mut dst = vec![T::ZERO; c * ho * wo];
    for (row, out) in mid.chunks_exact(w).zip(dst.chunks_exact_mut(wo)) {
        for (x, o) in out.iter_mut().enumerate() {
            *o = cols.of(x).fold(T::ZERO, |acc, (i, wt)| acc + wt * row[i]);
        }
    }
    Ok((dst, ho, wo))
}

/// MATLAB `imresize(img, scale)` (bicubic, antialiased when shrinking) of an engine image.
pub fn imresize(img: &Image, scale: f64) -> Result<Image> {
    let (data, h, w) = resize_planes(&img.data, img.c, img.h, img.w, scale)?;
    Ok(Image { c: img.c, h, w, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_repeats_the_edge_sample() {
        let got: Vec<usize> = (-4..8).map(|i| mirror(i, 4)).collect();
        assert_eq!(got, [3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0]);
        assert_eq!(mirror(-1, 1), 0);
        assert_eq!(mirror(5, 1), 0);
    }

    #[test]
    fn halving_weights_are_the_kernel_values_folded_at_the_edge() {
        // Output 1 of a halving sits at u = 1.5; its taps at -3..6 (1-based) carry
        // 0.5 * cubic(0.5 * (1.5 - i)), i.e. (by hand) -1.5/128, -4.5/128, 14.5/128, 55.5/128 and
        // mirror images. Folding indices 0, -1, -2 onto 1, 2, 3 gives these sums.
        let t = Taps::<f64>::new(8, 0.5).unwrap();
        let mut dense = [0.0; 8];
        for (i, w) in t.of(0) {
            dense[i] += w;
        }
        let want = [
            (55.5 + 14.5) / 128.0,
            (55.5 - 4.5) / 128.0,
            (14.5 - 1.5) / 128.0,
            -4.5 / 128.0,
            -1.5 / 128.0,
            0.0,
            0.0,
            0.0,
        ];
        for (g, w) in dense.iter().zip(want) {
            assert!((g - w).abs() < 1e-15, "{dense:?}");
        }
    }

    #[test]
    fn constant_stays_constant_and_sizes_follow_ceil() {
        for &(h, w, s) in &[(7, 9, 0.25), (13, 17, 0.5), (10, 31, 1.0 / 3.0), (5, 3, 2.0)] {
            let src = vec![0.3f64; 2 * h * w];
            let (out, ho, wo) = resize_planes(&src, 2, h, w, s).unwrap();
            assert_eq!((ho, wo), (output_len(h, s), output_len(w, s)));
            assert!(out.iter().all(|v| (v - 0.3).abs() < 1e-15));
        }
        assert_eq!(output_len(13, 0.5), 7);
        assert_eq!(output_len(13, 2.0), 26);
        assert_eq!(output_len(31, 1.0 / 3.0), 11);
        assert_eq!(output_len(12, 1.0 / 3.0), 4);
    }

    #[test]
    fn scale_one_is_the_identity() {
        let src: Vec<f64> = (0..30).map(|i| (i * 7 % 11) as f64 / 11.0).collect();
        let (out, h, w) = resize_planes(&src, 1, 5, 6, 1.0).unwrap();
        assert_eq!((h, w), (5, 6));
        assert_eq!(out, src);
    }

    #[test]
    fn bad_scales_are_errors() {
        let src = [0.5f32; 4];
        assert!(resize_planes(&src, 1, 2, 2, 0.0).is_err());
        assert!(resize_planes(&src, 1, 2, 2, f64::NAN).is_err());
        assert!(resize_planes(&src, 1, 2, 2, 1e-9).is_err());
        assert!(resize_planes(&src, 1, 2, 3, 0.5).is_err());
    }
}
