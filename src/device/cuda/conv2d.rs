//! Launchers for `kernels/conv2d.cu`, mirroring `device::cpu::conv2d`.

use super::CudaDevice;
use super::{DevView, DevViewMut};
use crate::device::cpu::conv2d::Conv2dGeom;
use crate::Result;

pub fn conv2d_fwd_f32(
    _dev: &CudaDevice,
    _g: &Conv2dGeom,
    _x: &DevView,
    _w: &DevView,
    _b: Option<&DevView>,
    _y: &mut DevViewMut,
) -> Result<()> {
    pending!("conv2d_fwd_f32")
}

pub fn conv2d_bwd_input_f32(
    _dev: &CudaDevice,
    _g: &Conv2dGeom,
    _dy: &DevView,
    _w: &DevView,
    _dx: &mut DevViewMut,
) -> Result<()> {
    pending!("conv2d_bwd_input_f32")
}

/// Adds the weight and bias gradients into `dw` and `db`.
pub fn conv2d_bwd_weight_f32(
    _dev: &CudaDevice,
    _g: &Conv2dGeom,
    _x: &DevView,
    _dy: &DevView,
    _dw: &mut DevViewMut,
    _db: Option<&mut DevViewMut>,
) -> Result<()> {
    pending!("conv2d_bwd_weight_f32")
}
