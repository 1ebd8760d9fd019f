//! Losses on tensors: each returns the loss value (f64) and the gradient with respect to the
//! prediction, both multiplied by `weight`.

use super::device_mismatch;
use crate::device::{cpu::loss as cpu, cuda::loss as cuda};
use crate::tensor::{ensure_same_shape, Slice, SliceMut, Tensor};
use crate::Result;
use anyhow::bail;

macro_rules! loss_op {
    ($(#[$doc:meta])* $name:ident, $cpu:path, $cuda:path) => {
        $(#[$doc])*
        pub fn $name(pred: &Tensor, target: &Tensor, weight: f32) -> Result<(f64, Tensor)> {
            ensure_same_shape(stringify!($name), pred, target)?;
            let mut grad = Tensor::uninit(pred.shape(), &pred.device())?;
            let value = match (pred.view(), target.view(), grad.view_mut()?) {
                (Slice::Cpu(p), Slice::Cpu(t), SliceMut::Cpu(g)) => $cpu(p, t, weight, g),
                (Slice::Cuda(p, d), Slice::Cuda(t, _), SliceMut::Cuda(mut g, _)) => $cuda(d, &p, &t, weight, &mut g)?,
                _ => bail!(device_mismatch(stringify!($name))),
            };
            Ok((value, grad))
        }
    };
}

loss_op!(
    /// Mean absolute error (PyTorch's L1Loss).
    l1_mean, cpu::l1_mean_f32, cuda::l1_mean_f32
);
loss_op!(
    /// Mean squared error (PyTorch's MSELoss).
    mse_mean, cpu::mse_mean_f32, cuda::mse_mean_f32
);
loss_op!(
    /// Sum of squared errors (FAIG's loss).
    sse_sum, cpu::sse_sum_f32, cuda::sse_sum_f32
);
loss_op!(
    /// Huber loss with delta 1, mean over elements (PyTorch's HuberLoss / SmoothL1Loss at their
    /// default delta or beta of 1; DQN's clipped error): gradient clamp(pred - target, -1, 1) / N.
    huber_mean, cpu::huber_mean_f32, cuda::huber_mean_f32
);
loss_op!(
    /// Binary cross-entropy on logits against per-element labels (PyTorch's BCEWithLogitsLoss).
    bce_logits_mean, cpu::bce_logits_mean_f32, cuda::bce_logits_mean_f32
);

/// BCE with logits against one label for every element (a GAN's real = 1 / fake = 0).
pub fn bce_logits_mean_label(logits: &Tensor, label: f32, weight: f32) -> Result<(f64, Tensor)> {
    let target = Tensor::full(label, logits.shape(), &logits.device())?;
    bce_logits_mean(logits, &target, weight)
}
