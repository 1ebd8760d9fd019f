//! FAIG's SRCNN-style network: six 3x3 convs (3 -> 64 -> 128 x5) each with LeakyReLU(0.1), then
//! upsampling (x2: conv 128 -> 512 + PixelShuffle(2) + LeakyReLU; x4: that twice; x3: conv 128 ->
//! 1152 + PixelShuffle(3) + LeakyReLU), conv 128 -> 128 + LeakyReLU, conv 128 -> 3. No BatchNorm,
//! no residual. Init: Kaiming normal, fan_out, ReLU gain, no scaling.
//!
//! The reference builds it as one `nn.Sequential` called `features`, so parameter names are
//! `features.{index}.weight|bias` with PyTorch's layer indices (activations and shuffles take
//! indices too); this network uses the same names so weights move both ways.
//!
//! Taps: `conv1`..`convN` (after each conv's activation, or the final conv's output).

use super::{Arch, SrNet, TapSet};
use crate::nn::layers::{Act, Activation, Conv2d, PixelShuffle};
use crate::nn::{Fan, Init, Layer, ParamBuilder, Params, Pass, Want};
use crate::tensor::Tensor;
use crate::Result;

/// One entry of the reference's `features` list.
enum Item {
    Conv(Conv2d),
    Act(Act),
    Shuffle(PixelShuffle),
}

pub struct SrcnnStyle {
    arch: Arch,
    items: Vec<Item>,
}

impl SrcnnStyle {
    pub fn new(pb: &mut ParamBuilder, scale: usize, arch: Arch) -> Self {
        let init = Init::KaimingNormal { fan: Fan::Out, gain: std::f32::consts::SQRT_2, scale: 1.0 };
        let mut items = Vec::new();
        let conv = |pb: &mut ParamBuilder, items: &mut Vec<Item>, c_in: usize, c_out: usize| {
            let idx = items.len();
            items.push(Item::Conv(
                pb.scope(format!("features.{idx}"), |pb| Conv2d::same(pb, c_in, c_out, 3, init)),
            ));
        };
        let lrelu = || Item::Act(Act::new(Activation::LeakyRelu(0.1)));
        let mut c_in = 3;
        for c_out in [64, 128, 128, 128, 128, 128] {
            conv(pb, &mut items, c_in, c_out);
            items.push(lrelu());
            c_in = c_out;
        }
        let stages: Vec<usize> = match scale {
            4 => vec![2, 2],
            s => vec![s],
        };
        for r in stages {
            conv(pb, &mut items, c_in, c_in * r * r);
            items.push(Item::Shuffle(PixelShuffle { r }));
            items.push(lrelu());
        }
        conv(pb, &mut items, c_in, c_in);
        items.push(lrelu());
        conv(pb, &mut items, c_in, 3);
        SrcnnStyle { arch, items }
    }

    fn layer(item: &mut Item) -> &mut dyn Layer {
        match item {
            Item::Conv(c) => c,
            Item::Act(a) => a,
            Item::Shuffle(s) => s,
        }
    }

    /// Tap names per item: the name of the conv whose output (after its activation, if any)
    /// this item completes.
    fn tap_after(&self) -> Vec<Option<String>> {
        let mut convs = 0;
        let n = self.items.len();
        (0..n)
            .map(|i| {
                if let Item::Conv(_) = self.items[i] {
                    convs += 1;
                }
                let next_is_conv = i + 1 == n || matches!(self.items[i + 1], Item::Conv(_));
                next_is_conv.then(|| format!("conv{convs}"))
            })
            .collect()
    }
}

impl Layer for SrcnnStyle {
    fn forward(&mut self, p: &mut Params, x: &Tensor, pass: Pass) -> Result<Tensor> {
        let mut h = x.clone();
        for item in &mut self.items {
            h = Self::layer(item).forward(p, &h, pass)?;
        }
        Ok(h)
    }

    fn backward(&mut self, p: &mut Params, dy: &Tensor, want: Want) -> Result<Option<Tensor>> {
        let mut g = dy.clone();
        for (i, item) in self.items.iter_mut().enumerate().rev() {
            let w = Want { input: want.input || i > 0, params: want.params };
            match Self::layer(item).backward(p, &g, w)? {
                Some(d) => g = d,
                None => return Ok(None),
            }
        }
        Ok(Some(g))
    }
}

impl SrNet for SrcnnStyle {
    fn arch(&self) -> &Arch {
        &self.arch
    }

    fn tap_names(&self) -> Vec<String> {
        self.tap_after().into_iter().flatten().collect()
    }

    fn features(&mut self, p: &mut Params, x: &Tensor, taps: &[String]) -> Result<Vec<Tensor>> {
        let after = self.tap_after();
        let mut set = TapSet::new(taps, &self.tap_names())?;
        let mut h = x.clone();
        for (item, name) in self.items.iter_mut().zip(after) {
            if set.done() {
                break;
            }
            h = Self::layer(item).forward(p, &h, Pass::EVAL)?;
            if let Some(name) = name {
                set.offer(&name, &h);
            }
        }
        set.finish()
    }
}
