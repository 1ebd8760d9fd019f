//! The DDR paper's test sets: the same HR content in every set, only the degradation differs.
//!
//! `count` HR crops of `lr_patch * scale` pixels are cut from the photos (seeded positions, the
//! photos taken in turn); each crop's clean LR is its MATLAB-bicubic x1/scale, rounded to 8 bits.
//! A set applies its degradation to every clean LR and rounds again:
//!
//! | spec | set |
//! |---|---|
//! | `clean` | the clean LR |
//! | `blur:2-4` | isotropic Gaussian blur, 15x15 kernel, sigma drawn per image from [2, 4] |
//! | `blur:1` | the same with sigma 1 |
//! | `noise:5-30` | Gaussian noise, sigma drawn per image from [5, 30] on the 0-255 scale |
//! | `NAME=PIPELINE` | any pipeline of `data::degrade`, e.g. `jpeg30=jpeg:30` |
//!
//! Random draws come from `Rng::derive(seed, [hash(set name), image])`, so adding or reordering
//! sets never changes another set's images.

use crate::data::degrade::{Applied, Pipeline};
use crate::data::imresize::imresize;
use crate::data::testset::{degrade_rounded, photos_at_least, random_crop};
use crate::data::Image;
use crate::{Result, Rng};
use anyhow::{bail, ensure, Context};
use image::RgbImage;
use std::str::FromStr;

/// One test set: a name and the degradation applied to the clean LR.
#[derive(Clone, Debug, PartialEq)]
pub struct SetSpec {
    pub name: String,
    pub pipeline: Pipeline,
}

impl FromStr for SetSpec {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<SetSpec> {
        let s = s.trim();
        let (name, spec) = match s.split_once('=') {
            Some((n, p)) => (n.trim().to_string(), p.trim().to_string()),
            None if s == "clean" => (s.to_string(), String::new()),
            None => match s.split_once(':') {
                Some(("blur", range)) => (s.to_string(), format!("blur:15:{range}")),
                Some(("noise", range)) => (s.to_string(), format!("noise:{range}")),
                _ => bail!("'{s}' is not a test set: use clean, blur:SIGMA[-SIGMA], noise:SIGMA[-SIGMA] or NAME=PIPELINE"),
            },
        };
        ensure!(!name.is_empty(), "test set '{s}' has no name");
        let pipeline: Pipeline = spec.parse().with_context(|| format!("test set '{s}'"))?;
        ensure!(
            pipeline.total_factor() == 1.0,
            "test set '{s}' resizes; degradations apply to the clean LR and must keep its size"
        );
        Ok(SetSpec { name, pipeline })
    }
}

/// A list of sets, comma-separated at the top level: `clean,blur:2-4,noise:5-30`.
pub fn parse_sets(s: &str) -> Result<Vec<SetSpec>> {
    let sets: Vec<SetSpec> =
        s.split(',').filter(|p| !p.trim().is_empty()).map(str::parse).collect::<Result<_>>()?;
    ensure!(!sets.is_empty(), "no test sets given");
    for (i, a) in sets.iter().enumerate() {
        ensure!(!sets[..i].iter().any(|b| b.name == a.name), "test set '{}' is given twice", a.name);
    }
    Ok(sets)
}

/// The paper's intra-degradation sets (Table 3): noise at fixed levels, blur at fixed widths.
pub fn intra_sets() -> Vec<SetSpec> {
    ["noise:5", "noise:10", "noise:20", "noise:30", "blur:1", "blur:4"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect()
}

/// Where one HR crop came from.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CropInfo {
    pub photo: usize,
    pub y: usize,
    pub x: usize,
}

/// One set's LR images and what was drawn for each.
pub struct TestSet {
    pub spec: SetSpec,
    pub lr: Vec<Image>,
    /// Each image's degradation steps as drawn (`None` where a step's coin said no).
    pub drawn: Vec<Vec<Option<Applied>>>,
}

/// HR crops, where they came from, and every set.
pub struct TestSets {
    pub hr: Vec<Image>,
    pub crops: Vec<CropInfo>,
    pub sets: Vec<TestSet>,
}

fn name_key(name: &str) -> u64 {
    // FNV-1a: stable across platforms and releases, unlike std's hasher.
    name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

/// Cuts `count` crops of `lr_patch * scale` HR pixels and builds every set.
pub fn build(
    photos: &[RgbImage],
    count: usize,
    lr_patch: usize,
    scale: usize,
    specs: &[SetSpec],
    seed: u64,
) -> Result<TestSets> {
    ensure!(!photos.is_empty(), "no photos to cut test images from");
    ensure!(count > 0 && lr_patch > 0 && scale > 0, "count, patch and scale must be positive");
    let side = lr_patch * scale;
    let usable = photos_at_least(photos, side)?;
    let mut hr = Vec::with_capacity(count);
    let mut crops = Vec::with_capacity(count);
    for i in 0..count {
        let photo = usable[i % usable.len()];
        let mut rng = Rng::derive(seed, &[name_key("crop"), i as u64]);
        let (y, x, crop) = random_crop(&photos[photo], side, &mut rng)?;
        hr.push(crop);
        crops.push(CropInfo { photo, y, x });
    }
    let clean: Vec<Image> = hr
        .iter()
        .map(|h| {
            let mut lr = imresize(h, 1.0 / scale as f64)?;
            lr.quantize();
            Ok(lr)
        })
        .collect::<Result<_>>()?;
    let mut sets = Vec::with_capacity(specs.len());
    for spec in specs {
        let mut lrs = Vec::with_capacity(count);
        let mut drawn = Vec::with_capacity(count);
        for (i, c) in clean.iter().enumerate() {
            let mut rng = Rng::derive(seed, &[name_key(&spec.name), i as u64]);
            let (lr, steps) = degrade_rounded(c, &spec.pipeline, &mut rng)?;
            lrs.push(lr);
            drawn.push(steps);
        }
        sets.push(TestSet { spec: spec.clone(), lr: lrs, drawn });
    }
    Ok(TestSets { hr, crops, sets })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photos() -> Vec<RgbImage> {
        let mut rng = Rng::new(1);
        (0..2).map(|_| RgbImage::from_fn(90, 70, |_, _| image::Rgb([rng.next_u32() as u8, 9, 200]))).collect()
    }

    #[test]
    fn sets_share_content_and_differ_in_degradation() {
        let specs = parse_sets("clean,blur:2-4,noise:5-30").unwrap();
        let t = build(&photos(), 6, 8, 4, &specs, 3).unwrap();
        assert_eq!(t.hr.len(), 6);
        let (clean, blur, noise) = (&t.sets[0].lr, &t.sets[1].lr, &t.sets[2].lr);
        assert_eq!((clean[0].h, clean[0].w), (8, 8));
        assert!(clean[0] != blur[0] && clean[0] != noise[0]);
        // Adding a set does not change the others.
        let more = parse_sets("noise:5-30,clean,jpeg=jpeg:40").unwrap();
        let t2 = build(&photos(), 6, 8, 4, &more, 3).unwrap();
        assert!(t2.sets[0].lr == *noise && t2.sets[1].lr == *clean);
        match &t.sets[2].drawn[0][0] {
            Some(Applied::Noise { sigma }) => assert!((5.0..30.0).contains(sigma)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_specs_are_errors() {
        assert!(parse_sets("clean,clean").is_err());
        assert!(parse_sets("sharpen").is_err());
        assert!(parse_sets("x=bicubic:1/2").is_err());
        assert!(parse_sets("").is_err());
        assert!(build(&photos(), 2, 40, 4, &parse_sets("clean").unwrap(), 0).is_err());
    }
}
