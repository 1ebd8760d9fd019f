//! FAIG's experiment: test images degraded two ways, discriminative filter scores, the
//! comparison rankings, and the masking evaluation.

use super::filters::{rank, FilterIndex};
use super::integrate::{integrated_gradients, set_path_point, PathRule};
use crate::data::degrade::Pipeline;
use crate::data::imresize::imresize;
use crate::data::testset::{degrade_rounded, photos_at_least, random_crop};
use crate::data::Image;
use crate::device::Device;
use crate::nn::models::SrNet;
use crate::nn::{Params, Pass, Want};
use crate::tensor::Tensor;
use crate::{ops, Result, Rng};
use image::RgbImage;

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

fn tensor(img: &Image, dev: &Device) -> Result<Tensor> {
    Tensor::from_slice(&img.data, &[1, img.c, img.h, img.w], dev)
}

/// Summed discriminative scores over the test images: `blur[f] = sum_x S(x_blur)[f] - S(x_noise)[f]`
/// and `noise = -blur`, for FAIG (the parameter path) or for input-space IG.
pub struct DiscriminativeScores {
    pub blur: Vec<f64>,
    pub noise: Vec<f64>,
}

/// FAIG: integrate along the parameter path from `base` to `target` for every image and
/// degradation.
pub fn faig_scores(
    net: &mut dyn SrNet,
    p: &mut Params,
    index: &FilterIndex,
    base: &Tensor,
    target: &Tensor,
    images: &[TestImage],
    steps: usize,
    rule: PathRule,
    dev: &Device,
    mut progress: impl FnMut(),
) -> Result<DiscriminativeScores> {
    let delta: Vec<f32> = target.to_vec()?.iter().zip(base.to_vec()?).map(|(t, b)| t - b).collect();
    let mut blur = vec![0f64; index.total];
    for img in images {
        let y = tensor(&img.hr, dev)?;
        let gb = integrated_gradients(net, p, base, target, &tensor(&img.blur, dev)?, &y, steps, rule)?;
        progress();
        let gn = integrated_gradients(net, p, base, target, &tensor(&img.noise, dev)?, &y, steps, rule)?;
        progress();
        let (sb, sn) = (index.scores(&delta, &gb.to_vec()?), index.scores(&delta, &gn.to_vec()?));
        blur.iter_mut().zip(sb.iter().zip(&sn)).for_each(|(d, (b, n))| *d += b - n);
    }
    let noise = blur.iter().map(|v| -v).collect();
    Ok(DiscriminativeScores { blur, noise })
}

/// The comparison of FAIG's paper that integrates over the INPUT instead: with the target's
/// parameters fixed, the mean of dL/dtheta along the path from a black image to x, times theta,
/// summed per filter (the conventional integrated gradients, attributed to filters).
pub fn input_ig_scores(
    net: &mut dyn SrNet,
    p: &mut Params,
    index: &FilterIndex,
    target: &Tensor,
    images: &[TestImage],
    steps: usize,
    rule: PathRule,
    dev: &Device,
) -> Result<DiscriminativeScores> {
    p.values = target.clone();
    let theta = target.to_vec()?;
    let mut blur = vec![0f64; index.total];
    for img in images {
        let y = tensor(&img.hr, dev)?;
        let mut per = Vec::new();
        for lr in [&img.blur, &img.noise] {
            p.zero_grads()?;
            for alpha in rule.alphas(steps) {
                let x =
                    Tensor::from_vec(lr.data.iter().map(|v| v * alpha).collect(), &[1, 3, lr.h, lr.w], dev)?;
                let out = net.forward(p, &x, Pass::EVAL_GRAD)?;
                let (_, dy) = ops::loss::sse_sum(&out, &y, 1.0)?;
                net.backward(p, &dy, Want::PARAMS)?;
            }
            let g = p.grads.to_vec()?;
            let mean: Vec<f32> = g.iter().map(|v| v / steps as f32).collect();
            per.push(index.scores(&theta, &mean));
        }
        blur.iter_mut().zip(per[0].iter().zip(&per[1])).for_each(|(d, (b, n))| *d += b - n);
    }
    let noise = blur.iter().map(|v| -v).collect();
    Ok(DiscriminativeScores { blur, noise })
}

/// The change of each filter relative to its size: sum|theta - theta_bar| / sum|theta_bar|.
pub fn weight_change_scores(index: &FilterIndex, base: &[f32], target: &[f32]) -> Vec<f64> {
    let delta: Vec<f32> = target.iter().zip(base).map(|(t, b)| t - b).collect();
    let (d, b) = (index.sum_abs(&delta), index.sum_abs(base));
    d.iter().zip(&b).map(|(d, b)| d / b.max(1e-12)).collect()
}

/// A seeded random ranking.
pub fn random_ranking(n: usize, seed: u64) -> Vec<usize> {
    let mut r: Vec<usize> = (0..n).collect();
    Rng::derive(seed, &[0x5A4D]).shuffle(&mut r);
    r
}

/// BT.601 luma of an RGB image in [0, 1] (values clipped to [0, 1] first).
fn luma(img: &Image) -> Vec<f32> {
    let plane = img.h * img.w;
    (0..plane)
        .map(|i| {
            let c = |k: usize| img.data[k * plane + i].clamp(0.0, 1.0);
            0.299 * c(0) + 0.587 * c(1) + 0.114 * c(2)
        })
        .collect()
}

/// Gradient magnitude of the luma by central differences (edges replicated).
pub fn gradient_map(img: &Image) -> Vec<f32> {
    let (h, w) = (img.h, img.w);
    let y = luma(img);
    let at = |r: usize, c: usize| y[r * w + c];
    (0..h * w)
        .map(|i| {
            let (r, c) = (i / w, i % w);
            let gx = (at(r, (c + 1).min(w - 1)) - at(r, c.saturating_sub(1))) * 0.5;
            let gy = (at((r + 1).min(h - 1), c) - at(r.saturating_sub(1), c)) * 0.5;
            (gx * gx + gy * gy).sqrt()
        })
        .collect()
}

/// 1000 x the mean squared difference of two images' gradient maps (FAIG's measure of how much
/// masking changed what the network restores).
pub fn gradient_map_mse_x1000(a: &Image, b: &Image) -> f64 {
    let (ga, gb) = (gradient_map(a), gradient_map(b));
    1000.0 * ga.iter().zip(&gb).map(|(x, y)| ((x - y) as f64).powi(2)).sum::<f64>() / ga.len() as f64
}

/// Runs the network with flat parameters `values` on every image's blurry and noisy input.
pub fn outputs(
    net: &mut dyn SrNet,
    p: &mut Params,
    values: &Tensor,
    images: &[TestImage],
    dev: &Device,
) -> Result<(Vec<Image>, Vec<Image>)> {
    p.values = values.clone();
    let mut run = |lr: &Image| -> Result<Image> {
        let y = net.forward(p, &tensor(lr, dev)?, Pass::EVAL)?;
        let (_, c, h, w) = y.dims4()?;
        Image::new(c, h, w, y.to_vec()?)
    };
    let blur = images.iter().map(|i| run(&i.blur)).collect::<Result<_>>()?;
    let noise = images.iter().map(|i| run(&i.noise)).collect::<Result<_>>()?;
    Ok((blur, noise))
}

/// How a network with masked filters differs from the target on one kind of input.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Effect {
    /// Mean gradient-map MSE x 1000 against the unmasked target's outputs.
    pub grad_mse: f64,
    /// Mean PSNR (RGB, border = scale) against the ground truth.
    pub psnr: f64,
}

pub fn effect(outputs: &[Image], target_outputs: &[Image], images: &[TestImage], scale: usize) -> Effect {
    let n = outputs.len() as f64;
    let grad_mse =
        outputs.iter().zip(target_outputs).map(|(o, t)| gradient_map_mse_x1000(o, t)).sum::<f64>() / n;
    let psnr = outputs
        .iter()
        .zip(images)
        .map(|(o, i)| crate::metrics::image::psnr(o, &i.hr, scale, false))
        .sum::<f64>()
        / n;
    Effect { grad_mse, psnr }
}

/// Bicubic PSNR of the blurry / noisy inputs, for the report's reference row.
pub fn bicubic_effect(images: &[TestImage], scale: usize) -> Result<(f64, f64)> {
    let mut s = (0.0, 0.0);
    for i in images {
        s.0 += crate::metrics::image::psnr(&imresize(&i.blur, scale as f64)?, &i.hr, scale, false);
        s.1 += crate::metrics::image::psnr(&imresize(&i.noise, scale as f64)?, &i.hr, scale, false);
    }
    Ok((s.0 / images.len() as f64, s.1 / images.len() as f64))
}

/// The rankings of a masking table.
pub struct Rankings {
    pub method: String,
    pub blur: Vec<usize>,
    pub noise: Vec<usize>,
}

impl Rankings {
    pub fn from_scores(method: &str, s: &DiscriminativeScores) -> Rankings {
        Rankings { method: method.into(), blur: rank(&s.blur), noise: rank(&s.noise) }
    }
}

/// Leaves the network's parameters pointing at the target again (after path integration).
pub fn reset_to(p: &mut Params, base: &Tensor, target: &Tensor) -> Result<()> {
    set_path_point(p, base, target, 1.0)
}
