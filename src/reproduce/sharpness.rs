//! How much high-frequency detail a network puts back: the mean gradient magnitude of its
//! outputs on the clean test crops ([`mean_gradient`]: BT.601 luma on [0, 1], central
//! differences), next to the HR crops' and bicubic's, with PSNR-Y.

use crate::data::imresize::imresize;
use crate::data::Image;
use crate::infer::super_resolve;
use crate::metrics::image::{mean_gradient, psnr};
use crate::nn::models::SrNet;
use crate::nn::Params;
use crate::Result;

/// Mean over images of the luma gradient magnitude and of the PSNR-Y against HR.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Sharpness {
    pub gradient: f64,
    pub psnr_y: f64,
}

fn score(out: &[Image], hr: &[Image], border: usize) -> Sharpness {
    let n = out.len().max(1) as f64;
    Sharpness {
        gradient: out.iter().map(|o| mean_gradient(o, border)).sum::<f64>() / n,
        psnr_y: out.iter().zip(hr).map(|(o, h)| psnr(o, h, border, true)).sum::<f64>() / n,
    }
}

/// The HR crops themselves (PSNR infinite) and bicubic upsampling of the LR.
pub fn references(lr: &[Image], hr: &[Image], scale: usize) -> Result<(Sharpness, Sharpness)> {
    let bicubic: Vec<Image> = lr.iter().map(|l| imresize(l, scale as f64)).collect::<Result<_>>()?;
    Ok((score(hr, hr, scale), score(&bicubic, hr, scale)))
}

/// The network's outputs for every LR image, scored against HR.
pub fn of_network(net: &mut dyn SrNet, p: &mut Params, lr: &[Image], hr: &[Image]) -> Result<Sharpness> {
    let out: Vec<Image> = lr.iter().map(|l| super_resolve(net, p, l, None)).collect::<Result<_>>()?;
    Ok(score(&out, hr, net.arch().scale()))
}
