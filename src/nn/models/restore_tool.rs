//! RL-Restore's tools (Yu et al., CVPR 2018): small CNNs that each undo one degradation at one
//! range of strength, all residual (`out = input + f(input)`), all at the input's size (scale 1).
//!
//! - small (the 3-layer SRCNN shape): conv 9x9 3 -> 32, ReLU, conv 5x5 32 -> 16, ReLU,
//!   conv 5x5 16 -> 3. Names `conv1`, `conv2`, `conv3`.
//! - large (8 layers): conv 3x3 3 -> 32, ReLU, two residual units of three 3x3 convs at 32
//!   channels (conv, ReLU, conv, ReLU, conv, added to the unit's input), conv 3x3 32 -> 3.
//!   Names `conv_in`, `units.{0,1}.conv{1,2,3}`, `conv_out`.
//!
//! Every conv pads to keep the size. Init: Kaiming normal (fan_in, gain sqrt 2); the last conv
//! of `f` is scaled by 0.1 so that a fresh tool starts close to the identity.
//!
//! Taps: small `conv1`, `conv2` (after their ReLU); large `conv_in` (after its ReLU), `unit1`,
//! `unit2`.

use super::{Arch, SrNet, TapSet};
use crate::nn::layers::{Act, Activation, Conv2d};
use crate::nn::{Init, Layer, ParamBuilder, Params, Pass, Residual, Sequential, Want};
use crate::tensor::Tensor;
use crate::Result;

pub struct RestoreTool {
    arch: Arch,
    /// `f`, layer by layer; the tool returns `x + f(x)`.
    f: Residual,
    /// Which layer of `f` completes each tap.
    taps: Vec<(usize, &'static str)>,
}

impl RestoreTool {
    pub fn new(pb: &mut ParamBuilder, large: bool, arch: Arch) -> Self {
        let (inner, last) = (Init::kaiming(1.0), Init::kaiming(0.1));
        let relu = || Act::new(Activation::Relu);
        let mut s = Sequential::new();
        let taps = if large {
            s.push(pb.scope("conv_in", |pb| Conv2d::same(pb, 3, 32, 3, inner)));
            s.push(relu());
            for u in 0..2 {
                let mut unit = Sequential::new();
                for j in 1..=3 {
                    let init = if j == 3 { last } else { inner };
                    unit.push(pb.scope(format!("units.{u}.conv{j}"), |pb| Conv2d::same(pb, 32, 32, 3, init)));
                    if j < 3 {
                        unit.push(relu());
                    }
                }
                s.push(Residual { body: unit, scale: 1.0 });
            }
            s.push(pb.scope("conv_out", |pb| Conv2d::same(pb, 32, 3, 3, last)));
            vec![(1, "conv_in"), (2, "unit1"), (3, "unit2")]
        } else {
            s.push(pb.scope("conv1", |pb| Conv2d::same(pb, 3, 32, 9, inner)));
            s.push(relu());
            s.push(pb.scope("conv2", |pb| Conv2d::same(pb, 32, 16, 5, inner)));
            s.push(relu());
            s.push(pb.scope("conv3", |pb| Conv2d::same(pb, 16, 3, 5, last)));
            vec![(1, "conv1"), (3, "conv2")]
        };
        RestoreTool { arch, f: Residual { body: s, scale: 1.0 }, taps }
    }
}

impl Layer for RestoreTool {
    fn forward(&mut self, p: &mut Params, x: &Tensor, pass: Pass) -> Result<Tensor> {
        self.f.forward(p, x, pass)
    }

    fn backward(&mut self, p: &mut Params, dy: &Tensor, want: Want) -> Result<Option<Tensor>> {
        self.f.backward(p, dy, want)
    }
}

impl SrNet for RestoreTool {
    fn arch(&self) -> &Arch {
        &self.arch
    }

    fn tap_names(&self) -> Vec<String> {
        self.taps.iter().map(|(_, n)| n.to_string()).collect()
    }

    fn features(&mut self, p: &mut Params, x: &Tensor, taps: &[String]) -> Result<Vec<Tensor>> {
        let mut set = TapSet::new(taps, &self.tap_names())?;
        let mut h = x.clone();
        for (i, layer) in self.f.body.layers.iter_mut().enumerate() {
            if set.done() {
                break;
            }
            h = layer.forward(p, &h, Pass::EVAL)?;
            if let Some((_, name)) = self.taps.iter().find(|(at, _)| *at == i) {
                set.offer(name, &h);
            }
        }
        set.finish()
    }
}
