//! Launchers for `kernels/pixel_shuffle.cu`, mirroring `device::cpu::pixel_shuffle`.

use super::CudaDevice;
use super::{DevView, DevViewMut};
use crate::Result;

pub fn pixel_shuffle_fwd_f32(
    _d: &CudaDevice,
    _c: usize,
    _h: usize,
    _w: usize,
    _r: usize,
    _x: &DevView,
    _y: &mut DevViewMut,
) -> Result<()> {
    pending!("pixel_shuffle_fwd_f32")
}

pub fn pixel_shuffle_bwd_f32(
    _d: &CudaDevice,
    _c: usize,
    _h: usize,
    _w: usize,
    _r: usize,
    _dy: &DevView,
    _dx: &mut DevViewMut,
) -> Result<()> {
    pending!("pixel_shuffle_bwd_f32")
}
