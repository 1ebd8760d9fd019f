//! Bilinear upsampling by an integer factor, `align_corners=False`.

use crate::device::{cpu::upsample as cpu, cuda::upsample as cuda};
use crate::tensor::{Slice, SliceMut, Tensor};
use crate::Result;
use anyhow::ensure;

pub fn upsample_bilinear_fwd(x: &Tensor, s: usize) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    ensure!(s > 0, "upsample: the factor must be positive");
    let mut y = Tensor::uninit(&[n, c, h * s, w * s], &x.device())?;
    match (x.view(), y.view_mut()?) {
        (Slice::Cpu(x), SliceMut::Cpu(y)) => cpu::upsample_bilinear_fwd_f32(h, w, s, x, y),
        (Slice::Cuda(x, d), SliceMut::Cuda(mut y, _)) => {
            cuda::upsample_bilinear_fwd_f32(d, h, w, s, &x, &mut y)?
        }
        _ => unreachable!("output allocated on the input's device"),
    }
    Ok(y)
}

pub fn upsample_bilinear_bwd(dy: &Tensor, s: usize) -> Result<Tensor> {
    let (n, c, hs, ws) = dy.dims4()?;
    ensure!(s > 0 && hs % s == 0 && ws % s == 0, "upsample backward: {hs}x{ws} is not a multiple of {s}");
    let (h, w) = (hs / s, ws / s);
    let mut dx = Tensor::uninit(&[n, c, h, w], &dy.device())?;
    match (dy.view(), dx.view_mut()?) {
        (Slice::Cpu(dy), SliceMut::Cpu(dx)) => cpu::upsample_bilinear_bwd_f32(h, w, s, dy, dx),
        (Slice::Cuda(dy, d), SliceMut::Cuda(mut dx, _)) => {
            cuda::upsample_bilinear_bwd_f32(d, h, w, s, &dy, &mut dx)?
        }
        _ => unreachable!("output allocated on the input's device"),
    }
    Ok(dx)
}
