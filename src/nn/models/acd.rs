//! SFT-GAN's discriminator, `ACD_VGG_BN_96` of the reference training code: a VGG-style feature
//! stack and two heads on its flattened output, a real/fake logit (`gan`) and category logits
//! (`cls`, the auxiliary classifier over the outdoor categories of the segmentation priors).
//!
//! `feature`: conv 3->nf k3s1, LeakyReLU(0.1); then (conv k4s2p1 + BN, conv k3s1p1 + BN) pairs
//! widening to 2nf, 4nf, 8nf, and a last conv k4s2p1 + BN at 8nf; every conv with a bias (the
//! reference uses PyTorch's default), every activation LeakyReLU(0.1). Four stride-2 convs take
//! the 96x96 input to 6x6. `gan` and `cls`: Linear(8nf * 6 * 6 -> 100), LeakyReLU(0.1), Linear(100
//! -> 1 or the category count, 8 in the reference). Key names are the reference's
//! `nn.Sequential` indices: `feature.0`, `feature.2` + `feature.3` (BN), ..., `gan.0`, `gan.2`,
//! `cls.0`, `cls.2`.
//!
//! As a [`Layer`] it is the real/fake discriminator (forward gives the `gan` logit, backward
//! takes its gradient), which is what training on degradation maps uses: those have no
//! categories, so the `cls` head gets no gradient there. [`AcdDiscriminator::forward_heads`] and
//! [`AcdDiscriminator::backward_heads`] run both heads.

use crate::device::Device;
use crate::nn::layers::{Act, Activation, BatchNorm2d, Conv2d, Flatten, Linear};
use crate::nn::{Fan, Init, Layer, ParamBuilder, Params, Pass, Sequential, Want};
use crate::ops::conv2d::Conv2dSpec;
use crate::ops::elementwise::add;
use crate::tensor::Tensor;
use crate::Result;
use anyhow::{ensure, Context};
use serde::{Deserialize, Serialize};

/// The discriminator's size: `nf` base channels (64), the HR side it judges (96) and the number
/// of categories (8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcdSpec {
    pub nf: usize,
    pub input: usize,
    pub classes: usize,
}

impl Default for AcdSpec {
    /// The reference's sizes.
    fn default() -> Self {
        Self::REFERENCE
    }
}

impl AcdSpec {
    /// The reference's sizes.
    pub const REFERENCE: AcdSpec = AcdSpec { nf: 64, input: 96, classes: 8 };

    pub fn validate(&self) -> Result<()> {
        ensure!(self.nf > 0 && self.classes > 0, "ACD discriminator: nf and classes must be > 0");
        ensure!(
            self.input >= 16 && self.input.is_multiple_of(16),
            "ACD discriminator: its input side must be a multiple of 16 (the reference: 96 = LR patch 24 x4), not {}",
            self.input
        );
        Ok(())
    }

    pub fn declare(&self) -> Result<(AcdDiscriminator, ParamBuilder)> {
        self.validate()?;
        let mut pb = ParamBuilder::new();
        let net = AcdDiscriminator::new(&mut pb, *self);
        Ok((net, pb))
    }

    pub fn build(&self, dev: &Device, seed: u64) -> Result<(AcdDiscriminator, Params)> {
        let (net, pb) = self.declare()?;
        Ok((net, pb.build(dev, seed)?))
    }
}

pub struct AcdDiscriminator {
    pub spec: AcdSpec,
    feature: Sequential,
    gan: Sequential,
    cls: Sequential,
}

/// A Linear -> LeakyReLU(0.1) -> Linear head under `scope` (keys `.0` and `.2`).
fn head(pb: &mut ParamBuilder, scope: &str, c_in: usize, out: usize, init: Init) -> Sequential {
    pb.scope(scope, |pb| {
        let mut s = Sequential::new();
        s.push(pb.scope("0", |pb| Linear::new(pb, c_in, 100, true, init)));
        s.push(Act::new(Activation::LeakyRelu(0.1)));
        s.push(pb.scope("2", |pb| Linear::new(pb, 100, out, true, init)));
        s
    })
}

impl AcdDiscriminator {
    fn new(pb: &mut ParamBuilder, spec: AcdSpec) -> Self {
        // PyTorch's default init has std 1/sqrt(3 fan_in); a normal of that std, as for SRGAN's D.
        let init = Init::KaimingNormal { fan: Fan::In, gain: 1.0 / 3f32.sqrt(), scale: 1.0 };
        let nf = spec.nf;
        let feature = pb.scope("feature", |pb| {
            let mut s = Sequential::new();
            let mut index = 0usize;
            let mut conv = |pb: &mut ParamBuilder, s: &mut Sequential, c_in, c_out, k, stride, bn: bool| {
                let cs = Conv2dSpec { c_in, c_out, k, stride, pad: 1 };
                s.push(pb.scope(index.to_string(), |pb| Conv2d::new(pb, cs, true, init)));
                if bn {
                    s.push(pb.scope((index + 1).to_string(), |pb| BatchNorm2d::new(pb, c_out)));
                }
                s.push(Act::new(Activation::LeakyRelu(0.1)));
                index += if bn { 3 } else { 2 };
            };
            conv(pb, &mut s, 3, nf, 3, 1, false);
            let widths = [nf, 2 * nf, 4 * nf, 8 * nf];
            for (i, &c) in widths.iter().enumerate() {
                conv(pb, &mut s, c, c, 4, 2, true);
                if let Some(&next) = widths.get(i + 1) {
                    conv(pb, &mut s, c, next, 3, 1, true);
                }
            }
            s.push(Flatten::default());
            s
        });
        let side = spec.input / 16;
        let flat = 8 * nf * side * side;
        let gan = head(pb, "gan", flat, 1, init);
        let cls = head(pb, "cls", flat, spec.classes, init);
        AcdDiscriminator { spec, feature, gan, cls }
    }

    fn check_input(&self, x: &Tensor) -> Result<()> {
        let (_, c, h, w) = x.dims4()?;
        let n = self.spec.input;
        ensure!(
            c == 3 && h == n && w == n,
            "ACD discriminator: expects [batch, 3, {n}, {n}], got {:?}",
            x.shape()
        );
        Ok(())
    }

    /// The real/fake logits `[batch, 1]` and the category logits `[batch, classes]`.
    pub fn forward_heads(&mut self, p: &mut Params, x: &Tensor, pass: Pass) -> Result<(Tensor, Tensor)> {
        self.check_input(x)?;
        let f = self.feature.forward(p, x, pass)?;
        Ok((self.gan.forward(p, &f, pass)?, self.cls.forward(p, &f, pass)?))
    }

    /// Backward through both heads (`dcls` None: the category head gets no gradient, as when
    /// there are no categories) and the shared features.
    pub fn backward_heads(
        &mut self,
        p: &mut Params,
        dgan: &Tensor,
        dcls: Option<&Tensor>,
        want: Want,
    ) -> Result<Option<Tensor>> {
        let through = Want { input: true, params: want.params };
        let mut df = self.gan.backward(p, dgan, through)?.context("ACD gan head: no input gradient")?;
        if let Some(d) = dcls {
            let dc = self.cls.backward(p, d, through)?.context("ACD cls head: no input gradient")?;
            df = add(&df, &dc)?;
        }
        self.feature.backward(p, &df, want)
    }
}

impl Layer for AcdDiscriminator {
    fn forward(&mut self, p: &mut Params, x: &Tensor, pass: Pass) -> Result<Tensor> {
        self.check_input(x)?;
        let f = self.feature.forward(p, x, pass)?;
        self.gan.forward(p, &f, pass)
    }

    fn backward(&mut self, p: &mut Params, dy: &Tensor, want: Want) -> Result<Option<Tensor>> {
        self.backward_heads(p, dy, None, want)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_layout_has_its_sequential_names_and_a_18432_wide_head() {
        let (_, pb) = AcdSpec::REFERENCE.declare().unwrap();
        let (params, buffers) = pb.specs();
        let names: Vec<&str> = params.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            &names[..7],
            [
                "feature.0.weight",
                "feature.0.bias",
                "feature.2.weight",
                "feature.2.bias",
                "feature.3.weight",
                "feature.3.bias",
                "feature.5.weight"
            ]
        );
        let last_conv = params.iter().find(|s| s.name == "feature.20.weight").unwrap();
        assert_eq!(last_conv.shape, [512, 512, 4, 4]);
        assert!(names.contains(&"feature.21.weight") && !names.contains(&"feature.23.weight"));
        assert_eq!(params.iter().find(|s| s.name == "gan.0.weight").unwrap().shape, [100, 512 * 6 * 6]);
        assert_eq!(params.iter().find(|s| s.name == "cls.2.weight").unwrap().shape, [8, 100]);
        // Seven BatchNorms, each with running mean and variance.
        assert_eq!(buffers.len(), 14);
        assert!(AcdSpec { input: 100, ..AcdSpec::REFERENCE }.validate().is_err());
    }
}
