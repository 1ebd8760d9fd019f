//! PixelShuffle(r): `[n, c*r*r, h, w] -> [n, c, h*r, w*r]`, PyTorch's channel order.

use crate::device::{cpu::pixel_shuffle as cpu, cuda::pixel_shuffle as cuda};
use crate::tensor::{Slice, SliceMut, Tensor};
use crate::Result;
use anyhow::ensure;

pub fn pixel_shuffle_fwd(x: &Tensor, r: usize) -> Result<Tensor> {
    let (n, cr, h, w) = x.dims4()?;
    ensure!(r > 0 && cr % (r * r) == 0, "pixel_shuffle({r}): {cr} channels are not a multiple of {}", r * r);
    let c = cr / (r * r);
    let mut y = Tensor::uninit(&[n, c, h * r, w * r], &x.device())?;
    match (x.view(), y.view_mut()?) {
        (Slice::Cpu(x), SliceMut::Cpu(y)) => cpu::pixel_shuffle_fwd_f32(c, h, w, r, x, y),
        (Slice::Cuda(x, d), SliceMut::Cuda(mut y, _)) => {
            cuda::pixel_shuffle_fwd_f32(d, c, h, w, r, &x, &mut y)?
        }
        _ => unreachable!("output allocated on the input's device"),
    }
    Ok(y)
}

/// The gradient: `dy` `[n, c, h*r, w*r]` -> `[n, c*r*r, h, w]`.
pub fn pixel_shuffle_bwd(dy: &Tensor, r: usize) -> Result<Tensor> {
    let (n, c, hr, wr) = dy.dims4()?;
    ensure!(
        r > 0 && hr % r == 0 && wr % r == 0,
        "pixel_shuffle backward: {hr}x{wr} is not a multiple of {r}"
    );
    let (h, w) = (hr / r, wr / r);
    let mut dx = Tensor::uninit(&[n, c * r * r, h, w], &dy.device())?;
    match (dy.view(), dx.view_mut()?) {
        (Slice::Cpu(dy), SliceMut::Cpu(dx)) => cpu::pixel_shuffle_bwd_f32(c, h, w, r, dy, dx),
        (Slice::Cuda(dy, d), SliceMut::Cuda(mut dx, _)) => {
            cuda::pixel_shuffle_bwd_f32(d, c, h, w, r, &dy, &mut dx)?
        }
        _ => unreachable!("output allocated on the input's device"),
    }
    Ok(dx)
}
