//! Launchers for `kernels/upsample.cu`, mirroring `device::cpu::upsample`.

use super::gemm::{ensure_len, to_i32};
use super::CudaDevice;
use super::{DevView, DevViewMut};
use crate::Result;

/// Checks that `lo` values are whole `h x w` planes and `hi` the same planes upsampled by `s`,
/// within the kernels' index range; returns (h, w, s) as i32.
fn check(what: &str, h: usize, w: usize, s: usize, lo: usize, hi: usize) -> Result<(i32, i32, i32)> {
    anyhow::ensure!(
        h > 0 && w > 0 && s > 0 && lo.is_multiple_of(h * w),
        "{what}: {lo} values are not whole {h}x{w} planes (scale {s})"
    );
    ensure_len(what, hi, lo * s * s)?;
    to_i32(what, hi)?;
    Ok((h as i32, w as i32, s as i32))
}

/// `x`: `[planes, h, w]` -> `y`: `[planes, h*s, w*s]`.
pub fn upsample_bilinear_fwd_f32(
    d: &CudaDevice,
    h: usize,
    w: usize,
    s: usize,
    x: &DevView,
    y: &mut DevViewMut,
) -> Result<()> {
    let (hi, wi, si) = check("upsample", h, w, s, x.len(), y.len())?;
    let len = y.len() as u64;
    launch!(d, "upsample_bilinear_fwd_f32", d.grid_1d(len as usize), x.arg(), y.arg(), &hi, &wi, &si, &len)
}

/// The gradient of the forward pass, gathered per input pixel (`dx` overwritten).
pub fn upsample_bilinear_bwd_f32(
    d: &CudaDevice,
    h: usize,
    w: usize,
    s: usize,
    dy: &DevView,
    dx: &mut DevViewMut,
) -> Result<()> {
    let (hi, wi, si) = check("upsample backward", h, w, s, dx.len(), dy.len())?;
    let len = dx.len() as u64;
    launch!(d, "upsample_bilinear_bwd_f32", d.grid_1d(len as usize), dy.arg(), dx.arg(), &hi, &wi, &si, &len)
}
