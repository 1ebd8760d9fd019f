//! Spatially varying degradations and their per-pixel maps: the conditions of an SFT network
//! trained to restore images whose blur and noise change across the frame.
//!
//! The degradation model is SRMD's and the DDR paper's, with the strengths varying per pixel:
//! `LR = bicubic_down(HR (*) k_blur(p)) + n(p)`, where the Gaussian blur at HR pixel `p` has the
//! sigma of the blur map there, and the Gaussian noise at LR pixel `p` the sigma of the noise map
//! there. Each map is a [`Ramp`]: a linear ramp in a random direction between two random levels,
//! so that one crop holds mild and strong degradations side by side.
//!
//! The condition is the two maps at HR size, each divided by its maximum (`[2, H, W]`, values in
//! [0, 1]): blur first, noise second. HR size matches SFT-GAN's layout, whose condition network
//! starts with a 4x4 stride-4 convolution.

use super::degrade::{gaussian_taps, reflect101};
use super::imresize::imresize;
use super::Image;
use crate::{Result, Rng};
use anyhow::ensure;
use serde::{Deserialize, Serialize};

/// The largest blur and noise a [`VaryingDegradation`] draws (`[data] varying = { blur_max = 4,
/// noise_max = 50, kernel = 21 }` in a training configuration).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaryingDegradation {
    /// Largest Gaussian blur sigma, in HR pixels.
    pub blur_max: f64,
    /// Largest noise sigma, on the 0-255 scale.
    pub noise_max: f64,
    /// Side of the blur kernel (odd); 4 sigma on each side of the largest blur is enough.
    pub kernel: usize,
    /// Hand over maps of zeros (the degradations still vary): a conditioned network trained so
    /// is the same generator without conditions, SFT-GAN's ablation.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub blind: bool,
}

impl VaryingDegradation {
    pub fn validate(&self) -> Result<()> {
        ensure!(
            self.blur_max >= 0.0
                && self.noise_max >= 0.0
                && self.blur_max.is_finite()
                && self.noise_max.is_finite(),
            "varying degradation: blur_max and noise_max must be finite and >= 0"
        );
        ensure!(self.kernel % 2 == 1, "varying degradation: kernel must be odd, not {}", self.kernel);
        Ok(())
    }
}

/// Channels of the condition: the blur map, then the noise map.
pub const MAP_CHANNELS: usize = 2;

/// `lo + (hi - lo) * t`, with `t` running from 0 to 1 along `angle` across the frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ramp {
    pub lo: f64,
    pub hi: f64,
    pub angle: f64,
}

impl Ramp {
    /// A ramp between two levels drawn uniformly in `0..=max`, in a uniformly drawn direction.
    pub fn draw(max: f64, rng: &mut Rng) -> Ramp {
        let (a, b) = (rng.range(0.0, max), rng.range(0.0, max));
        Ramp { lo: a.min(b), hi: a.max(b), angle: rng.range(0.0, std::f64::consts::TAU) }
    }

    pub fn constant(v: f64) -> Ramp {
        Ramp { lo: v, hi: v, angle: 0.0 }
    }

    /// The ramp sampled at the pixel centres of an `h x w` grid (row-major). The same ramp on
    /// grids of different resolutions covering the same frame agrees at corresponding points.
    pub fn sample(&self, h: usize, w: usize) -> Vec<f64> {
        let (dx, dy) = (self.angle.cos(), self.angle.sin());
        // Coordinates in [0, 1] across the frame; t spans the projection of its four corners.
        let proj = |u: f64, v: f64| u * dx + v * dy;
        let corners = [proj(0.0, 0.0), proj(1.0, 0.0), proj(0.0, 1.0), proj(1.0, 1.0)];
        let lo = corners.iter().cloned().fold(f64::INFINITY, f64::min);
        let span = corners.iter().cloned().fold(f64::NEG_INFINITY, f64::max) - lo;
        let mut out = Vec::with_capacity(h * w);
        for y in 0..h {
            for x in 0..w {
                let (u, v) = ((x as f64 + 0.5) / w as f64, (y as f64 + 0.5) / h as f64);
                let t = if span > 0.0 { (proj(u, v) - lo) / span } else { 0.0 };
                out.push(self.lo + (self.hi - self.lo) * t);
            }
        }
        out
    }
}

/// What [`degrade_varying`] made: the LR image, its condition maps and the ramps drawn.
pub struct Degraded {
    pub lr: Image,
    /// `[MAP_CHANNELS, H, W]` at HR size, each map divided by its maximum.
    pub maps: Vec<f32>,
    pub blur: Ramp,
    pub noise: Ramp,
}

/// Gaussian blur whose sigma changes per pixel: output pixel `p` is the `size x size` Gaussian
/// of sigma `sigma[p]` centred on `p` (reflect-101 borders), applied to the input. With a
/// constant sigma it is [`super::degrade::blur`] up to f32 rounding.
pub fn blur_varying(img: &Image, size: usize, sigma: &[f64]) -> Result<Image> {
    ensure!(size % 2 == 1, "blur kernel size must be odd, not {size}");
    ensure!(sigma.len() == img.h * img.w, "blur map has {} pixels, the image {}", sigma.len(), img.h * img.w);
    let (h, w, r) = (img.h, img.w, (size / 2) as i64);
    let mut out = img.clone();
    for (p, &s) in sigma.iter().enumerate() {
        let g = gaussian_taps(size, s);
        let (y, x) = ((p / w) as i64, (p % w) as i64);
        for (src, dst) in img.data.chunks_exact(h * w).zip(out.data.chunks_exact_mut(h * w)) {
            let mut acc = 0.0f64;
            for (ky, gy) in g.iter().enumerate() {
                let row = reflect101(y + ky as i64 - r, h) * w;
                let mut racc = 0.0f64;
                for (kx, gx) in g.iter().enumerate() {
                    racc += gx * src[row + reflect101(x + kx as i64 - r, w)] as f64;
                }
                acc += gy * racc;
            }
            dst[p] = acc as f32;
        }
    }
    Ok(out)
}

/// Degrades `hr` with a blur and a noise ramp drawn from `rng`, downscaling by `scale` (bicubic)
/// in between. `hr`'s sides must be multiples of `scale`.
pub fn degrade_varying(
    hr: &Image,
    scale: usize,
    spec: &VaryingDegradation,
    rng: &mut Rng,
) -> Result<Degraded> {
    spec.validate()?;
    ensure!(
        scale > 0 && hr.h.is_multiple_of(scale) && hr.w.is_multiple_of(scale),
        "varying degradation: a {}x{} image does not divide by {scale}",
        hr.h,
        hr.w
    );
    let blur = Ramp::draw(spec.blur_max, rng);
    let noise = Ramp::draw(spec.noise_max, rng);
    degrade_with(hr, scale, spec, blur, noise, rng)
}

/// [`degrade_varying`] with given ramps (the noise still drawn from `rng`).
pub fn degrade_with(
    hr: &Image,
    scale: usize,
    spec: &VaryingDegradation,
    blur: Ramp,
    noise: Ramp,
    rng: &mut Rng,
) -> Result<Degraded> {
    let blur_hr = blur.sample(hr.h, hr.w);
    let noise_hr = noise.sample(hr.h, hr.w);
    let mut lr = imresize(&blur_varying(hr, spec.kernel, &blur_hr)?, 1.0 / scale as f64)?;
    let noise_lr = noise.sample(lr.h, lr.w);
    for plane in lr.data.chunks_exact_mut(lr.h * lr.w) {
        for (v, &s) in plane.iter_mut().zip(&noise_lr) {
            *v += (rng.normal() * s / 255.0) as f32;
        }
    }
    let mut maps = Vec::with_capacity(MAP_CHANNELS * hr.h * hr.w);
    for (map, max) in [(&blur_hr, spec.blur_max), (&noise_hr, spec.noise_max)] {
        let known = max > 0.0 && !spec.blind;
        maps.extend(map.iter().map(|&s| if known { (s / max) as f32 } else { 0.0 }));
    }
    Ok(Degraded { lr, maps, blur, noise })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::degrade::blur;

    fn photo(h: usize, w: usize, seed: u64) -> Image {
        let mut rng = Rng::new(seed);
        let data = (0..3 * h * w).map(|_| rng.uniform_f32()).collect();
        Image::new(3, h, w, data).unwrap()
    }

    #[test]
    fn a_constant_map_blurs_as_the_uniform_blur_does() {
        let img = photo(17, 23, 1);
        for s in [0.0, 0.8, 2.5] {
            let varying = blur_varying(&img, 11, &vec![s; 17 * 23]).unwrap();
            let uniform = blur(&img, 11, s);
            let d = varying.data.iter().zip(&uniform.data).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(d < 1e-5, "sigma {s}: {d}");
        }
    }

    #[test]
    fn each_pixel_gets_the_blur_of_its_own_sigma() {
        let img = photo(12, 16, 2);
        let map: Vec<f64> = (0..12 * 16).map(|p| if p % 16 < 8 { 0.0 } else { 2.0 }).collect();
        let out = blur_varying(&img, 9, &map).unwrap();
        let sharp = blur(&img, 9, 0.0);
        let soft = blur(&img, 9, 2.0);
        for p in 0..12 * 16 {
            let want = if p % 16 < 8 { &sharp } else { &soft };
            for c in 0..3 {
                let i = c * 12 * 16 + p;
                assert!((out.data[i] - want.data[i]).abs() < 1e-5, "pixel {p}");
            }
        }
    }

    #[test]
    fn noise_follows_its_map_and_maps_are_normalised() {
        let hr = Image::new(3, 256, 256, vec![0.5; 3 * 256 * 256]).unwrap();
        let spec = VaryingDegradation { blur_max: 4.0, noise_max: 50.0, kernel: 21, blind: false };
        let noise = Ramp { lo: 0.0, hi: 40.0, angle: 0.0 }; // rising left to right
        let d = degrade_with(&hr, 4, &spec, Ramp::constant(1.0), noise, &mut Rng::new(3)).unwrap();
        assert_eq!((d.lr.h, d.lr.w), (64, 64));
        // A flat image stays flat through blur and bicubic: what is left is the noise.
        let levels = noise.sample(64, 64);
        for (cols, name) in [(0..16, "left"), (48..64, "right")] {
            let (mut ss, mut want, mut n) = (0.0, 0.0, 0.0);
            for plane in d.lr.data.chunks_exact(64 * 64) {
                for y in 0..64 {
                    for x in cols.clone() {
                        ss += ((plane[y * 64 + x] - 0.5) as f64 * 255.0).powi(2);
                        want += levels[y * 64 + x].powi(2);
                        n += 1.0;
                    }
                }
            }
            let (got, want) = ((ss / n).sqrt(), (want / n).sqrt());
            assert!(
                (got - want).abs() < 0.05 * want + 0.3,
                "{name}: noise sigma {got:.2}, map says {want:.2}"
            );
        }
        assert_eq!(d.maps.len(), MAP_CHANNELS * 256 * 256);
        let (blur_map, noise_map) = d.maps.split_at(256 * 256);
        assert!(blur_map.iter().all(|&v| (v - 0.25).abs() < 1e-6), "blur 1 of max 4");
        assert!(noise_map.iter().all(|&v| (0.0..=0.8 + 1e-6).contains(&v)));
        assert!(noise_map[255] > noise_map[0] + 0.7, "the noise map rises left to right");
    }

    #[test]
    fn the_same_seed_gives_the_same_bytes() {
        let hr = photo(32, 32, 4);
        let spec = VaryingDegradation { blur_max: 3.0, noise_max: 30.0, kernel: 13, blind: false };
        let run = |seed| degrade_varying(&hr, 4, &spec, &mut Rng::new(seed)).unwrap();
        let (a, b, c) = (run(7), run(7), run(8));
        assert_eq!((&a.lr.data, &a.maps, a.blur, a.noise), (&b.lr.data, &b.maps, b.blur, b.noise));
        assert_ne!(a.lr.data, c.lr.data);
        // Blind: the same degradation, maps of zeros.
        let blind =
            degrade_varying(&hr, 4, &VaryingDegradation { blind: true, ..spec }, &mut Rng::new(7)).unwrap();
        assert_eq!(blind.lr.data, a.lr.data);
        assert!(blind.maps.iter().all(|&m| m == 0.0) && a.maps.iter().any(|&m| m > 0.0));
        assert!(degrade_varying(&photo(30, 32, 5), 4, &spec, &mut Rng::new(1)).is_err());
    }
}
