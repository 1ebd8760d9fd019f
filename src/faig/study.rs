//! What every FAIG experiment starts from: the baseline and target networks (same architecture)
//! and test images degraded two ways.

use super::filters::FilterIndex;
use crate::data::degrade::Pipeline;
use crate::data::testset::{degrade_rounded, load_photos, photos_at_least, random_crop};
use crate::data::Image;
use crate::device::Device;
use crate::nn::checkpoint::{self, WeightSet};
use crate::nn::models::SrNet;
use crate::nn::Params;
use crate::tensor::Tensor;
use crate::{Result, Rng};
use anyhow::{bail, ensure, Context};
use image::RgbImage;
use std::path::PathBuf;

/// One test image: HR ground truth and its blurry and noisy LR versions.
pub struct TestImage {
    pub hr: Image,
    pub blur: Image,
    pub noise: Image,
}

/// The two degradations FAIG separates, as pipelines from HR to LR.
#[derive(Clone, Debug)]
pub struct Degradations {
    pub blur: Pipeline,
    pub noise: Pipeline,
}

impl Degradations {
    /// FAIG's test data for scale `s`: Gaussian blur (21x21, sigma) then bilinear x1/s; bilinear
    /// x1/s then Gaussian noise (sigma on the 0-255 scale).
    pub fn faig(scale: usize, blur_sigma: f64, noise_sigma: f64) -> Result<Degradations> {
        Ok(Degradations {
            blur: format!("blur:21:{blur_sigma},bilinear:1/{scale}").parse()?,
            noise: format!("bilinear:1/{scale},noise:{noise_sigma}").parse()?,
        })
    }

    /// Parses "blur:SIGMA,noise:SIGMA" (both needed) into [`Degradations::faig`].
    pub fn parse(spec: &str, scale: usize) -> Result<Degradations> {
        let (mut blur, mut noise) = (None, None);
        for part in spec.split(',') {
            match part.trim().split_once(':') {
                Some(("blur", v)) => {
                    blur = Some(v.parse::<f64>().with_context(|| format!("blur sigma '{v}'"))?)
                }
                Some(("noise", v)) => {
                    noise = Some(v.parse::<f64>().with_context(|| format!("noise sigma '{v}'"))?)
                }
                _ => bail!("--degradations: '{part}' is not blur:SIGMA or noise:SIGMA"),
            }
        }
        match (blur, noise) {
            (Some(b), Some(n)) => Degradations::faig(scale, b, n),
            _ => bail!("--degradations needs both blur:SIGMA and noise:SIGMA"),
        }
    }
}

/// `count` HR crops of `hr_size` pixels (seeded positions, photos in turn) and their degraded LR.
pub fn test_images(
    photos: &[RgbImage],
    count: usize,
    hr_size: usize,
    deg: &Degradations,
    seed: u64,
) -> Result<Vec<TestImage>> {
    let usable = photos_at_least(photos, hr_size)?;
    (0..count)
        .map(|i| {
            let mut rng = Rng::derive(seed, &[0xFA16, i as u64]);
            let (_, _, hr) = random_crop(&photos[usable[i % usable.len()]], hr_size, &mut rng)?;
            let (blur, _) = degrade_rounded(&hr, &deg.blur, &mut rng)?;
            let (noise, _) = degrade_rounded(&hr, &deg.noise, &mut rng)?;
            Ok(TestImage { hr, blur, noise })
        })
        .collect()
}

/// Where a study's networks and test images come from.
#[derive(Clone, Debug)]
pub struct StudyInputs {
    /// The baseline network (trained on clean LR).
    pub baseline: PathBuf,
    /// The target network (fine-tuned from the baseline on blurry and noisy LR).
    pub target: PathBuf,
    /// HR photos for the test images: a folder, or "builtin".
    pub photos: String,
    /// "blur:SIGMA,noise:SIGMA".
    pub degradations: String,
    /// Test images (HR crops) and their side.
    pub count: usize,
    pub crop: usize,
    pub seed: u64,
    /// Which weights of each checkpoint.
    pub weights: WeightSet,
}

/// The two networks as flat parameter vectors over one built network, their filters, and the
/// test images.
pub struct Study {
    pub dev: Device,
    pub net: Box<dyn SrNet>,
    pub p: Params,
    pub index: FilterIndex,
    pub base: Tensor,
    pub target: Tensor,
    pub images: Vec<TestImage>,
    pub scale: usize,
}

impl Study {
    pub fn load(dev: &Device, inputs: &StudyInputs) -> Result<Study> {
        let base_ck = checkpoint::load(&inputs.baseline, None).with_context(|| "--baseline")?;
        let target_ck = checkpoint::load(&inputs.target, None).with_context(|| "--target")?;
        ensure!(
            base_ck.arch == target_ck.arch,
            "the baseline is a {} network and the target a {}: FAIG needs two networks of the same architecture",
            base_ck.arch.describe(),
            target_ck.arch.describe()
        );
        ensure!(
            base_ck.weights(inputs.weights) != target_ck.weights(inputs.weights),
            "--baseline and --target hold the same weights: the path between them has length zero, \
             so every integrated gradient is 0 and no filter can be found"
        );
        let scale = base_ck.arch.scale();
        ensure!(inputs.count > 0, "--count must be at least 1 (test images to integrate over)");
        ensure!(
            inputs.crop.is_multiple_of(scale) && inputs.crop >= 16 * scale,
            "--crop {} does not suit a x{scale} network: use a multiple of {scale} of at least {} \
             (16 LR pixels)",
            inputs.crop,
            16 * scale
        );
        let (net, p) = base_ck.arch.build(dev, 0)?;
        let n = p.len();
        let base = Tensor::from_slice(base_ck.weights(inputs.weights), &[n], dev)?;
        let target = Tensor::from_slice(target_ck.weights(inputs.weights), &[n], dev)?;
        let index = FilterIndex::new(p.specs());
        let deg = Degradations::parse(&inputs.degradations, scale)?;
        let photos = load_photos(&inputs.photos)?;
        let images = test_images(&photos, inputs.count, inputs.crop, &deg, inputs.seed)?;
        Ok(Study { dev: dev.clone(), net, p, index, base, target, images, scale })
    }
}
