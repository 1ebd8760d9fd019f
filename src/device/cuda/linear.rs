//! Launchers for `kernels/linear.cu`, mirroring `device::cpu::linear`.

use super::CudaDevice;
use super::{DevView, DevViewMut};
use crate::Result;

pub fn linear_fwd_f32(
    _d: &CudaDevice,
    _n: usize,
    _i: usize,
    _o: usize,
    _x: &DevView,
    _w: &DevView,
    _b: Option<&DevView>,
    _y: &mut DevViewMut,
) -> Result<()> {
    pending!("linear_fwd_f32")
}

/// `dx` overwritten when given; ADDS into `dw` and `db` when given.
pub fn linear_bwd_f32(
    _d: &CudaDevice,
    _n: usize,
    _i: usize,
    _o: usize,
    _x: &DevView,
    _w: &DevView,
    _dy: &DevView,
    _dx: Option<&mut DevViewMut>,
    _dw: Option<&mut DevViewMut>,
    _db: Option<&mut DevViewMut>,
) -> Result<()> {
    pending!("linear_bwd_f32")
}
