//! Launchers for `kernels/optim.cu`, mirroring `device::cpu::optim`.

use super::CudaDevice;
use super::{DevView, DevViewMut};
use crate::device::cpu::optim::AdamStep;
use crate::Result;

pub fn adam_step_f32(
    _d: &CudaDevice,
    _h: &AdamStep,
    _p: &mut DevViewMut,
    _g: &DevView,
    _m: &mut DevViewMut,
    _v: &mut DevViewMut,
) -> Result<()> {
    pending!("adam_step_f32")
}

pub fn ema_f32(_d: &CudaDevice, _decay: f32, _p: &DevView, _ema: &mut DevViewMut) -> Result<()> {
    pending!("ema_f32")
}

pub fn lerp_f32(
    _d: &CudaDevice,
    _base: &DevView,
    _target: &DevView,
    _alpha: f32,
    _out: &mut DevViewMut,
) -> Result<()> {
    pending!("lerp_f32")
}
