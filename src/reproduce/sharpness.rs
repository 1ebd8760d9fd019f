//! How much high-frequency detail a network puts back: the mean gradient magnitude of its
//! outputs on the clean test crops, next to the HR crops' and bicubic's, with PSNR-Y.

use crate::data::imresize::imresize;
use crate::data::Image;
use crate::device::Device;
use crate::infer::super_resolve;
use crate::nn::checkpoint::{self, WeightSet};
use crate::tensor::Tensor;
use crate::train::metrics::{mean_gradient_y, psnr};
use crate::Result;
use std::path::Path;

/// Mean over images of the Y gradient magnitude and of the PSNR-Y against HR.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Sharpness {
    pub gradient: f64,
    pub psnr_y: f64,
}

fn score(out: &[Image], hr: &[Image], border: usize) -> Sharpness {
    let n = out.len().max(1) as f64;
    Sharpness {
        gradient: out.iter().map(|o| mean_gradient_y(o, border)).sum::<f64>() / n,
        psnr_y: out.iter().zip(hr).map(|(o, h)| psnr(o, h, border, true)).sum::<f64>() / n,
    }
}

/// The HR crops themselves (PSNR infinite) and bicubic upsampling of the LR.
pub fn references(lr: &[Image], hr: &[Image], scale: usize) -> Result<(Sharpness, Sharpness)> {
    let bicubic: Vec<Image> = lr.iter().map(|l| imresize(l, scale as f64)).collect::<Result<_>>()?;
    Ok((score(hr, hr, scale), score(&bicubic, hr, scale)))
}

/// The network in `model` (EMA weights) on every LR image.
pub fn of_network(model: &Path, lr: &[Image], hr: &[Image], dev: &Device) -> Result<Sharpness> {
    let ck = checkpoint::load(model, None)?;
    let (mut net, mut p) = ck.arch.build(dev, 0)?;
    p.values = Tensor::from_slice(ck.weights(WeightSet::Ema), &[ck.params.len()], dev)?;
    p.buffers = Tensor::from_slice(&ck.buffers, &[ck.buffers.len()], dev)?;
    let out: Vec<Image> =
        lr.iter().map(|l| super_resolve(net.as_mut(), &mut p, l, dev, None)).collect::<Result<_>>()?;
    Ok(score(&out, hr, ck.arch.scale()))
}
