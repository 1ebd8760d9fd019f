//! 2x2 max pooling, stride 2.

use super::device_mismatch;
use crate::device::{cpu::pool2d as cpu, cuda::pool2d as cuda};
use crate::tensor::{Slice, SliceMut, Tensor};
use crate::Result;
use anyhow::{bail, ensure};

pub fn maxpool2_fwd(x: &Tensor) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    ensure!(h >= 2 && w >= 2, "maxpool2: a {h}x{w} input is smaller than the 2x2 window");
    let mut y = Tensor::uninit(&[n, c, h / 2, w / 2], &x.device())?;
    match (x.view(), y.view_mut()?) {
        (Slice::Cpu(x), SliceMut::Cpu(y)) => cpu::maxpool2_fwd_f32(h, w, x, y),
        (Slice::Cuda(x, d), SliceMut::Cuda(mut y, _)) => cuda::maxpool2_fwd_f32(d, h, w, &x, &mut y)?,
        _ => unreachable!("output allocated on the input's device"),
    }
    Ok(y)
}

/// The gradient, from the forward input `x` and `dy`.
pub fn maxpool2_bwd(x: &Tensor, dy: &Tensor) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    ensure!(dy.shape() == [n, c, h / 2, w / 2], "maxpool2 backward: dy has shape {:?}", dy.shape());
    let mut dx = Tensor::uninit(x.shape(), &x.device())?;
    match (x.view(), dy.view(), dx.view_mut()?) {
        (Slice::Cpu(x), Slice::Cpu(dy), SliceMut::Cpu(dx)) => cpu::maxpool2_bwd_f32(h, w, x, dy, dx),
        (Slice::Cuda(x, d), Slice::Cuda(dy, _), SliceMut::Cuda(mut dx, _)) => {
            cuda::maxpool2_bwd_f32(d, h, w, &x, &dy, &mut dx)?
        }
        _ => bail!(device_mismatch("maxpool2 backward")),
    }
    Ok(dx)
}
