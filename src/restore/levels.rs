//! RL-Restore's mixed degradations and how patches are made from photos.
//!
//! Each degradation has ten levels, as in the reference's data script: Gaussian blur sigma in
//! [0, 0.5), [0.5, 1), ..., [4.5, 5] (21x21 kernel); Gaussian noise sigma (0-255 scale) in
//! [0, 5), ..., [45, 50]; JPEG quality between 100, 80, 60, 50, 40, 35, 30, 25, 20, 15, 10. A
//! patch draws one level of each, uniformly among the triplets whose levels (1 to 10) sum to its
//! severity's range, then a value uniformly inside each level, and is blurred, then noised, then
//! JPEG-compressed, then rounded to 8 bits. Moderate (12-17) is the reference's training range;
//! mild (6-11) and severe (18-23) are the unseen ones this engine tests on.

use crate::data::degrade::{apply_all, Applied};
use crate::data::pack::Pack;
use crate::data::testset::random_crop;
use crate::data::Image;
use crate::metrics::image::psnr;
use crate::{Result, Rng};
use anyhow::ensure;
use image::RgbImage;
use serde::Serialize;
use std::sync::Arc;

const BLUR_EDGES: [f64; 11] = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0];
const NOISE_EDGES: [f64; 11] = [0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0, 45.0, 50.0];
const JPEG_EDGES: [f64; 11] = [100.0, 80.0, 60.0, 50.0, 40.0, 35.0, 30.0, 25.0, 20.0, 15.0, 10.0];
pub const BLUR_KERNEL: usize = 21;

/// How strong a patch's mixture of degradations is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Mild,
    Moderate,
    Severe,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Mild, Severity::Moderate, Severity::Severe];

    /// The range of the sum of the three levels.
    pub fn level_sum(self) -> (usize, usize) {
        match self {
            Severity::Mild => (6, 11),
            Severity::Moderate => (12, 17),
            Severity::Severe => (18, 23),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Severity::Mild => "mild",
            Severity::Moderate => "moderate",
            Severity::Severe => "severe",
        }
    }

    /// The (blur, noise, JPEG) level triplets of this severity, in a fixed order.
    fn triplets(self) -> Vec<[usize; 3]> {
        let (lo, hi) = self.level_sum();
        let mut v = Vec::new();
        for b in 1..=10 {
            for n in 1..=10 {
                for j in 1..=10 {
                    if (lo..=hi).contains(&(b + n + j)) {
                        v.push([b, n, j]);
                    }
                }
            }
        }
        v
    }

    /// Draws the degradation of one patch.
    pub fn draw(self, rng: &mut Rng) -> Mixture {
        let t = self.triplets();
        let [b, n, j] = t[rng.below(t.len() as u64) as usize];
        let within =
            |edges: &[f64; 11], level: usize, rng: &mut Rng| rng.range(edges[level - 1], edges[level]);
        let blur_sigma = within(&BLUR_EDGES, b, rng);
        let noise_sigma = within(&NOISE_EDGES, n, rng);
        let quality = within(&JPEG_EDGES, j, rng).round().clamp(1.0, 100.0) as u8;
        Mixture { blur_sigma, noise_sigma, quality }
    }
}

/// One patch's degradation: blur, then noise, then JPEG.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Mixture {
    pub blur_sigma: f64,
    pub noise_sigma: f64,
    pub quality: u8,
}

impl Mixture {
    /// `img` degraded and rounded to 8 bits; the noise is drawn from `rng`.
    pub fn apply(&self, img: &Image, rng: &mut Rng) -> Result<Image> {
        // A sigma this small leaves every tap but the centre below 1e-30: skip the blur.
        let blur =
            (self.blur_sigma > 0.05).then_some(Applied::Blur { size: BLUR_KERNEL, sigma: self.blur_sigma });
        let steps = [
            blur,
            Some(Applied::Noise { sigma: self.noise_sigma }),
            Some(Applied::Jpeg { quality: self.quality }),
        ];
        let mut out = apply_all(img, &steps, rng)?;
        out.quantize();
        Ok(out)
    }
}

/// Where clean patches come from: a pack of HR photos (training) or loaded photos (tests).
pub enum PhotoSource {
    Pack(Arc<Pack>),
    Photos(Vec<RgbImage>),
}

impl PhotoSource {
    /// A random `side` x `side` crop of a random photo at least that large.
    pub fn crop(&self, side: usize, rng: &mut Rng) -> Result<Image> {
        match self {
            PhotoSource::Pack(pack) => {
                let usable: Vec<usize> = (0..pack.len())
                    .filter(|&i| pack.entries()[i].h >= side && pack.entries()[i].w >= side)
                    .collect();
                ensure!(!usable.is_empty(), "{}: no image is {side}x{side} or larger", pack.path().display());
                let i = usable[rng.below(usable.len() as u64) as usize];
                let e = &pack.entries()[i];
                let y = rng.below((e.h - side + 1) as u64) as usize;
                let x = rng.below((e.w - side + 1) as u64) as usize;
                pack.window(i, y, x, side, side)
            }
            PhotoSource::Photos(photos) => {
                let usable: Vec<&RgbImage> = photos
                    .iter()
                    .filter(|p| p.width() as usize >= side && p.height() as usize >= side)
                    .collect();
                ensure!(!usable.is_empty(), "no photo is {side}x{side} or larger");
                let p = usable[rng.below(usable.len() as u64) as usize];
                Ok(random_crop(p, side, rng)?.2)
            }
        }
    }
}

/// Degraded patches with their clean originals.
pub struct PatchSet {
    pub inputs: Vec<Image>,
    pub targets: Vec<Image>,
    pub mixtures: Vec<Mixture>,
}

/// PSNR on [0, 1] RGB, the measure of the reward and of every table (no border crop).
pub fn patch_psnr(a: &Image, b: &Image) -> f64 {
    psnr(a, b, 0, false)
}

/// Above this input PSNR a patch is too smooth to teach anything (the reference skips them,
/// which also rules out an infinite PSNR).
const MAX_INPUT_PSNR: f64 = 50.0;

/// `n` patches of `side` pixels at `severity`, drawn from `rng`.
pub fn make_patches(
    src: &PhotoSource,
    severity: Severity,
    n: usize,
    side: usize,
    rng: &mut Rng,
) -> Result<PatchSet> {
    let mut set =
        PatchSet { inputs: Vec::with_capacity(n), targets: Vec::with_capacity(n), mixtures: Vec::new() };
    let mut tries = 0usize;
    while set.inputs.len() < n {
        tries += 1;
        ensure!(
            tries <= 20 * n + 100,
            "the photos are too smooth: most patches come out above {MAX_INPUT_PSNR} dB"
        );
        let clean = src.crop(side, rng)?;
        let mix = severity.draw(rng);
        let degraded = mix.apply(&clean, rng)?;
        if patch_psnr(&degraded, &clean) > MAX_INPUT_PSNR {
            continue;
        }
        set.inputs.push(degraded);
        set.targets.push(clean);
        set.mixtures.push(mix);
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_partition_the_level_sums_and_draw_inside_their_levels() {
        let counts: Vec<usize> = Severity::ALL.iter().map(|s| s.triplets().len()).collect();
        assert!(counts.iter().all(|&c| c > 0), "{counts:?}");
        let mut rng = Rng::new(7);
        for s in Severity::ALL {
            for _ in 0..200 {
                let m = s.draw(&mut rng);
                let level = |edges: &[f64; 11], v: f64| {
                    (1..=10).find(|&l| {
                        let (a, b) = (edges[l - 1].min(edges[l]), edges[l - 1].max(edges[l]));
                        v >= a && v <= b
                    })
                };
                let b = level(&BLUR_EDGES, m.blur_sigma).unwrap();
                let n = level(&NOISE_EDGES, m.noise_sigma).unwrap();
                let j = level(&JPEG_EDGES, m.quality as f64).unwrap();
                let (lo, hi) = s.level_sum();
                // JPEG quality is rounded, so it may land on the next level's edge.
                assert!(b + n + j + 1 >= lo && b + n + j <= hi + 1, "{s:?}: {m:?}");
            }
        }
    }
}
