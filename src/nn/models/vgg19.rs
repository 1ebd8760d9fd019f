//! The frozen VGG19 feature extractor of SRGAN's perceptual loss: torchvision's `vgg19().features`
//! up to conv5_4 BEFORE its ReLU (`features[:35]`), with ImageNet input normalisation.
//!
//! Weights come from a safetensors file with torchvision's key names (`features.{i}.weight`,
//! `features.{i}.bias`; other keys such as `classifier.*` are ignored; docs/INTEROP.md shows the
//! export). The five blocks' widths are read from the file's shapes, so reduced-width files (test
//! fixtures) load as well as the real 64-128-256-512-512 network. Without a file, a seeded random
//! init (torchvision's: Kaiming normal fan_out, biases zero) serves tests and smoke runs only.
//!
//! The normalisation `(x - mean) / std` is a fixed diagonal 1x1 convolution in front of conv1_1:
//! exact (no padding is involved), and it runs on either backend through the same conv op.

use crate::device::Device;
use crate::nn::layers::{Act, Activation, Conv2d, MaxPool2};
use crate::nn::{Fan, Init, Layer, ParamBuilder, Params, Pass, Sequential, Want};
use crate::ops::{self, conv2d::Conv2dSpec};
use crate::tensor::Tensor;
use crate::Result;
use anyhow::{ensure, Context};
use safetensors::{Dtype, SafeTensors};
use std::path::Path;

/// torchvision's indices in `features` of conv1_1, conv1_2, conv2_1, ..., conv5_4.
pub const CONV_INDICES: [usize; 16] = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34];
/// Convolutions per block.
const BLOCKS: [usize; 5] = [2, 2, 4, 4, 4];
/// torchvision's VGG19 widths.
pub const FULL_WIDTHS: [usize; 5] = [64, 128, 256, 512, 512];
const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const STD: [f32; 3] = [0.229, 0.224, 0.225];

pub struct Vgg19Features {
    pub widths: [usize; 5],
    net: Sequential,
}

impl Vgg19Features {
    /// The network with its convolutions initialised by `init` (zeros when a file fills them).
    fn declare(widths: [usize; 5], init: Init) -> (Self, ParamBuilder) {
        let mut pb = ParamBuilder::new();
        let mut s = Sequential::new();
        let norm = Conv2dSpec { c_in: 3, c_out: 3, k: 1, stride: 1, pad: 0 };
        s.push(pb.scope("input_norm", |pb| Conv2d::new(pb, norm, true, Init::Zeros)));
        let mut idx = CONV_INDICES.iter();
        let mut c_in = 3;
        for (b, (&n, &c)) in BLOCKS.iter().zip(&widths).enumerate() {
            if b > 0 {
                s.push(MaxPool2::default());
            }
            for j in 0..n {
                let i = idx.next().expect("16 convolutions");
                s.push(pb.scope(format!("features.{i}"), |pb| Conv2d::same(pb, c_in, c, 3, init)));
                c_in = c;
                // features[:35] stops at conv5_4, before its ReLU.
                if !(b == 4 && j + 1 == n) {
                    s.push(Act::new(Activation::Relu));
                }
            }
        }
        (Vgg19Features { widths, net: s }, pb)
    }

    /// Fills in the normalisation and moves the parameters to `dev`. Frozen: no gradient
    /// storage, so a parameter backward fails loudly instead of silently training the loss net.
    fn finish(mut p: Params, dev: &Device) -> Result<Params> {
        let mut values = p.values.to_vec()?;
        let range = |name: &str| p.specs().iter().find(|s| s.name == name).expect("declared").range();
        let (w, bias) = (range("input_norm.weight"), range("input_norm.bias"));
        for c in 0..3 {
            values[w.start + c * 3 + c] = 1.0 / STD[c];
            values[bias.start + c] = -MEAN[c] / STD[c];
        }
        p.load_values(&values)?;
        p.into_frozen(dev)
    }

    /// Seeded random weights (torchvision's init) at the given widths; for tests and smoke runs.
    pub fn random(widths: [usize; 5], dev: &Device, seed: u64) -> Result<(Self, Params)> {
        ensure!(widths.iter().all(|&w| w > 0), "vgg19: widths must be > 0, got {widths:?}");
        let init = Init::KaimingNormal { fan: Fan::Out, gain: std::f32::consts::SQRT_2, scale: 1.0 };
        let (net, pb) = Self::declare(widths, init);
        Ok((net, Self::finish(pb.build(&Device::Cpu, seed)?, dev)?))
    }

    /// Weights from a safetensors file with torchvision key names.
    pub fn load(path: &Path, dev: &Device) -> Result<(Self, Params)> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read VGG19 weights {}", path.display()))?;
        let st = SafeTensors::deserialize(&bytes)
            .map_err(|e| anyhow::anyhow!("{} is not a valid safetensors file: {e}", path.display()))?;
        let shape = |i: usize| -> Result<Vec<usize>> {
            let key = format!("features.{i}.weight");
            let t = st.tensor(&key).map_err(|_| {
                anyhow::anyhow!(
                    "{}: no tensor {key}; a VGG19 file needs torchvision's key names \
                     (features.{{0,2,5,...,34}}.weight and .bias; see docs/INTEROP.md)",
                    path.display()
                )
            })?;
            Ok(t.shape().to_vec())
        };
        let mut widths = [0; 5];
        let mut idx = CONV_INDICES.iter();
        let mut c_in = 3;
        for (b, &n) in BLOCKS.iter().enumerate() {
            for _ in 0..n {
                let i = *idx.next().unwrap();
                let s = shape(i)?;
                if widths[b] == 0 {
                    widths[b] = s.first().copied().unwrap_or(0);
                }
                ensure!(
                    s == [widths[b], c_in, 3, 3],
                    "{}: features.{i}.weight has shape {s:?}, but VGG19 needs [{}, {c_in}, 3, 3] there",
                    path.display(),
                    widths[b]
                );
                c_in = widths[b];
            }
        }
        let (net, pb) = Self::declare(widths, Init::Zeros);
        let mut p = pb.build(&Device::Cpu, 0)?;
        let specs = p.specs().to_vec();
        let values = p.values.cpu_mut()?;
        for s in specs.iter().filter(|s| s.name.starts_with("features.")) {
            let t =
                st.tensor(&s.name).with_context(|| format!("{}: no tensor {}", path.display(), s.name))?;
            ensure!(
                t.shape() == s.shape.as_slice() && t.dtype() == Dtype::F32,
                "{}: {} is {:?} {:?}; VGG19 needs f32 {:?}",
                path.display(),
                s.name,
                t.dtype(),
                t.shape(),
                s.shape
            );
            for (o, b) in values[s.range()].iter_mut().zip(t.data().chunks_exact(4)) {
                *o = f32::from_le_bytes(b.try_into().unwrap());
            }
        }
        Ok((net, Self::finish(p, dev)?))
    }

    /// BasicSR's perceptual loss at conv5_4: `weight * mean|vgg(sr) - vgg(hr)|`, and its gradient
    /// with respect to `sr` (hr is a constant target).
    pub fn perceptual_l1(
        &mut self,
        p: &mut Params,
        sr: &Tensor,
        hr: &Tensor,
        weight: f32,
    ) -> Result<(f64, Tensor)> {
        let target = self.forward(p, hr, Pass::EVAL)?;
        let feat = self.forward(p, sr, Pass::EVAL_GRAD)?;
        let (loss, dfeat) = ops::loss::l1_mean(&feat, &target, weight)?;
        let dsr = self.backward(p, &dfeat, Want::INPUT)?.context("vgg19: no input gradient")?;
        Ok((loss, dsr))
    }
}

impl Layer for Vgg19Features {
    fn forward(&mut self, p: &mut Params, x: &Tensor, pass: Pass) -> Result<Tensor> {
        let (_, c, h, w) = x.dims4()?;
        ensure!(
            c == 3 && h >= 16 && w >= 16,
            "vgg19: expects RGB images of at least 16x16, got {:?}",
            x.shape()
        );
        self.net.forward(p, x, pass)
    }

    fn backward(&mut self, p: &mut Params, dy: &Tensor, want: Want) -> Result<Option<Tensor>> {
        ensure!(!want.params, "vgg19: the loss network is frozen");
        self.net.backward(p, dy, want)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_torchvision_keys_and_normalisation_is_imagenets() {
        let (mut net, mut p) = Vgg19Features::random([2, 2, 3, 3, 4], &Device::Cpu, 1).unwrap();
        let names: Vec<&str> = p.specs().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names[2], "features.0.weight");
        assert_eq!(names.last().copied(), Some("features.34.bias"));
        assert_eq!(names.len(), 2 + 32);
        let v = p.values.to_vec().unwrap();
        // input_norm.weight [3, 3, 1, 1] is diagonal 1/std, its bias -mean/std.
        assert_eq!(&v[..4], [1.0 / 0.229, 0.0, 0.0, 0.0]);
        assert_eq!(v[9 + 2], -0.406 / 0.225);
        let x = Tensor::full(0.5, &[1, 3, 16, 16], &Device::Cpu).unwrap();
        let y = net.forward(&mut p, &x, Pass::EVAL).unwrap();
        assert_eq!(y.shape(), [1, 4, 1, 1]);
    }
}
