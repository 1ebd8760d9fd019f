//! Launchers for `kernels/pixel_shuffle.cu`, mirroring `device::cpu::pixel_shuffle`.

use super::gemm::{ensure_len, to_i32};
use super::CudaDevice;
use super::{DevView, DevViewMut};
use crate::Result;

/// Checks that `len` is whole images of `c*r*r` channels of `h x w`; returns (h, w, r) as i32.
fn check(what: &str, c: usize, h: usize, w: usize, r: usize, len: usize) -> Result<(i32, i32, i32)> {
    let image = c * r * r * h * w;
    anyhow::ensure!(
        image > 0 && len.is_multiple_of(image),
        "{what}: {len} values are not whole [{}, {h}, {w}] images",
        c * r * r
    );
    to_i32(what, len)?;
    Ok((h as i32, w as i32, r as i32))
}

/// `x`: `[n, c*r*r, h, w]` -> `y`: `[n, c, h*r, w*r]`; `c` is the OUTPUT channel count.
pub fn pixel_shuffle_fwd_f32(
    d: &CudaDevice,
    c: usize,
    h: usize,
    w: usize,
    r: usize,
    x: &DevView,
    y: &mut DevViewMut,
) -> Result<()> {
    let (hi, wi, ri) = check("pixel_shuffle", c, h, w, r, x.len())?;
    ensure_len("pixel_shuffle output", y.len(), x.len())?;
    let len = y.len() as u64;
    launch!(d, "pixel_shuffle_fwd_f32", d.grid_1d(len as usize), x.arg(), y.arg(), &hi, &wi, &ri, &len)
}

/// The exact inverse permutation: `dx[n, c*r*r + i*r + j, h, w] = dy[n, c, h*r + i, w*r + j]`.
pub fn pixel_shuffle_bwd_f32(
    d: &CudaDevice,
    c: usize,
    h: usize,
    w: usize,
    r: usize,
    dy: &DevView,
    dx: &mut DevViewMut,
) -> Result<()> {
    let (hi, wi, ri) = check("pixel_shuffle backward", c, h, w, r, dy.len())?;
    ensure_len("pixel_shuffle backward dx", dx.len(), dy.len())?;
    let len = dx.len() as u64;
    launch!(d, "pixel_shuffle_bwd_f32", d.grid_1d(len as usize), dy.arg(), dx.arg(), &hi, &wi, &ri, &len)
}
