//! Launchers for `kernels/loss.cu`, mirroring `device::cpu::loss`. Each writes the gradient and
//! returns the loss value.

use super::CudaDevice;
use super::{DevView, DevViewMut};
use crate::Result;

pub fn l1_mean_f32(
    _d: &CudaDevice,
    _p: &DevView,
    _t: &DevView,
    _weight: f32,
    _g: &mut DevViewMut,
) -> Result<f64> {
    pending!("l1_mean_f32")
}

pub fn mse_mean_f32(
    _d: &CudaDevice,
    _p: &DevView,
    _t: &DevView,
    _weight: f32,
    _g: &mut DevViewMut,
) -> Result<f64> {
    pending!("mse_mean_f32")
}

pub fn sse_sum_f32(
    _d: &CudaDevice,
    _p: &DevView,
    _t: &DevView,
    _weight: f32,
    _g: &mut DevViewMut,
) -> Result<f64> {
    pending!("sse_sum_f32")
}

pub fn bce_logits_mean_f32(
    _d: &CudaDevice,
    _x: &DevView,
    _t: &DevView,
    _weight: f32,
    _g: &mut DevViewMut,
) -> Result<f64> {
    pending!("bce_logits_mean_f32")
}
