//! SFT-GAN's generator (Wang et al., CVPR 2018): an x4 SRResNet whose residual blocks are
//! modulated per pixel by spatial feature transforms, `x * (scale + 1) + shift`, with `scale` and
//! `shift` predicted from a condition (segmentation probability maps, or degradation maps) by a
//! condition network shared by every block.
//!
//! Layout and key names are those of the reference (xinntao/SFTGAN, `SFT_Net`):
//! - `CondNet.{0,2,4,6,8}`: a `cond_down` x `cond_down` conv with that stride (the reference's
//!   4x4 stride 4 takes maps at HR size down to LR size), then 1x1 convs, LeakyReLU(0.1) between;
//!   `cond_in` -> `cond_mid` -> ... -> `cond_nf` channels (8 -> 128 -> 32 in the reference);
//! - `conv0`: 3 -> nf;
//! - `sft_branch.{i}` for i < nb: `sft0`, `conv0`, ReLU, `sft1`, `conv1`, added to the block's
//!   input; each SFT layer has `SFT_scale_conv0/1` and `SFT_shift_conv0/1` (1x1, LeakyReLU(0.1)
//!   between, `cond_nf` -> `cond_nf` -> nf); `sft_branch.{nb}` an SFT layer and
//!   `sft_branch.{nb+1}` a 3x3 conv, whose output is added to `conv0`'s;
//! - `HR_branch.{0,3,6,8}`: two (conv nf -> 4nf, PixelShuffle 2, ReLU) stages, conv + ReLU, conv
//!   nf -> 3.
//!
//! As an [`SrNet`] it reads the maps given by [`SrNet::set_condition`]. Taps: `conv0`, `rb1`..
//! `rbN` (the SFT blocks' outputs), `up1` (after the first pixel shuffle, before its ReLU).
//!
//! Init: BasicSR's for SR networks (Kaiming normal scaled by 0.1, biases zero), so that a fresh
//! SFT layer is close to the identity. The reference ships test code only; it does not say.

use super::{Arch, Condition, SrNet, TapSet};
use crate::nn::layer::not_recorded;
use crate::nn::layers::{Act, Activation, Conv2d, PixelShuffle};
use crate::nn::{Init, Layer, ParamBuilder, Params, Pass, Sequential, Want};
use crate::ops::conv2d::Conv2dSpec;
use crate::ops::elementwise as ew;
use crate::tensor::Tensor;
use crate::Result;
use anyhow::{anyhow, ensure};
use serde::{Deserialize, Serialize};

/// The generator's sizes. [`SftSpec::REFERENCE`] is SFT-GAN's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SftSpec {
    /// Feature channels of the trunk.
    pub nf: usize,
    /// SFT residual blocks.
    pub nb: usize,
    /// Channels of the condition maps (8 outdoor categories in the reference).
    pub cond_in: usize,
    /// Channels of the condition network's hidden layers.
    pub cond_mid: usize,
    /// Channels of the shared condition features every SFT layer reads.
    pub cond_nf: usize,
    /// How much smaller the LR input is than the condition maps: 4 for maps at HR size (the
    /// reference), 1 for maps at LR size.
    pub cond_down: usize,
}

impl SftSpec {
    pub const REFERENCE: SftSpec =
        SftSpec { nf: 64, nb: 16, cond_in: 8, cond_mid: 128, cond_nf: 32, cond_down: 4 };
    /// The output is four times the input's size (two x2 pixel-shuffle stages).
    pub const SCALE: usize = 4;

    pub fn validate(&self) -> Result<()> {
        let SftSpec { nf, nb, cond_in, cond_mid, cond_nf, cond_down } = *self;
        ensure!(
            [nf, nb, cond_in, cond_mid, cond_nf, cond_down].iter().all(|&v| v > 0),
            "sftgan: every size must be > 0 (got {self:?})"
        );
        ensure!(
            [nf, cond_in, cond_mid, cond_nf].iter().all(|&v| v <= super::MAX_FEATURES)
                && nb <= super::MAX_BLOCKS,
            "sftgan supports at most {} channels and {} blocks (got {self:?})",
            super::MAX_FEATURES,
            super::MAX_BLOCKS
        );
        ensure!(
            cond_down <= 16,
            "sftgan: cond_down is the ratio of condition to LR size (1 or 4), not {cond_down}"
        );
        Ok(())
    }

    pub fn arch(&self) -> Arch {
        let SftSpec { nf, nb, cond_in, cond_mid, cond_nf, cond_down } = *self;
        Arch::Sftgan { nf, nb, cond_in, cond_mid, cond_nf, cond_down }
    }
}

/// `x * (scale + 1) + shift`, `scale` and `shift` from the condition features by two branches of
/// 1x1 convs.
pub struct SftLayer {
    scale: Sequential,
    shift: Sequential,
    /// The modulated input and the scale, for the backward pass.
    saved: Option<(Tensor, Tensor)>,
}

impl SftLayer {
    pub fn new(pb: &mut ParamBuilder, nf: usize, cond_nf: usize, init: Init) -> Self {
        let mut branch = |name: &str| {
            let mut s = Sequential::new();
            s.push(pb.scope(format!("SFT_{name}_conv0"), |pb| Conv2d::same(pb, cond_nf, cond_nf, 1, init)));
            s.push(Act::new(Activation::LeakyRelu(0.1)));
            s.push(pb.scope(format!("SFT_{name}_conv1"), |pb| Conv2d::same(pb, cond_nf, nf, 1, init)));
            s
        };
        let scale = branch("scale");
        let shift = branch("shift");
        SftLayer { scale, shift, saved: None }
    }

    pub fn forward(&mut self, p: &mut Params, x: &Tensor, cond: &Tensor, pass: Pass) -> Result<Tensor> {
        let scale = self.scale.forward(p, cond, pass)?;
        let shift = self.shift.forward(p, cond, pass)?;
        // x * scale + x rounds differently from x * (scale + 1) by an ulp; it saves an op.
        let y = ew::add(&ew::add(&ew::mul(x, &scale)?, x)?, &shift)?;
        self.saved = pass.record.then(|| (x.clone(), scale));
        Ok(y)
    }

    /// dL/dx and dL/dcond; the branches' parameter gradients are added when `params`.
    pub fn backward(&mut self, p: &mut Params, dy: &Tensor, params: bool) -> Result<(Tensor, Tensor)> {
        let (x, scale) = self.saved.take().ok_or_else(|| not_recorded("sft layer"))?;
        let (dx_scaled, dscale) = ew::mul_bwd(&x, &scale, dy, true, true)?;
        let dx = ew::add(&dx_scaled.expect("wanted"), dy)?;
        let want = Want { input: true, params };
        let through = |g: Option<Tensor>| g.ok_or_else(|| anyhow!("sft layer: missing gradient"));
        let dcond_shift = through(self.shift.backward(p, dy, want)?)?;
        let dcond_scale = through(self.scale.backward(p, &dscale.expect("wanted"), want)?)?;
        Ok((dx, ew::add(&dcond_scale, &dcond_shift)?))
    }
}

/// `x + conv1(sft1(relu(conv0(sft0(x)))))`, both SFT layers reading the same condition.
struct SftBlock {
    sft0: SftLayer,
    conv0: Conv2d,
    relu: Act,
    sft1: SftLayer,
    conv1: Conv2d,
}

impl SftBlock {
    fn new(pb: &mut ParamBuilder, spec: &SftSpec, init: Init) -> Self {
        SftBlock {
            sft0: pb.scope("sft0", |pb| SftLayer::new(pb, spec.nf, spec.cond_nf, init)),
            conv0: pb.scope("conv0", |pb| Conv2d::same(pb, spec.nf, spec.nf, 3, init)),
            relu: Act::new(Activation::Relu),
            sft1: pb.scope("sft1", |pb| SftLayer::new(pb, spec.nf, spec.cond_nf, init)),
            conv1: pb.scope("conv1", |pb| Conv2d::same(pb, spec.nf, spec.nf, 3, init)),
        }
    }

    fn forward(&mut self, p: &mut Params, x: &Tensor, cond: &Tensor, pass: Pass) -> Result<Tensor> {
        let mut h = self.sft0.forward(p, x, cond, pass)?;
        h = self.conv0.forward(p, &h, pass)?;
        h = self.relu.forward(p, &h, pass)?;
        h = self.sft1.forward(p, &h, cond, pass)?;
        h = self.conv1.forward(p, &h, pass)?;
        ew::add(x, &h)
    }

    fn backward(&mut self, p: &mut Params, dy: &Tensor, params: bool) -> Result<(Tensor, Tensor)> {
        let want = Want { input: true, params };
        let through = |g: Option<Tensor>| g.ok_or_else(|| anyhow!("sft block: missing gradient"));
        let mut g = through(self.conv1.backward(p, dy, want)?)?;
        let (g1, dcond1) = self.sft1.backward(p, &g, params)?;
        g = through(self.relu.backward(p, &g1, want)?)?;
        g = through(self.conv0.backward(p, &g, want)?)?;
        let (g0, dcond0) = self.sft0.backward(p, &g, params)?;
        Ok((ew::add(dy, &g0)?, ew::add(&dcond0, &dcond1)?))
    }
}

/// SFT-GAN's generator: LR image and condition maps in, x4 image out.
pub struct SftGenerator {
    spec: SftSpec,
    arch: Arch,
    /// The maps [`SrNet::set_condition`] gave, read by the `Layer` forward pass.
    maps: Option<Tensor>,
    conv0: Conv2d,
    blocks: Vec<SftBlock>,
    sft_last: SftLayer,
    conv_body: Conv2d,
    hr: Sequential,
    cond_net: Sequential,
}

impl SftGenerator {
    /// Declares the parameters in the reference's state-dict order.
    pub fn new(pb: &mut ParamBuilder, spec: SftSpec) -> Result<Self> {
        spec.validate()?;
        let init = Init::kaiming(0.1);
        let SftSpec { nf, nb, cond_in, cond_mid, cond_nf, cond_down } = spec;
        let conv0 = pb.scope("conv0", |pb| Conv2d::same(pb, 3, nf, 3, init));
        let (blocks, sft_last, conv_body) = pb.scope("sft_branch", |pb| {
            let blocks = (0..nb).map(|i| pb.scope(i, |pb| SftBlock::new(pb, &spec, init))).collect();
            let sft_last = pb.scope(nb, |pb| SftLayer::new(pb, nf, cond_nf, init));
            let conv_body = pb.scope(nb + 1, |pb| Conv2d::same(pb, nf, nf, 3, init));
            (blocks, sft_last, conv_body)
        });
        let hr = pb.scope("HR_branch", |pb| {
            let mut s = Sequential::new();
            for (i, c_out) in [(0, 4 * nf), (3, 4 * nf), (6, nf)] {
                s.push(pb.scope(i, |pb| Conv2d::same(pb, nf, c_out, 3, init)));
                if c_out != nf {
                    s.push(PixelShuffle { r: 2 });
                }
                s.push(Act::new(Activation::Relu));
            }
            s.push(pb.scope(8, |pb| Conv2d::same(pb, nf, 3, 3, init)));
            s
        });
        let cond_net = pb.scope("CondNet", |pb| {
            let mut s = Sequential::new();
            let first =
                Conv2dSpec { c_in: cond_in, c_out: cond_mid, k: cond_down, stride: cond_down, pad: 0 };
            s.push(pb.scope(0, |pb| Conv2d::new(pb, first, true, init)));
            for i in [2, 4, 6, 8] {
                s.push(Act::new(Activation::LeakyRelu(0.1)));
                let c_out = if i == 8 { cond_nf } else { cond_mid };
                s.push(pb.scope(i, |pb| Conv2d::same(pb, cond_mid, c_out, 1, init)));
            }
            s
        });
        Ok(SftGenerator {
            spec,
            arch: spec.arch(),
            maps: None,
            conv0,
            blocks,
            sft_last,
            conv_body,
            hr,
            cond_net,
        })
    }

    pub fn spec(&self) -> &SftSpec {
        &self.spec
    }

    /// The x4 output for LR images `x` `[n, 3, h, w]` and condition maps `cond`
    /// `[n, cond_in, h * cond_down, w * cond_down]`.
    pub fn forward(&mut self, p: &mut Params, x: &Tensor, cond: &Tensor, pass: Pass) -> Result<Tensor> {
        Ok(self.run(p, x, cond, pass, None)?.expect("no taps requested"))
    }

    /// The forward pass; with `taps`, returns early once every requested tap is recorded.
    fn run(
        &mut self,
        p: &mut Params,
        x: &Tensor,
        cond: &Tensor,
        pass: Pass,
        mut taps: Option<&mut TapSet>,
    ) -> Result<Option<Tensor>> {
        let (n, _, h, w) = x.dims4()?;
        let d = self.spec.cond_down;
        let want = [n, self.spec.cond_in, h * d, w * d];
        ensure!(
            cond.shape() == want,
            "sftgan: the condition maps have shape {:?}; for an input of {:?} they must be {want:?}",
            cond.shape(),
            x.shape()
        );
        let tapping = taps.is_some();
        let mut offer = |name: &str, t: &Tensor| taps.as_mut().is_some_and(|ts| ts.offer(name, t));
        let c = self.cond_net.forward(p, cond, pass)?;
        let fea = self.conv0.forward(p, x, pass)?;
        if offer("conv0", &fea) {
            return Ok(None);
        }
        let mut h = fea.clone();
        for (i, block) in self.blocks.iter_mut().enumerate() {
            h = block.forward(p, &h, &c, pass)?;
            if offer(&format!("rb{}", i + 1), &h) {
                return Ok(None);
            }
        }
        h = self.sft_last.forward(p, &h, &c, pass)?;
        h = self.conv_body.forward(p, &h, pass)?;
        h = ew::add(&fea, &h)?;
        if tapping {
            // HR_branch.0 and .1: the first upsampling conv and its pixel shuffle.
            for layer in &mut self.hr.layers[..2] {
                h = layer.forward(p, &h, pass)?;
            }
            offer("up1", &h);
            return Ok(None);
        }
        Ok(Some(self.hr.forward(p, &h, pass)?))
    }

    /// dL/dx when `want.input`; parameter gradients (the condition network's included) added
    /// when `want.params`. The condition maps are inputs, not learned: no gradient reaches them.
    pub fn backward(&mut self, p: &mut Params, dy: &Tensor, want: Want) -> Result<Option<Tensor>> {
        let params = want.params;
        let inner = Want { input: true, params };
        let through = |g: Option<Tensor>| g.ok_or_else(|| anyhow!("sftgan: missing gradient"));
        let g = through(self.hr.backward(p, dy, inner)?)?;
        let mut gr = through(self.conv_body.backward(p, &g, inner)?)?;
        let (g_last, mut dcond) = self.sft_last.backward(p, &gr, params)?;
        gr = g_last;
        for block in self.blocks.iter_mut().rev() {
            let (gb, dc) = block.backward(p, &gr, params)?;
            gr = gb;
            dcond = ew::add(&dcond, &dc)?;
        }
        let dx = self.conv0.backward(p, &ew::add(&g, &gr)?, Want { input: want.input, params })?;
        if params {
            self.cond_net.backward(p, &dcond, Want::PARAMS)?;
        }
        Ok(dx)
    }
}

impl Layer for SftGenerator {
    /// The output for `x` and the maps last given to [`SrNet::set_condition`].
    fn forward(&mut self, p: &mut Params, x: &Tensor, pass: Pass) -> Result<Tensor> {
        let maps = self.maps.clone().ok_or_else(|| anyhow!("sftgan: no condition maps were given"))?;
        SftGenerator::forward(self, p, x, &maps, pass)
    }

    fn backward(&mut self, p: &mut Params, dy: &Tensor, want: Want) -> Result<Option<Tensor>> {
        SftGenerator::backward(self, p, dy, want)
    }
}

impl SrNet for SftGenerator {
    fn arch(&self) -> &Arch {
        &self.arch
    }

    fn tap_names(&self) -> Vec<String> {
        let mut v = vec!["conv0".to_string()];
        v.extend((1..=self.blocks.len()).map(|i| format!("rb{i}")));
        v.push("up1".to_string());
        v
    }

    fn features(&mut self, p: &mut Params, x: &Tensor, taps: &[String]) -> Result<Vec<Tensor>> {
        let names = self.tap_names();
        let mut set = TapSet::new(taps, &names)?;
        let maps = self.maps.clone().ok_or_else(|| anyhow!("sftgan: no condition maps were given"))?;
        if !set.done() {
            self.run(p, x, &maps, Pass::EVAL, Some(&mut set))?;
        }
        set.finish()
    }

    fn condition(&self) -> Option<Condition> {
        Some(Condition { channels: self.spec.cond_in, down: self.spec.cond_down })
    }

    fn set_condition(&mut self, maps: Tensor) -> Result<()> {
        let (_, c, _, _) = maps.dims4()?;
        ensure!(
            c == self.spec.cond_in,
            "sftgan: {c} condition maps given, the network reads {}",
            self.spec.cond_in
        );
        self.maps = Some(maps);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arch_strings_name_the_sizes_and_default_to_the_reference() {
        let a: Arch = "sftgan,nf=8,nb=2,cond=2,cond_down=1".parse().unwrap();
        let r = SftSpec::REFERENCE;
        let want = SftSpec { nf: 8, nb: 2, cond_in: 2, cond_down: 1, ..r };
        assert_eq!(a.sft_spec(), Some(want));
        assert_eq!("sftgan".parse::<Arch>().unwrap().sft_spec(), Some(r));
        assert_eq!(a.scale(), 4);
        assert!("sftgan,cond_down=0".parse::<Arch>().is_err());
        let (net, _) = a.declare().unwrap();
        assert_eq!(net.condition(), Some(Condition { channels: 2, down: 1 }));
        assert_eq!(net.tap_names(), ["conv0", "rb1", "rb2", "up1"]);
    }
}
