//! A model's parameters in one flat buffer, its gradients in another of the same layout, and
//! its non-trained state (BatchNorm running statistics) in a third.
//!
//! Flat buffers make the whole-model operations single passes: Adam, EMA, FAIG's interpolation
//! `theta_bar + alpha (theta - theta_bar)`, filter masking, checkpoint IO. Layers hold
//! [`ParamId`]s, which are just ranges into those buffers. Parameters are laid out in the order
//! they were registered, which is the PyTorch state-dict order when models register them the
//! way PyTorch modules declare them.

use crate::device::Device;
use crate::ops::optim::{adam_step, AdamStep};
use crate::tensor::{Slice, SliceMut, Tensor};
use crate::{Result, Rng};
use anyhow::ensure;
use std::ops::Range;

/// How a parameter starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    Zeros,
    Ones,
    /// Kaiming (He) normal: std = gain / sqrt(fan), then multiplied by `scale` (BasicSR scales
    /// its SR networks' conv weights by 0.1).
    KaimingNormal {
        fan: Fan,
        gain: f32,
        scale: f32,
    },
    Normal {
        std: f32,
    },
}

/// Which fan Kaiming init divides by, for a weight `[out, in, k...]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fan {
    In,
    Out,
}

impl Init {
    /// Kaiming normal for ReLU-family layers (gain sqrt 2), PyTorch's default mode fan_in.
    pub fn kaiming(scale: f32) -> Init {
        Init::KaimingNormal { fan: Fan::In, gain: std::f32::consts::SQRT_2, scale }
    }
}

/// A parameter or buffer: its name (as in checkpoints), shape and place in the flat buffer.
#[derive(Clone, Debug)]
pub struct ParamSpec {
    pub name: String,
    pub shape: Vec<usize>,
    pub offset: usize,
    pub init: Init,
}

impl ParamSpec {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn range(&self) -> Range<usize> {
        self.offset..self.offset + self.len()
    }
}

/// A trained parameter's range in [`Params::values`] / [`Params::grads`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamId {
    offset: usize,
    len: usize,
}

/// A buffer's range in [`Params::buffers`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferId {
    offset: usize,
    len: usize,
}

impl ParamId {
    pub fn range(&self) -> Range<usize> {
        self.offset..self.offset + self.len
    }
}

impl BufferId {
    pub fn range(&self) -> Range<usize> {
        self.offset..self.offset + self.len
    }
}

/// Collects parameter and buffer declarations while a model is built.
#[derive(Default)]
pub struct ParamBuilder {
    params: Vec<ParamSpec>,
    buffers: Vec<ParamSpec>,
    prefix: Vec<String>,
}

impl ParamBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    fn full_name(&self, name: &str) -> String {
        let mut parts = self.prefix.clone();
        parts.push(name.to_string());
        parts.join(".")
    }

    /// Runs `f` with `name` appended to the naming prefix (`body.0.conv1.weight`).
    pub fn scope<T>(&mut self, name: impl ToString, f: impl FnOnce(&mut Self) -> T) -> T {
        self.prefix.push(name.to_string());
        let r = f(self);
        self.prefix.pop();
        r
    }

    pub fn param(&mut self, name: &str, shape: &[usize], init: Init) -> ParamId {
        let offset = self.params.last().map_or(0, |s| s.offset + s.len());
        let spec = ParamSpec { name: self.full_name(name), shape: shape.to_vec(), offset, init };
        let id = ParamId { offset, len: spec.len() };
        self.params.push(spec);
        id
    }

    pub fn buffer(&mut self, name: &str, shape: &[usize], init: Init) -> BufferId {
        let offset = self.buffers.last().map_or(0, |s| s.offset + s.len());
        let spec = ParamSpec { name: self.full_name(name), shape: shape.to_vec(), offset, init };
        let id = BufferId { offset, len: spec.len() };
        self.buffers.push(spec);
        id
    }

    /// The declared parameters and buffers.
    pub fn specs(self) -> (Vec<ParamSpec>, Vec<ParamSpec>) {
        (self.params, self.buffers)
    }

    /// Allocates the buffers on `dev` and initialises every parameter from its own random stream
    /// `Rng::derive(seed, [index])`, so adding a layer does not change the others' init.
    pub fn build(self, dev: &Device, seed: u64) -> Result<Params> {
        let count = |specs: &[ParamSpec]| specs.last().map_or(0, |s| s.offset + s.len()) as u64;
        let (n, nb) = (count(&self.params), count(&self.buffers));
        // Values and gradients on the device, plus their initial values on the host.
        let bytes = n.checked_mul(12).and_then(|b| b.checked_add(nb.checked_mul(8)?));
        crate::device::memory::ensure_fits(dev, bytes, &format!("a network of {n} parameters"))?;
        let values = init_values(&self.params, seed)?;
        let buffers = init_values(&self.buffers, seed ^ 0xB0FF)?;
        let n = values.len();
        Ok(Params {
            values: Tensor::from_vec(values, &[n], dev)?,
            grads: Tensor::zeros(&[n], dev)?,
            buffers: Tensor::from_vec(buffers.clone(), &[buffers.len()], dev)?,
            specs: self.params,
            buffer_specs: self.buffers,
        })
    }
}

fn init_values(specs: &[ParamSpec], seed: u64) -> Result<Vec<f32>> {
    let total = specs.last().map_or(0, |s| s.offset + s.len());
    let mut v = crate::device::memory::zeroed_f32(total)?;
    for (i, s) in specs.iter().enumerate() {
        let out = &mut v[s.range()];
        match s.init {
            Init::Zeros => {}
            Init::Ones => out.fill(1.0),
            Init::Normal { std } => Rng::derive(seed, &[i as u64]).fill_normal(out, 0.0, std),
            Init::KaimingNormal { fan, gain, scale } => {
                ensure!(s.shape.len() >= 2, "{}: Kaiming init needs a weight of rank >= 2", s.name);
                let receptive: usize = s.shape[2..].iter().product();
                let fan = match fan {
                    Fan::In => s.shape[1] * receptive,
                    Fan::Out => s.shape[0] * receptive,
                };
                let std = gain / (fan as f32).sqrt();
                Rng::derive(seed, &[i as u64]).fill_normal(out, 0.0, std);
                out.iter_mut().for_each(|x| *x *= scale);
            }
        }
    }
    Ok(v)
}

/// A model's state. `values` and `grads` share one layout; `buffers` holds non-trained state.
pub struct Params {
    pub values: Tensor,
    pub grads: Tensor,
    pub buffers: Tensor,
    specs: Vec<ParamSpec>,
    buffer_specs: Vec<ParamSpec>,
}

impl Params {
    pub fn specs(&self) -> &[ParamSpec] {
        &self.specs
    }

    pub fn buffer_specs(&self) -> &[ParamSpec] {
        &self.buffer_specs
    }

    pub fn len(&self) -> usize {
        self.values.numel()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn device(&self) -> Device {
        self.values.device()
    }

    pub fn value(&self, id: ParamId) -> Result<Slice<'_>> {
        self.values.slice(id.range())
    }

    pub fn zero_grads(&mut self) -> Result<()> {
        self.grads = Tensor::zeros(&[self.len()], &self.device())?;
        Ok(())
    }

    /// Replaces the values with `values` (same length, same device); returns the old ones.
    pub fn set_values(&mut self, values: Tensor) -> Result<Tensor> {
        ensure!(
            values.numel() == self.len() && values.device().same(&self.device()),
            "parameters: {} values on {} cannot replace {} on {}",
            values.numel(),
            values.device(),
            self.len(),
            self.device()
        );
        Ok(std::mem::replace(&mut self.values, values))
    }

    /// Replaces the values with a copy of `values` (same length), on the parameters' device.
    pub fn load_values(&mut self, values: &[f32]) -> Result<()> {
        let t = Tensor::from_slice(values, &[values.len()], &self.device())?;
        self.set_values(t).map(drop)
    }

    /// Replaces the buffers (BatchNorm statistics) with a copy of `buffers` (same length).
    pub fn load_buffers(&mut self, buffers: &[f32]) -> Result<()> {
        ensure!(
            buffers.len() == self.buffers.numel(),
            "buffers: {} values cannot replace {}",
            buffers.len(),
            self.buffers.numel()
        );
        self.buffers = Tensor::from_slice(buffers, &[buffers.len()], &self.device())?;
        Ok(())
    }

    /// Runs `f` with `weights` in place of the values, then puts the values back, also when `f`
    /// fails (validation with EMA weights, FAIG's networks on the path).
    pub fn with_values<R>(
        &mut self,
        weights: &Tensor,
        f: impl FnOnce(&mut Params) -> Result<R>,
    ) -> Result<R> {
        let own = self.set_values(weights.clone())?;
        let result = f(self);
        self.values = own;
        result
    }

    /// These parameters on `dev` without gradient storage: for a frozen network (a loss network),
    /// whose parameter backward then fails loudly instead of training it.
    pub fn into_frozen(mut self, dev: &Device) -> Result<Params> {
        self.values = self.values.to_device(dev)?;
        self.buffers = self.buffers.to_device(dev)?;
        self.grads = Tensor::zeros(&[0], dev)?;
        Ok(self)
    }

    /// One Adam update of the values from the gradients, with the moments `m` and `v`.
    pub fn adam_step(&mut self, h: &AdamStep, m: &mut Tensor, v: &mut Tensor) -> Result<()> {
        adam_step(h, &mut self.values.view_mut()?, &self.grads.view(), &mut m.view_mut()?, &mut v.view_mut()?)
    }
}

/// The writable gradients of `a` and, if given, `b` (declared after `a`), from one gradient buffer.
pub fn grads_pair(
    grads: &mut Tensor,
    a: ParamId,
    b: Option<ParamId>,
) -> Result<(SliceMut<'_>, Option<SliceMut<'_>>)> {
    match b {
        None => Ok((grads.slice_mut(a.range())?, None)),
        Some(b) => {
            ensure!(b.offset >= a.offset + a.len, "grads_pair: parameters out of order");
            let both = grads.slice_mut(a.offset..b.offset + b.len)?;
            let (ga, rest) = both.split_at(a.len);
            let (_, gb) = rest.split_at(b.offset - a.offset - a.len);
            Ok((ga, Some(gb)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Params {
        let mut b = ParamBuilder::new();
        b.param("w", &[2, 3], Init::Ones);
        b.buffer("running_mean", &[3], Init::Zeros);
        b.build(&Device::Cpu, 0).unwrap()
    }

    #[test]
    fn temporary_weights_are_put_back_even_when_the_run_fails() {
        let mut p = params();
        let other = Tensor::from_vec(vec![7.0; 6], &[6], &Device::Cpu).unwrap();
        let seen = p.with_values(&other, |q| q.values.to_vec()).unwrap();
        assert_eq!(seen, vec![7.0; 6]);
        assert_eq!(p.values.to_vec().unwrap(), vec![1.0; 6]);
        let failed: Result<()> = p.with_values(&other, |_| anyhow::bail!("the run failed"));
        assert!(failed.is_err());
        assert_eq!(p.values.to_vec().unwrap(), vec![1.0; 6]);
    }

    #[test]
    fn replacing_values_or_buffers_of_another_length_is_an_error() {
        let mut p = params();
        assert!(p.load_values(&[0.0; 5]).is_err());
        assert!(p.load_buffers(&[0.0; 4]).is_err());
        p.load_values(&[2.0; 6]).unwrap();
        p.load_buffers(&[3.0; 3]).unwrap();
        assert_eq!(p.values.to_vec().unwrap(), vec![2.0; 6]);
        assert_eq!(p.buffers.to_vec().unwrap(), vec![3.0; 3]);
    }
}
