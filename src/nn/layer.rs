//! The layer interface: explicit forward and backward passes (llm.c style), no autograd tape.
//!
//! A layer keeps what its backward pass needs (its input, or its output) when the forward pass is
//! told to record. Backward takes dL/d(output) and returns dL/d(input) when asked, ADDING the
//! parameter gradients into [`Params::grads`] when asked. Frozen networks (a VGG loss network,
//! a discriminator during the generator's step) ask for input gradients only.

use super::params::Params;
use crate::tensor::Tensor;
use crate::Result;

/// How a forward pass runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pass {
    /// Training behaviour: BatchNorm uses batch statistics and updates its running averages.
    pub train: bool,
    /// Keep what the backward pass needs.
    pub record: bool,
}

impl Pass {
    /// Training: batch statistics, activations kept.
    pub const TRAIN: Pass = Pass { train: true, record: true };
    /// Inference: running statistics, nothing kept.
    pub const EVAL: Pass = Pass { train: false, record: false };
    /// Inference behaviour with activations kept, for gradients of a fixed network (FAIG, VGG loss).
    pub const EVAL_GRAD: Pass = Pass { train: false, record: true };
}

/// Which gradients a backward pass computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Want {
    pub input: bool,
    pub params: bool,
}

impl Want {
    pub const ALL: Want = Want { input: true, params: true };
    pub const INPUT: Want = Want { input: true, params: false };
    pub const PARAMS: Want = Want { input: false, params: true };
}

/// A differentiable step of a network.
pub trait Layer: Send {
    fn forward(&mut self, p: &mut Params, x: &Tensor, pass: Pass) -> Result<Tensor>;

    /// dL/dx when `want.input`; parameter gradients added into `p.grads` when `want.params`.
    /// Consumes what the forward pass recorded.
    fn backward(&mut self, p: &mut Params, dy: &Tensor, want: Want) -> Result<Option<Tensor>>;
}

/// The error of a backward pass that has nothing recorded.
pub(crate) fn not_recorded(layer: &str) -> anyhow::Error {
    anyhow::anyhow!("{layer}: backward called without a recording forward pass")
}
