//! The op vocabulary on tensors. Each op checks shapes and devices, allocates its output on the
//! input's device, and runs the CPU reference or the CUDA kernel of the same name.

pub mod batchnorm;
pub mod conv2d;
pub mod elementwise;
pub mod linear;
pub mod loss;
pub mod lstm;
pub mod optim;
pub mod pixel_shuffle;
pub mod pool2d;
pub mod upsample;

use crate::device::cuda::{CudaDevice, DevView, DevViewMut};
use crate::tensor::{ensure_same_shape, Slice, SliceMut, Tensor};
use crate::Result;
use anyhow::bail;

pub(crate) fn device_mismatch(op: &str) -> anyhow::Error {
    anyhow::anyhow!("{op}: operands are on different devices")
}

/// y = f(x) elementwise, on x's device.
pub(crate) fn unary(
    x: &Tensor,
    cpu: impl Fn(&[f32], &mut [f32]),
    cuda: impl Fn(&CudaDevice, &DevView, &mut DevViewMut) -> Result<()>,
) -> Result<Tensor> {
    let mut y = Tensor::uninit(x.shape(), &x.device())?;
    match (x.view(), y.view_mut()?) {
        (Slice::Cpu(x), SliceMut::Cpu(y)) => cpu(x, y),
        (Slice::Cuda(x, d), SliceMut::Cuda(mut y, _)) => cuda(d, &x, &mut y)?,
        _ => unreachable!("output allocated on the input's device"),
    }
    Ok(y)
}

/// y = f(a, b) elementwise; a and b must have the same shape and device.
pub(crate) fn binary(
    op: &str,
    a: &Tensor,
    b: &Tensor,
    cpu: impl Fn(&[f32], &[f32], &mut [f32]),
    cuda: impl Fn(&CudaDevice, &DevView, &DevView, &mut DevViewMut) -> Result<()>,
) -> Result<Tensor> {
    ensure_same_shape(op, a, b)?;
    let mut y = Tensor::uninit(a.shape(), &a.device())?;
    match (a.view(), b.view(), y.view_mut()?) {
        (Slice::Cpu(a), Slice::Cpu(b), SliceMut::Cpu(y)) => cpu(a, b, y),
        (Slice::Cuda(a, d), Slice::Cuda(b, _), SliceMut::Cuda(mut y, _)) => cuda(d, &a, &b, &mut y)?,
        _ => bail!(device_mismatch(op)),
    }
    Ok(y)
}
