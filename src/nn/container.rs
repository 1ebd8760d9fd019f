//! Composition: layers in sequence, and residual blocks around a sequence.

use super::layer::{Layer, Pass, Want};
use super::params::Params;
use crate::ops;
use crate::tensor::Tensor;
use crate::Result;
use anyhow::anyhow;

/// Layers applied in order.
#[derive(Default)]
pub struct Sequential {
    pub layers: Vec<Box<dyn Layer>>,
}

impl Sequential {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, layer: impl Layer + 'static) -> &mut Self {
        self.layers.push(Box::new(layer));
        self
    }
}

impl Layer for Sequential {
    fn forward(&mut self, p: &mut Params, x: &Tensor, pass: Pass) -> Result<Tensor> {
        let mut h = x.clone();
        for l in &mut self.layers {
            h = l.forward(p, &h, pass)?;
        }
        Ok(h)
    }

    fn backward(&mut self, p: &mut Params, dy: &Tensor, want: Want) -> Result<Option<Tensor>> {
        let mut g = dy.clone();
        let n = self.layers.len();
        for (i, l) in self.layers.iter_mut().rev().enumerate() {
            // Inner layers must pass the gradient on; only the first layer may skip its dx.
            let w = Want { input: want.input || i + 1 < n, params: want.params };
            match l.backward(p, &g, w)? {
                Some(d) => g = d,
                None if i + 1 < n => return Err(anyhow!("a layer returned no input gradient")),
                None => return Ok(None),
            }
        }
        Ok(Some(g))
    }
}

/// `y = x + scale * body(x)` (EDSR/MSRResNet's residual block when the body is conv-ReLU-conv).
pub struct Residual {
    pub body: Sequential,
    pub scale: f32,
}

impl Layer for Residual {
    fn forward(&mut self, p: &mut Params, x: &Tensor, pass: Pass) -> Result<Tensor> {
        let b = self.body.forward(p, x, pass)?;
        if self.scale == 1.0 {
            ops::elementwise::add(x, &b)
        } else {
            let mut y = x.deep_clone()?;
            ops::elementwise::axpy(self.scale, &b, &mut y)?;
            Ok(y)
        }
    }

    fn backward(&mut self, p: &mut Params, dy: &Tensor, want: Want) -> Result<Option<Tensor>> {
        let dbody = if self.scale == 1.0 { dy.clone() } else { ops::elementwise::scale(dy, self.scale)? };
        let dx_body = self.body.backward(p, &dbody, want)?;
        match dx_body {
            Some(d) if want.input => Ok(Some(ops::elementwise::add(dy, &d)?)),
            _ => Ok(None),
        }
    }
}
