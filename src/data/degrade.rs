//! Degradations: Gaussian blur, Gaussian noise, JPEG, bicubic and bilinear resizing, and the
//! [`Pipeline`] that chains them.
//!
//! A pipeline is written as a spec string, steps in the order they apply, separated by commas:
//!
//! | step | meaning |
//! |---|---|
//! | `bicubic:F` | MATLAB bicubic resize by factor F (`0.25`, `1/4`, `2`); output `ceil(n F)` |
//! | `bilinear:F` | bilinear resize with half-pixel centres and no low-pass filter (OpenCV's `INTER_LINEAR`, what FAIG's data used); output `floor(n F)` |
//! | `blur:K:S` | isotropic Gaussian blur, K x K (K odd), sigma S in pixels, borders reflect-101 |
//! | `noise:S` | add Gaussian noise of sigma S on the 0-255 scale (`x + N(0,1) S / 255`) |
//! | `jpeg:Q` | encode as JPEG at quality Q (1-100) and decode |
//!
//! Any parameter but K and F may be a range `lo-hi`, drawn per image (uniform; JPEG quality an
//! integer in `lo..=hi`). A step may end in `@P` to apply it with probability P. Examples: the DDR
//! paper's blur set `bicubic:1/4,blur:15:2-4`; FAIG's target data
//! `blur:21:2@0.5,bilinear:1/4,noise:25.5@0.5`.
//!
//! Steps work on f32 images and never round; the caller clips and rounds to 8 bits at the end
//! (JPEG, which needs 8-bit input, rounds its own input).

use super::imresize::imresize;
use super::Image;
use crate::{Result, Rng};
use anyhow::{bail, ensure, Context};
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// A parameter that is fixed or drawn uniformly from `lo..hi` per image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Param {
    pub lo: f64,
    pub hi: f64,
}

impl Param {
    fn fixed(v: f64) -> Param {
        Param { lo: v, hi: v }
    }

    fn draw(&self, rng: &mut Rng) -> f64 {
        if self.lo == self.hi {
            self.lo
        } else {
            rng.range(self.lo, self.hi)
        }
    }

    fn parse(s: &str, what: &str) -> Result<Param> {
        let num = |t: &str| {
            t.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .with_context(|| format!("{what}: `{t}` is not a number"))
        };
        // A leading '-' is a sign, not a range separator.
        let p = match s[1.min(s.len())..].find('-').map(|i| i + 1) {
            Some(i) => Param { lo: num(&s[..i])?, hi: num(&s[i + 1..])? },
            None => Param::fixed(num(s)?),
        };
        ensure!(p.lo <= p.hi, "{what}: range `{s}` runs backwards");
        Ok(p)
    }
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}-{}", self.lo, self.hi)
        }
    }
}

/// One kind of degradation with its parameters as configured (possibly ranges).
#[derive(Clone, Debug, PartialEq)]
pub enum Degradation {
    Bicubic { factor: f64 },
    Bilinear { factor: f64 },
    Blur { size: usize, sigma: Param },
    Noise { sigma: Param },
    Jpeg { quality: Param },
}

/// A degradation with every parameter drawn: what was done to one image.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Applied {
    Bicubic { factor: f64 },
    Bilinear { factor: f64 },
    Blur { size: usize, sigma: f64 },
    Noise { sigma: f64 },
    Jpeg { quality: u8 },
}

/// A step of a pipeline: a degradation applied with probability `prob`.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub prob: f64,
    pub op: Degradation,
}

/// Degradations in the order they apply.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pipeline {
    pub steps: Vec<Step>,
}

fn parse_factor(s: &str) -> Result<f64> {
    let num = |x: &str| x.trim().parse::<f64>().map_err(|_| anyhow::anyhow!("factor `{s}` is not a number"));
    let f = match s.split_once('/') {
        Some((a, b)) => num(a)? / num(b)?,
        None => num(s)?,
    };
    ensure!(f.is_finite() && f > 0.0 && f <= 64.0, "factor {s} must be in (0, 64] (e.g. 1/4, 0.5 or 2)");
    Ok(f)
}

impl FromStr for Degradation {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Degradation> {
        let parts: Vec<&str> = s.trim().split(':').collect();
        let nargs = |n: usize| -> Result<()> {
            ensure!(parts.len() == n + 1, "`{s}`: `{}` takes {n} parameter(s)", parts[0]);
            Ok(())
        };
        let op = match parts[0] {
            "bicubic" | "bilinear" => {
                nargs(1)?;
                // One message, not a context chain: clap prints only the outermost layer.
                let factor = parse_factor(parts[1]).map_err(|e| anyhow::anyhow!("`{s}`: {e}"))?;
                if parts[0] == "bicubic" {
                    Degradation::Bicubic { factor }
                } else {
                    Degradation::Bilinear { factor }
                }
            }
            "blur" => {
                nargs(2)?;
                let size: usize = parts[1]
                    .parse()
                    .ok()
                    .with_context(|| format!("`{s}`: kernel size must be a whole number"))?;
                // An even kernel has no centre tap and would shift the image by half a pixel.
                ensure!(size % 2 == 1, "`{s}`: kernel size must be odd");
                let sigma = Param::parse(parts[2], s)?;
                ensure!(sigma.lo >= 0.0, "`{s}`: sigma must not be negative");
                Degradation::Blur { size, sigma }
            }
            "noise" => {
                nargs(1)?;
                let sigma = Param::parse(parts[1], s)?;
                ensure!(sigma.lo >= 0.0, "`{s}`: sigma must not be negative");
                Degradation::Noise { sigma }
            }
            "jpeg" => {
                nargs(1)?;
                let quality = Param::parse(parts[1], s)?;
                let whole = |v: f64| v.fract() == 0.0 && (1.0..=100.0).contains(&v);
                ensure!(
                    whole(quality.lo) && whole(quality.hi),
                    "`{s}`: quality must be a whole number from 1 to 100"
                );
                Degradation::Jpeg { quality }
            }
            other => {
                bail!("`{s}`: unknown degradation `{other}` (known: bicubic, bilinear, blur, noise, jpeg)")
            }
        };
        Ok(op)
    }
}

impl fmt::Display for Degradation {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Degradation::Bicubic { factor } => write!(f, "bicubic:{factor}"),
            Degradation::Bilinear { factor } => write!(f, "bilinear:{factor}"),
            Degradation::Blur { size, sigma } => write!(f, "blur:{size}:{sigma}"),
            Degradation::Noise { sigma } => write!(f, "noise:{sigma}"),
            Degradation::Jpeg { quality } => write!(f, "jpeg:{quality}"),
        }
    }
}

impl FromStr for Pipeline {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Pipeline> {
        let mut steps = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (op, prob) = match part.split_once('@') {
                Some((op, p)) => {
                    let prob: f64 =
                        p.trim().parse().ok().filter(|p| (0.0..=1.0).contains(p)).with_context(|| {
                            format!("`{part}`: probability `{p}` is not a number in [0, 1]")
                        })?;
                    (op, prob)
                }
                None => (part, 1.0),
            };
            steps.push(Step { prob, op: op.parse()? });
        }
        Ok(Pipeline { steps })
    }
}

impl fmt::Display for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        for (i, s) in self.steps.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}", s.op)?;
            if s.prob != 1.0 {
                write!(f, "@{}", s.prob)?;
            }
        }
        Ok(())
    }
}

impl Degradation {
    /// Draws this step's parameters.
    pub fn sample(&self, rng: &mut Rng) -> Applied {
        match *self {
            Degradation::Bicubic { factor } => Applied::Bicubic { factor },
            Degradation::Bilinear { factor } => Applied::Bilinear { factor },
            Degradation::Blur { size, sigma } => Applied::Blur { size, sigma: sigma.draw(rng) },
            Degradation::Noise { sigma } => Applied::Noise { sigma: sigma.draw(rng) },
            Degradation::Jpeg { quality } => {
                let (lo, hi) = (quality.lo as u64, quality.hi as u64);
                Applied::Jpeg { quality: (lo + rng.below(hi - lo + 1)) as u8 }
            }
        }
    }

    /// The resize factor, for the two resizing steps.
    pub fn factor(&self) -> Option<f64> {
        match *self {
            Degradation::Bicubic { factor } | Degradation::Bilinear { factor } => Some(factor),
            _ => None,
        }
    }
}

impl Pipeline {
    /// Draws every step's coin and parameters, in order; `None` marks a step skipped by its
    /// probability. All draws happen here, before any pixel work, so the parameters depend on the
    /// stream alone and not on the image size.
    pub fn sample(&self, rng: &mut Rng) -> Vec<Option<Applied>> {
        self.steps
            .iter()
            .map(|s| {
                let on = s.prob >= 1.0 || rng.bernoulli(s.prob);
                on.then(|| s.op.sample(rng))
            })
            .collect()
    }

    /// The product of the resize factors.
    pub fn total_factor(&self) -> f64 {
        self.steps.iter().filter_map(|s| s.op.factor()).product()
    }

    /// A stable 64-bit hash of the spec (FNV-1a), used to key random streams so that two
    /// pipelines run with one seed draw independent numbers.
    pub fn hash(&self) -> u64 {
        self.to_string()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3))
    }
}

impl Applied {
    /// Applies this step to `img`; `rng` feeds the noise.
    pub fn apply(&self, img: &Image, rng: &mut Rng) -> Result<Image> {
        match *self {
            Applied::Bicubic { factor } => imresize(img, factor),
            Applied::Bilinear { factor } => resize_bilinear(img, factor),
            Applied::Blur { size, sigma } => Ok(blur(img, size, sigma)),
            Applied::Noise { sigma } => {
                let mut out = img.clone();
                add_noise(&mut out, sigma, rng);
                Ok(out)
            }
            Applied::Jpeg { quality } => jpeg(img, quality),
        }
    }
}

/// Runs drawn steps on a whole image (skipped steps are `None`).
pub fn apply_all(img: &Image, steps: &[Option<Applied>], rng: &mut Rng) -> Result<Image> {
    let mut cur = img.clone();
    for a in steps.iter().flatten() {
        cur = a.apply(&cur, rng)?;
    }
    Ok(cur)
}

/// The 1-D Gaussian taps at `-(size/2)..=size/2`, normalised to sum 1. The isotropic 2-D kernel
/// is their outer product, so blurring runs as two 1-D passes. Sigma 0 is the identity.
pub fn gaussian_taps(size: usize, sigma: f64) -> Vec<f64> {
    let r = (size / 2) as i64;
    let mut g: Vec<f64> = (-r..=r)
        .map(|x| {
            if sigma > 0.0 {
                (-((x * x) as f64) / (2.0 * sigma * sigma)).exp()
            } else {
                (x == 0) as u8 as f64
            }
        })
        .collect();
    let sum: f64 = g.iter().sum();
    g.iter_mut().for_each(|v| *v /= sum);
    g
}

/// The `size x size` isotropic Gaussian kernel (row-major) on coordinates
/// `-size/2..=size/2`: `exp(-(x^2 + y^2) / (2 sigma^2))`, normalised to sum 1.
pub fn gaussian_kernel(size: usize, sigma: f64) -> Vec<f64> {
    let g = gaussian_taps(size, sigma);
    g.iter().flat_map(|a| g.iter().map(move |b| a * b)).collect()
}

/// Index `i` folded into `0..n` by reflect-101 (the edge sample is not repeated: -1 -> 1).
pub(crate) fn reflect101(i: i64, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n as i64 - 1);
    let r = i.rem_euclid(period);
    (if r < n as i64 { r } else { period - r }) as usize
}

/// Isotropic Gaussian blur with reflect-101 borders (correlation; the kernel is symmetric).
pub fn blur(img: &Image, size: usize, sigma: f64) -> Image {
    let g: Vec<f32> = gaussian_taps(size, sigma).into_iter().map(|v| v as f32).collect();
    let r = (size / 2) as i64;
    let (h, w) = (img.h, img.w);
    let mut out = img.clone();
    let mut tmp = vec![0.0f32; h * w];
    let mut padded = vec![0.0f32; w + 2 * r as usize];
    for (src, dst) in img.data.chunks_exact(h * w).zip(out.data.chunks_exact_mut(h * w)) {
        // Vertical pass: whole rows at a time.
        tmp.iter_mut().for_each(|v| *v = 0.0);
        for y in 0..h {
            let acc = &mut tmp[y * w..(y + 1) * w];
            for (k, &gk) in g.iter().enumerate() {
                let sy = reflect101(y as i64 + k as i64 - r, h);
                for (a, &s) in acc.iter_mut().zip(&src[sy * w..(sy + 1) * w]) {
                    *a += gk * s;
                }
            }
        }
        // Horizontal pass on a reflect-padded copy of each row.
        for y in 0..h {
            let row = &tmp[y * w..(y + 1) * w];
            for (j, p) in padded.iter_mut().enumerate() {
                *p = row[reflect101(j as i64 - r, w)];
            }
            for (x, d) in dst[y * w..(y + 1) * w].iter_mut().enumerate() {
                *d = g.iter().zip(&padded[x..x + g.len()]).map(|(a, b)| a * b).sum();
            }
        }
    }
    out
}

/// Adds `N(0, 1) * sigma / 255` to every sample (sigma on the 0-255 scale), no clipping.
pub fn add_noise(img: &mut Image, sigma: f64, rng: &mut Rng) {
    let s = sigma / 255.0;
    for v in &mut img.data {
        *v += (rng.normal() * s) as f32;
    }
}

/// Encodes as JPEG at `quality` (after rounding to 8 bits, as any JPEG writer must) and decodes.
pub fn jpeg(img: &Image, quality: u8) -> Result<Image> {
    let rgb = img.to_rgb8()?;
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality)
        .encode_image(&rgb)
        .context("cannot encode JPEG")?;
    let back = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)
        .context("cannot decode the JPEG just written")?
        .to_rgb8();
    let mut out = Image::from_rgb8(&back);
    if img.c == 1 {
        // Grey went in as three equal channels; keep one.
        out.c = 1;
        out.data.truncate(img.h * img.w);
    }
    Ok(out)
}

/// Taps of a bilinear resize from `n_in` to `n_out` samples with half-pixel centres, no
/// low-pass filter, edges clamped: for each output, (first index, weight of the second).
fn bilinear_taps(n_in: usize, n_out: usize) -> Vec<(usize, usize, f32)> {
    let ratio = n_in as f64 / n_out as f64;
    (0..n_out)
        .map(|x| {
            let src = ((x as f64 + 0.5) * ratio - 0.5).max(0.0);
            let i0 = (src.floor() as usize).min(n_in - 1);
            let i1 = (i0 + 1).min(n_in - 1);
            (i0, i1, (src - i0 as f64) as f32)
        })
        .collect()
}

/// Bilinear resize by `factor` as OpenCV's `INTER_LINEAR` does it: output `floor(n factor)`
/// (at least 1), sample positions from the actual size ratio, half-pixel centres, no low-pass
/// filter when shrinking, edge samples clamped.
pub fn resize_bilinear(img: &Image, factor: f64) -> Result<Image> {
    ensure!(factor.is_finite() && factor > 0.0, "resize factor must be a positive number, got {factor}");
    let ho = ((img.h as f64 * factor).floor() as usize).max(1);
    let wo = ((img.w as f64 * factor).floor() as usize).max(1);
    let (rows, cols) = (bilinear_taps(img.h, ho), bilinear_taps(img.w, wo));
    let mut data = Vec::with_capacity(img.c * ho * wo);
    let mut mid = vec![0.0f32; img.w];
    for plane in img.data.chunks_exact(img.h * img.w) {
        for &(y0, y1, fy) in &rows {
            let (a, b) = (&plane[y0 * img.w..(y0 + 1) * img.w], &plane[y1 * img.w..(y1 + 1) * img.w]);
            for ((m, &p), &q) in mid.iter_mut().zip(a).zip(b) {
                *m = p + fy * (q - p);
            }
            data.extend(cols.iter().map(|&(x0, x1, fx)| {
                let (p, q) = (mid[x0], mid[x1]);
                p + fx * (q - p)
            }));
        }
    }
    Image::new(img.c, ho, wo, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(c: usize, h: usize, w: usize) -> Image {
        let data = (0..c * h * w).map(|i| ((i * 37) % 101) as f32 / 100.0).collect();
        Image::new(c, h, w, data).unwrap()
    }

    #[test]
    fn specs_parse_and_print_back() {
        let s = "bicubic:1/4,blur:15:2-4,noise:5-30@0.5,jpeg:30-95,bilinear:0.5";
        let p: Pipeline = s.parse().unwrap();
        assert_eq!(p.steps.len(), 5);
        assert_eq!(p.steps[0].op, Degradation::Bicubic { factor: 0.25 });
        assert_eq!(p.steps[1].op, Degradation::Blur { size: 15, sigma: Param { lo: 2.0, hi: 4.0 } });
        assert_eq!(p.steps[2].prob, 0.5);
        assert_eq!(p.to_string(), "bicubic:0.25,blur:15:2-4,noise:5-30@0.5,jpeg:30-95,bilinear:0.5");
        assert_eq!(p.to_string().parse::<Pipeline>().unwrap(), p);
        assert_eq!(p.total_factor(), 0.125);
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        for (spec, says) in [
            ("blur:4:2", "odd"),
            ("blur:21", "2 parameter"),
            ("noise:30-5", "backwards"),
            ("noise:-3", "negative"),
            ("jpeg:101", "1 to 100"),
            ("jpeg:50.5", "whole number"),
            ("sharpen:3", "unknown degradation"),
            ("noise:5@1.5", "probability"),
            ("bicubic:0", "factor"),
            ("noise:abc", "not a number"),
        ] {
            let e = spec.parse::<Pipeline>().unwrap_err();
            assert!(format!("{e:#}").contains(says), "{spec}: {e:#}");
        }
    }

    #[test]
    fn gaussian_kernel_sums_to_one_and_follows_the_formula() {
        for &(k, s) in &[(21usize, 2.0f64), (15, 3.3), (3, 0.5)] {
            let kern = gaussian_kernel(k, s);
            let sum: f64 = kern.iter().sum();
            assert!((sum - 1.0).abs() < 1e-12);
            let r = (k / 2) as i64;
            let raw = |x: i64, y: i64| (-((x * x + y * y) as f64) / (2.0 * s * s)).exp();
            let z: f64 = (-r..=r).flat_map(|y| (-r..=r).map(move |x| raw(x, y))).sum();
            for y in -r..=r {
                for x in -r..=r {
                    let got = kern[((y + r) * k as i64 + x + r) as usize];
                    assert!((got - raw(x, y) / z).abs() < 1e-15);
                }
            }
        }
        assert_eq!(gaussian_taps(5, 0.0), [0.0, 0.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn blur_matches_a_direct_2d_correlation_with_reflect101() {
        let img = ramp(2, 9, 7);
        let (k, s) = (7, 1.7);
        let kern = gaussian_kernel(k, s);
        let got = blur(&img, k, s);
        let r = (k / 2) as i64;
        for c in 0..2 {
            for y in 0..9i64 {
                for x in 0..7i64 {
                    let mut want = 0.0f64;
                    for dy in -r..=r {
                        for dx in -r..=r {
                            let (sy, sx) = (reflect101(y + dy, 9), reflect101(x + dx, 7));
                            want += kern[((dy + r) * k as i64 + dx + r) as usize]
                                * img.data[c * 63 + sy * 7 + sx] as f64;
                        }
                    }
                    let g = got.data[c * 63 + (y * 7 + x) as usize] as f64;
                    assert!((g - want).abs() < 1e-6, "({c},{y},{x}): {g} vs {want}");
                }
            }
        }
        assert_eq!(reflect101(-1, 5), 1);
        assert_eq!(reflect101(5, 5), 3);
        assert_eq!(reflect101(-7, 3), 1);
    }

    #[test]
    fn bilinear_halving_averages_pairs() {
        let img = ramp(1, 4, 6);
        let out = resize_bilinear(&img, 0.5).unwrap();
        assert_eq!((out.h, out.w), (2, 3));
        let at = |y: usize, x: usize| img.data[y * 6 + x];
        let want = (at(2, 2) + at(2, 3) + at(3, 2) + at(3, 3)) / 4.0;
        assert!((out.data[4] - want).abs() < 1e-6);
        // Odd sizes round down and use the true ratio.
        let odd = resize_bilinear(&ramp(1, 5, 5), 0.5).unwrap();
        assert_eq!((odd.h, odd.w), (2, 2));
    }

    #[test]
    fn noise_has_the_requested_sigma_and_is_seeded() {
        let mut a = Image::new(1, 100, 100, vec![0.5; 10_000]).unwrap();
        let mut b = a.clone();
        add_noise(&mut a, 25.5, &mut Rng::new(1));
        add_noise(&mut b, 25.5, &mut Rng::new(1));
        assert_eq!(a, b);
        let var = a.data.iter().map(|v| (v - 0.5).powi(2)).sum::<f32>() / 10_000.0;
        assert!((var.sqrt() - 0.1).abs() < 0.005, "{}", var.sqrt());
    }

    #[test]
    fn jpeg_is_lossy_deterministic_and_worse_at_low_quality() {
        let img = ramp(3, 32, 40);
        let err = |q| {
            let out = jpeg(&img, q).unwrap();
            assert_eq!((out.c, out.h, out.w), (3, 32, 40));
            assert_eq!(out, jpeg(&img, q).unwrap());
            out.data.iter().zip(&img.data).map(|(a, b)| (a - b).abs()).sum::<f32>()
        };
        assert!(err(10) > err(95));
    }

    #[test]
    fn sampling_draws_ranges_and_coins_deterministically() {
        let p: Pipeline = "blur:15:2-4,noise:5-30@0.5,jpeg:30-40".parse().unwrap();
        let mut seen_skip = false;
        for i in 0..50 {
            let a = p.sample(&mut Rng::derive(3, &[i]));
            assert_eq!(a, p.sample(&mut Rng::derive(3, &[i])));
            match a[0] {
                Some(Applied::Blur { size: 15, sigma }) => assert!((2.0..4.0).contains(&sigma)),
                ref other => panic!("{other:?}"),
            }
            seen_skip |= a[1].is_none();
            if let Some(Applied::Jpeg { quality }) = a[2] {
                assert!((30..=40).contains(&quality));
            }
        }
        assert!(seen_skip);
    }
}
