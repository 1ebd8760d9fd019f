//! Launchers for `kernels/pool2d.cu`, mirroring `device::cpu::pool`.

use super::CudaDevice;
use super::{DevView, DevViewMut};
use crate::Result;

pub fn maxpool2_fwd_f32(
    _d: &CudaDevice,
    _h: usize,
    _w: usize,
    _x: &DevView,
    _y: &mut DevViewMut,
) -> Result<()> {
    pending!("maxpool2_fwd_f32")
}

pub fn maxpool2_bwd_f32(
    _d: &CudaDevice,
    _h: usize,
    _w: usize,
    _x: &DevView,
    _dy: &DevView,
    _dx: &mut DevViewMut,
) -> Result<()> {
    pending!("maxpool2_bwd_f32")
}
