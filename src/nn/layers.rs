//! The standard layers. Each is a thin wrapper over one op of `crate::ops` that records what its
//! backward pass needs.

use super::layer::{not_recorded, Layer, Pass, Want};
use super::params::{grads_pair, BufferId, Init, ParamBuilder, ParamId, Params};
use crate::ops::{self, batchnorm::BnSaved, conv2d::Conv2dSpec};
use crate::tensor::Tensor;
use crate::Result;
use anyhow::ensure;

/// 2-D convolution with an optional bias (`weight`, `bias` under the builder's current scope).
pub struct Conv2d {
    pub spec: Conv2dSpec,
    pub w: ParamId,
    pub b: Option<ParamId>,
    saved_x: Option<Tensor>,
}

impl Conv2d {
    pub fn new(pb: &mut ParamBuilder, spec: Conv2dSpec, bias: bool, init: Init) -> Self {
        let w = pb.param("weight", &spec.weight_shape(), init);
        let b = bias.then(|| pb.param("bias", &[spec.c_out], Init::Zeros));
        Conv2d { spec, w, b, saved_x: None }
    }

    /// A k x k convolution with stride 1 and "same" padding.
    pub fn same(pb: &mut ParamBuilder, c_in: usize, c_out: usize, k: usize, init: Init) -> Self {
        Self::new(pb, Conv2dSpec { c_in, c_out, k, stride: 1, pad: k / 2 }, true, init)
    }
}

impl Layer for Conv2d {
    fn forward(&mut self, p: &mut Params, x: &Tensor, pass: Pass) -> Result<Tensor> {
        let w = p.values.slice(self.w.range())?;
        let b = self.b.map(|b| p.values.slice(b.range())).transpose()?;
        let y = ops::conv2d::conv2d_fwd(x, &self.spec, &w, b.as_ref())?;
        self.saved_x = pass.record.then(|| x.clone());
        Ok(y)
    }

    fn backward(&mut self, p: &mut Params, dy: &Tensor, want: Want) -> Result<Option<Tensor>> {
        let x = self.saved_x.take().ok_or_else(|| not_recorded("conv2d"))?;
        let w = p.values.slice(self.w.range())?;
        if !want.params {
            return ops::conv2d::conv2d_bwd(&x, &self.spec, &w, dy, want.input, None, None);
        }
        let (mut dw, mut db) = grads_pair(&mut p.grads, self.w, self.b)?;
        ops::conv2d::conv2d_bwd(&x, &self.spec, &w, dy, want.input, Some(&mut dw), db.as_mut())
    }
}

/// Fully connected layer `y = x W^T + b` on `[batch, features]`.
pub struct Linear {
    pub c_in: usize,
    pub c_out: usize,
    pub w: ParamId,
    pub b: Option<ParamId>,
    saved_x: Option<Tensor>,
}

impl Linear {
    pub fn new(pb: &mut ParamBuilder, c_in: usize, c_out: usize, bias: bool, init: Init) -> Self {
        let w = pb.param("weight", &[c_out, c_in], init);
        let b = bias.then(|| pb.param("bias", &[c_out], Init::Zeros));
        Linear { c_in, c_out, w, b, saved_x: None }
    }
}

impl Layer for Linear {
    fn forward(&mut self, p: &mut Params, x: &Tensor, pass: Pass) -> Result<Tensor> {
        let w = p.values.slice(self.w.range())?;
        let b = self.b.map(|b| p.values.slice(b.range())).transpose()?;
        let y = ops::linear::linear_fwd(x, &w, b.as_ref(), self.c_out)?;
        self.saved_x = pass.record.then(|| x.clone());
        Ok(y)
    }

    fn backward(&mut self, p: &mut Params, dy: &Tensor, want: Want) -> Result<Option<Tensor>> {
        let x = self.saved_x.take().ok_or_else(|| not_recorded("linear"))?;
        let w = p.values.slice(self.w.range())?;
        if !want.params {
            return ops::linear::linear_bwd(&x, &w, dy, self.c_out, want.input, None, None);
        }
        let (mut dw, mut db) = grads_pair(&mut p.grads, self.w, self.b)?;
        ops::linear::linear_bwd(&x, &w, dy, self.c_out, want.input, Some(&mut dw), db.as_mut())
    }
}

/// BatchNorm2d (`weight`, `bias`; buffers `running_mean`, `running_var`), PyTorch's defaults:
/// eps 1e-5, momentum 0.1.
pub struct BatchNorm2d {
    pub c: usize,
    pub eps: f32,
    pub momentum: f32,
    pub gamma: ParamId,
    pub beta: ParamId,
    pub running_mean: BufferId,
    pub running_var: BufferId,
    saved: Option<(Tensor, BnSaved)>,
}

impl BatchNorm2d {
    pub fn new(pb: &mut ParamBuilder, c: usize) -> Self {
        BatchNorm2d {
            c,
            eps: 1e-5,
            momentum: 0.1,
            gamma: pb.param("weight", &[c], Init::Ones),
            beta: pb.param("bias", &[c], Init::Zeros),
            running_mean: pb.buffer("running_mean", &[c], Init::Zeros),
            running_var: pb.buffer("running_var", &[c], Init::Ones),
            saved: None,
        }
    }
}

impl Layer for BatchNorm2d {
    fn forward(&mut self, p: &mut Params, x: &Tensor, pass: Pass) -> Result<Tensor> {
        let gamma = p.values.slice(self.gamma.range())?;
        let beta = p.values.slice(self.beta.range())?;
        if !pass.train {
            ensure!(!pass.record, "batchnorm: gradients through eval-mode BatchNorm are not supported");
            let rm = p.buffers.slice(self.running_mean.range())?;
            let rv = p.buffers.slice(self.running_var.range())?;
            return ops::batchnorm::batchnorm_eval_fwd(x, &gamma, &beta, self.eps, &rm, &rv);
        }
        let both = p.buffers.slice_mut(self.running_mean.range().start..self.running_var.range().end)?;
        let (mut rm, mut rv) = both.split_at(self.c);
        let (y, saved) =
            ops::batchnorm::batchnorm_train_fwd(x, &gamma, &beta, self.eps, self.momentum, &mut rm, &mut rv)?;
        self.saved = pass.record.then(|| (x.clone(), saved));
        Ok(y)
    }

    fn backward(&mut self, p: &mut Params, dy: &Tensor, want: Want) -> Result<Option<Tensor>> {
        let (x, saved) = self.saved.take().ok_or_else(|| not_recorded("batchnorm"))?;
        let gamma = p.values.slice(self.gamma.range())?;
        let dx = if want.params {
            let (mut dg, mut db) = grads_pair(&mut p.grads, self.gamma, Some(self.beta))?;
            ops::batchnorm::batchnorm_train_bwd(&x, dy, &gamma, &saved, Some(&mut dg), db.as_mut())?
        } else {
            ops::batchnorm::batchnorm_train_bwd(&x, dy, &gamma, &saved, None, None)?
        };
        Ok(want.input.then_some(dx))
    }
}

/// Pointwise nonlinearities.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    Relu,
    LeakyRelu(f32),
    Sigmoid,
}

/// A layer applying an [`Activation`].
pub struct Act {
    pub kind: Activation,
    saved: Option<Tensor>,
}

impl Act {
    pub fn new(kind: Activation) -> Self {
        Act { kind, saved: None }
    }
}

impl Layer for Act {
    fn forward(&mut self, _p: &mut Params, x: &Tensor, pass: Pass) -> Result<Tensor> {
        let y = match self.kind {
            Activation::Relu => ops::elementwise::relu_fwd(x)?,
            Activation::LeakyRelu(s) => ops::elementwise::leaky_relu_fwd(x, s)?,
            Activation::Sigmoid => ops::elementwise::sigmoid_fwd(x)?,
        };
        // ReLU and sigmoid differentiate from their output, LeakyReLU from its input.
        self.saved =
            pass.record.then(|| if let Activation::LeakyRelu(_) = self.kind { x.clone() } else { y.clone() });
        Ok(y)
    }

    fn backward(&mut self, _p: &mut Params, dy: &Tensor, want: Want) -> Result<Option<Tensor>> {
        let s = self.saved.take().ok_or_else(|| not_recorded("activation"))?;
        if !want.input {
            return Ok(None);
        }
        Ok(Some(match self.kind {
            Activation::Relu => ops::elementwise::relu_bwd(&s, dy)?,
            Activation::LeakyRelu(sl) => ops::elementwise::leaky_relu_bwd(&s, dy, sl)?,
            Activation::Sigmoid => ops::elementwise::sigmoid_bwd(&s, dy)?,
        }))
    }
}

/// PixelShuffle(r).
pub struct PixelShuffle {
    pub r: usize,
}

impl Layer for PixelShuffle {
    fn forward(&mut self, _p: &mut Params, x: &Tensor, _pass: Pass) -> Result<Tensor> {
        ops::pixel_shuffle::pixel_shuffle_fwd(x, self.r)
    }
    fn backward(&mut self, _p: &mut Params, dy: &Tensor, want: Want) -> Result<Option<Tensor>> {
        want.input.then(|| ops::pixel_shuffle::pixel_shuffle_bwd(dy, self.r)).transpose()
    }
}

/// Bilinear upsampling by an integer factor, align_corners=False.
pub struct UpsampleBilinear {
    pub scale: usize,
}

impl Layer for UpsampleBilinear {
    fn forward(&mut self, _p: &mut Params, x: &Tensor, _pass: Pass) -> Result<Tensor> {
        ops::upsample::upsample_bilinear_fwd(x, self.scale)
    }
    fn backward(&mut self, _p: &mut Params, dy: &Tensor, want: Want) -> Result<Option<Tensor>> {
        want.input.then(|| ops::upsample::upsample_bilinear_bwd(dy, self.scale)).transpose()
    }
}

/// 2x2 max pooling, stride 2.
#[derive(Default)]
pub struct MaxPool2 {
    saved_x: Option<Tensor>,
}

impl Layer for MaxPool2 {
    fn forward(&mut self, _p: &mut Params, x: &Tensor, pass: Pass) -> Result<Tensor> {
        self.saved_x = pass.record.then(|| x.clone());
        ops::pool2d::maxpool2_fwd(x)
    }
    fn backward(&mut self, _p: &mut Params, dy: &Tensor, want: Want) -> Result<Option<Tensor>> {
        let x = self.saved_x.take().ok_or_else(|| not_recorded("maxpool2"))?;
        want.input.then(|| ops::pool2d::maxpool2_bwd(&x, dy)).transpose()
    }
}

/// `[n, c, h, w] -> [n, c*h*w]`.
#[derive(Default)]
pub struct Flatten {
    saved_shape: Option<Vec<usize>>,
}

impl Layer for Flatten {
    fn forward(&mut self, _p: &mut Params, x: &Tensor, _pass: Pass) -> Result<Tensor> {
        let n = x.shape().first().copied().unwrap_or(1);
        self.saved_shape = Some(x.shape().to_vec());
        x.reshape(&[n, x.numel() / n.max(1)])
    }
    fn backward(&mut self, _p: &mut Params, dy: &Tensor, want: Want) -> Result<Option<Tensor>> {
        let shape = self.saved_shape.take().ok_or_else(|| not_recorded("flatten"))?;
        want.input.then(|| dy.reshape(&shape)).transpose()
    }
}
