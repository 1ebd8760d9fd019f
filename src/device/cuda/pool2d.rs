//! Launchers for `kernels/pool2d.cu`, mirroring `device::cpu::pool2d`.

use super::gemm::{ensure_len, to_i32};
use super::CudaDevice;
use super::{DevView, DevViewMut};
use crate::Result;

/// The number of `h x w` planes in a buffer of `len` values (within the kernels' index range).
fn planes(what: &str, h: usize, w: usize, len: usize) -> Result<usize> {
    anyhow::ensure!(
        h > 0 && w > 0 && len.is_multiple_of(h * w),
        "{what}: {len} values are not whole {h}x{w} planes"
    );
    to_i32(what, len)?;
    Ok(len / (h * w))
}

/// `x`: `[planes, h, w]` -> `y`: `[planes, h/2, w/2]`.
pub fn maxpool2_fwd_f32(d: &CudaDevice, h: usize, w: usize, x: &DevView, y: &mut DevViewMut) -> Result<()> {
    let p = planes("maxpool2", h, w, x.len())?;
    ensure_len("maxpool2 output", y.len(), p * (h / 2) * (w / 2))?;
    let (hi, wi) = (h as i32, w as i32);
    let len = y.len() as u64;
    if len == 0 {
        return Ok(());
    }
    launch!(d, "maxpool2_fwd_f32", d.grid_1d(len as usize), x.arg(), y.arg(), &hi, &wi, &len)
}

/// Routes each output gradient to the input that won the forward max (`dx` overwritten).
pub fn maxpool2_bwd_f32(
    d: &CudaDevice,
    h: usize,
    w: usize,
    x: &DevView,
    dy: &DevView,
    dx: &mut DevViewMut,
) -> Result<()> {
    let p = planes("maxpool2 backward", h, w, x.len())?;
    ensure_len("maxpool2 backward dy", dy.len(), p * (h / 2) * (w / 2))?;
    ensure_len("maxpool2 backward dx", dx.len(), x.len())?;
    let (hi, wi) = (h as i32, w as i32);
    let len = dx.len() as u64;
    if len == 0 {
        return Ok(());
    }
    launch!(d, "maxpool2_bwd_f32", d.grid_1d(len as usize), x.arg(), dy.arg(), dx.arg(), &hi, &wi, &len)
}
