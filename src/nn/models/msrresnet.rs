//! MSRResNet (BasicSR's modified SRResNet): conv_first + LeakyReLU(0.1), `nb` residual blocks
//! `x + conv2(relu(conv1(x)))` without BatchNorm, PixelShuffle upsampling (one x2/x3 stage or two
//! x2 stages for x4, each conv nf -> nf*r^2 + shuffle + LeakyReLU), conv_hr + LeakyReLU,
//! conv_last; with the global residual, the bilinear (align_corners=False) upsampling of the input
//! is added to the output.
//!
//! Parameter names and order are BasicSR's state dict: conv_first, body.{i}.conv1, body.{i}.conv2,
//! upconv1, upconv2 (x4), conv_hr, conv_last. Init as BasicSR: Kaiming normal (fan_in, gain
//! sqrt 2) scaled by 0.1, biases zero.
//!
//! Taps: `conv1` (after conv_first + LeakyReLU), `rb1`..`rbN` (outputs of the residual blocks,
//! LR resolution), `up1` (right after the first pixel shuffle, before its LeakyReLU).

use super::{Arch, SrNet, TapSet};
use crate::nn::layers::{Act, Activation, Conv2d, PixelShuffle, UpsampleBilinear};
use crate::nn::{Init, Layer, ParamBuilder, Params, Pass, Residual, Sequential, Want};
use crate::ops;
use crate::tensor::Tensor;
use crate::Result;

struct UpStage {
    conv: Conv2d,
    shuffle: PixelShuffle,
    act: Act,
}

pub struct MsrResNet {
    arch: Arch,
    conv_first: Conv2d,
    act_first: Act,
    body: Vec<Residual>,
    up: Vec<UpStage>,
    conv_hr: Conv2d,
    act_hr: Act,
    conv_last: Conv2d,
    global_residual: Option<UpsampleBilinear>,
}

impl MsrResNet {
    /// The taps of a network with `nb` residual blocks and `ups` upsampling stages, in forward
    /// order, known before one is built (a study names its layers before training).
    pub fn tap_names_of(nb: usize, ups: usize) -> Vec<String> {
        let mut v = vec!["conv1".to_string()];
        v.extend((1..=nb).map(|i| format!("rb{i}")));
        v.extend((1..=ups).map(|i| format!("up{i}")));
        v
    }

    pub fn new(pb: &mut ParamBuilder, nf: usize, nb: usize, scale: usize, gr: bool, arch: Arch) -> Self {
        let init = Init::kaiming(0.1);
        let lrelu = || Act::new(Activation::LeakyRelu(0.1));
        let conv_first = pb.scope("conv_first", |pb| Conv2d::same(pb, 3, nf, 3, init));
        let body = (0..nb)
            .map(|i| {
                pb.scope(format!("body.{i}"), |pb| {
                    let mut s = Sequential::new();
                    s.push(pb.scope("conv1", |pb| Conv2d::same(pb, nf, nf, 3, init)));
                    s.push(Act::new(Activation::Relu));
                    s.push(pb.scope("conv2", |pb| Conv2d::same(pb, nf, nf, 3, init)));
                    Residual { body: s, scale: 1.0 }
                })
            })
            .collect();
        let stages: Vec<usize> = if scale == 4 { vec![2, 2] } else { vec![scale] };
        let up = stages
            .iter()
            .enumerate()
            .map(|(i, &r)| UpStage {
                conv: pb.scope(format!("upconv{}", i + 1), |pb| Conv2d::same(pb, nf, nf * r * r, 3, init)),
                shuffle: PixelShuffle { r },
                act: lrelu(),
            })
            .collect();
        MsrResNet {
            arch,
            conv_first,
            act_first: lrelu(),
            body,
            up,
            conv_hr: pb.scope("conv_hr", |pb| Conv2d::same(pb, nf, nf, 3, init)),
            act_hr: lrelu(),
            conv_last: pb.scope("conv_last", |pb| Conv2d::same(pb, nf, 3, 3, init)),
            global_residual: gr.then_some(UpsampleBilinear { scale }),
        }
    }

    /// The forward pass; with `taps`, returns early once every requested tap is recorded.
    fn run(
        &mut self,
        p: &mut Params,
        x: &Tensor,
        pass: Pass,
        mut taps: Option<&mut TapSet>,
    ) -> Result<Option<Tensor>> {
        let mut offer = |name: &str, t: &Tensor| taps.as_mut().is_some_and(|ts| ts.offer(name, t));
        let mut h = self.conv_first.forward(p, x, pass)?;
        h = self.act_first.forward(p, &h, pass)?;
        if offer("conv1", &h) {
            return Ok(None);
        }
        for (i, block) in self.body.iter_mut().enumerate() {
            h = block.forward(p, &h, pass)?;
            if offer(&format!("rb{}", i + 1), &h) {
                return Ok(None);
            }
        }
        for (i, stage) in self.up.iter_mut().enumerate() {
            h = stage.conv.forward(p, &h, pass)?;
            h = stage.shuffle.forward(p, &h, pass)?;
            if offer(&format!("up{}", i + 1), &h) {
                return Ok(None);
            }
            h = stage.act.forward(p, &h, pass)?;
        }
        h = self.conv_hr.forward(p, &h, pass)?;
        h = self.act_hr.forward(p, &h, pass)?;
        h = self.conv_last.forward(p, &h, pass)?;
        if let Some(up) = &mut self.global_residual {
            let base = up.forward(p, x, pass)?;
            h = ops::elementwise::add(&h, &base)?;
        }
        Ok(Some(h))
    }
}

impl Layer for MsrResNet {
    fn forward(&mut self, p: &mut Params, x: &Tensor, pass: Pass) -> Result<Tensor> {
        Ok(self.run(p, x, pass, None)?.expect("no taps requested"))
    }

    fn backward(&mut self, p: &mut Params, dy: &Tensor, want: Want) -> Result<Option<Tensor>> {
        let inner = Want { input: true, params: want.params };
        let grad = |g: Option<Tensor>| g.ok_or_else(|| anyhow::anyhow!("msrresnet: missing gradient"));
        let mut g = grad(self.conv_last.backward(p, dy, inner)?)?;
        g = grad(self.act_hr.backward(p, &g, inner)?)?;
        g = grad(self.conv_hr.backward(p, &g, inner)?)?;
        for stage in self.up.iter_mut().rev() {
            g = grad(stage.act.backward(p, &g, inner)?)?;
            g = grad(stage.shuffle.backward(p, &g, inner)?)?;
            g = grad(stage.conv.backward(p, &g, inner)?)?;
        }
        for block in self.body.iter_mut().rev() {
            g = grad(block.backward(p, &g, inner)?)?;
        }
        g = grad(self.act_first.backward(p, &g, inner)?)?;
        let dx = self.conv_first.backward(p, &g, Want { input: want.input, params: want.params })?;
        match (dx, &mut self.global_residual) {
            (Some(dx), Some(up)) => {
                Ok(Some(ops::elementwise::add(&dx, &grad(up.backward(p, dy, Want::INPUT)?)?)?))
            }
            (dx, _) => Ok(dx),
        }
    }
}

impl SrNet for MsrResNet {
    fn arch(&self) -> &Arch {
        &self.arch
    }

    fn tap_names(&self) -> Vec<String> {
        MsrResNet::tap_names_of(self.body.len(), self.up.len())
    }

    fn features(&mut self, p: &mut Params, x: &Tensor, taps: &[String]) -> Result<Vec<Tensor>> {
        let names = self.tap_names();
        let mut set = TapSet::new(taps, &names)?;
        if !set.done() {
            self.run(p, x, Pass::EVAL, Some(&mut set))?;
        }
        set.finish()
    }
}
