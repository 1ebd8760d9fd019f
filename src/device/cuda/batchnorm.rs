//! Launchers for `kernels/batchnorm.cu`, mirroring `device::cpu::batchnorm`.

use super::CudaDevice;
use super::{DevView, DevViewMut};
use crate::Result;

/// Writes `y` and `stats` (`[2, c]`: mean, 1/sqrt(var+eps)); updates the running statistics.
pub fn batchnorm_train_fwd_f32(
    _d: &CudaDevice,
    _n: usize,
    _c: usize,
    _hw: usize,
    _x: &DevView,
    _gamma: &DevView,
    _beta: &DevView,
    _eps: f32,
    _momentum: f32,
    _running_mean: &mut DevViewMut,
    _running_var: &mut DevViewMut,
    _y: &mut DevViewMut,
    _stats: &mut DevViewMut,
) -> Result<()> {
    pending!("batchnorm_train_fwd_f32")
}

pub fn batchnorm_eval_fwd_f32(
    _d: &CudaDevice,
    _n: usize,
    _c: usize,
    _hw: usize,
    _x: &DevView,
    _gamma: &DevView,
    _beta: &DevView,
    _eps: f32,
    _running_mean: &DevView,
    _running_var: &DevView,
    _y: &mut DevViewMut,
) -> Result<()> {
    pending!("batchnorm_eval_fwd_f32")
}

/// `dx` overwritten; ADDS into `dgamma` and `dbeta` when given.
pub fn batchnorm_train_bwd_f32(
    _d: &CudaDevice,
    _n: usize,
    _c: usize,
    _hw: usize,
    _x: &DevView,
    _dy: &DevView,
    _gamma: &DevView,
    _stats: &DevView,
    _dx: &mut DevViewMut,
    _dgamma: Option<&mut DevViewMut>,
    _dbeta: Option<&mut DevViewMut>,
) -> Result<()> {
    pending!("batchnorm_train_bwd_f32")
}
