//! BasicSR's `VGGStyleDiscriminator` (SRGAN's D): conv0_0 3->nf k3s1 with bias, LeakyReLU(0.2);
//! conv0_1 nf->nf k4s2p1 without bias + BatchNorm; then pairs (k3s1 + BN, k4s2p1 + BN) at 2nf,
//! 4nf, 8nf, 8nf channels; every activation LeakyReLU(0.2); flatten, linear1 -> 100, LeakyReLU,
//! linear2 -> 1 (a raw logit).
//!
//! Key names and order are BasicSR's (`conv0_0`, `conv0_1`, `bn0_1`, `conv1_0`, `bn1_0`, ...,
//! `linear1`, `linear2`). BasicSR accepts 128x128 (this layout) or 256x256 inputs (one more
//! stage); here `input` may be any multiple of 32 with the five stages of the 128 layout and
//! linear1 sized `8nf * (input/32)^2` (8192 at nf 64, input 128), so that parity fixtures stay
//! small. BatchNorm follows the pass: batch statistics in training, as SRGAN runs D.
//!
//! Init: PyTorch's default for these layers is uniform with std 1/sqrt(3 fan_in); this draws a
//! normal of that std (BasicSR does not re-initialise D), biases zero.

use crate::device::Device;
use crate::nn::layers::{Act, Activation, BatchNorm2d, Conv2d, Flatten, Linear};
use crate::nn::{Fan, Init, Layer, ParamBuilder, Params, Pass, Sequential, Want};
use crate::ops::conv2d::Conv2dSpec;
use crate::tensor::Tensor;
use crate::Result;
use anyhow::ensure;
use serde::{Deserialize, Serialize};

/// The discriminator's size: `nf` base channels (64 in SRGAN) and the HR patch side it judges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscSpec {
    pub nf: usize,
    pub input: usize,
}

impl DiscSpec {
    pub fn validate(&self) -> Result<()> {
        ensure!(self.nf > 0, "discriminator: nf must be > 0");
        ensure!(
            self.input >= 32 && self.input.is_multiple_of(32),
            "discriminator: its input side must be a multiple of 32 (SRGAN: 128 = LR patch 32 x4), not {}",
            self.input
        );
        Ok(())
    }

    /// The network and its parameter declarations.
    pub fn declare(&self) -> Result<(VggDiscriminator, ParamBuilder)> {
        self.validate()?;
        let mut pb = ParamBuilder::new();
        let net = VggDiscriminator::new(&mut pb, *self);
        Ok((net, pb))
    }

    pub fn build(&self, dev: &Device, seed: u64) -> Result<(VggDiscriminator, Params)> {
        let (net, pb) = self.declare()?;
        Ok((net, pb.build(dev, seed)?))
    }
}

pub struct VggDiscriminator {
    pub spec: DiscSpec,
    net: Sequential,
}

impl VggDiscriminator {
    fn new(pb: &mut ParamBuilder, spec: DiscSpec) -> Self {
        let init = Init::KaimingNormal { fan: Fan::In, gain: 1.0 / 3f32.sqrt(), scale: 1.0 };
        let lrelu = || Act::new(Activation::LeakyRelu(0.2));
        let nf = spec.nf;
        let mut s = Sequential::new();
        s.push(pb.scope("conv0_0", |pb| Conv2d::same(pb, 3, nf, 3, init)));
        s.push(lrelu());
        let widths = [nf, 2 * nf, 4 * nf, 8 * nf, 8 * nf];
        let mut c_in = nf;
        for (i, &c) in widths.iter().enumerate() {
            // Stage 0 has no k3 conv of its own: conv0_0 (with bias, no BN) plays that part.
            if i > 0 {
                let k3 = Conv2dSpec { c_in, c_out: c, k: 3, stride: 1, pad: 1 };
                s.push(pb.scope(format!("conv{i}_0"), |pb| Conv2d::new(pb, k3, false, init)));
                s.push(pb.scope(format!("bn{i}_0"), |pb| BatchNorm2d::new(pb, c)));
                s.push(lrelu());
            }
            let k4 = Conv2dSpec { c_in: c, c_out: c, k: 4, stride: 2, pad: 1 };
            s.push(pb.scope(format!("conv{i}_1"), |pb| Conv2d::new(pb, k4, false, init)));
            s.push(pb.scope(format!("bn{i}_1"), |pb| BatchNorm2d::new(pb, c)));
            s.push(lrelu());
            c_in = c;
        }
        s.push(Flatten::default());
        let side = spec.input / 32;
        s.push(pb.scope("linear1", |pb| Linear::new(pb, 8 * nf * side * side, 100, true, init)));
        s.push(lrelu());
        s.push(pb.scope("linear2", |pb| Linear::new(pb, 100, 1, true, init)));
        VggDiscriminator { spec, net: s }
    }
}

impl Layer for VggDiscriminator {
    fn forward(&mut self, p: &mut Params, x: &Tensor, pass: Pass) -> Result<Tensor> {
        let (_, c, h, w) = x.dims4()?;
        let n = self.spec.input;
        ensure!(
            c == 3 && h == n && w == n,
            "discriminator: expects [batch, 3, {n}, {n}], got {:?}",
            x.shape()
        );
        self.net.forward(p, x, pass)
    }

    fn backward(&mut self, p: &mut Params, dy: &Tensor, want: Want) -> Result<Option<Tensor>> {
        self.net.backward(p, dy, want)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srgan_layout_has_basicsr_names_and_an_8192_wide_head() {
        let (_, pb) = DiscSpec { nf: 64, input: 128 }.declare().unwrap();
        let (params, buffers) = pb.specs();
        let names: Vec<&str> = params.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            &names[..5],
            ["conv0_0.weight", "conv0_0.bias", "conv0_1.weight", "bn0_1.weight", "bn0_1.bias"]
        );
        assert_eq!(&names[5..8], ["conv1_0.weight", "bn1_0.weight", "bn1_0.bias"]);
        let lin = params.iter().find(|s| s.name == "linear1.weight").unwrap();
        assert_eq!(lin.shape, [100, 8192]);
        assert_eq!(params.last().unwrap().name, "linear2.bias");
        assert_eq!(params.iter().find(|s| s.name == "conv4_1.weight").unwrap().shape, [512, 512, 4, 4]);
        // Nine BatchNorms, each with running mean and variance.
        assert_eq!(buffers.len(), 18);
        assert!(DiscSpec { nf: 64, input: 100 }.validate().is_err());
    }
}
