//! The op vocabulary on tensors. Each op checks shapes and devices, allocates its output on the
//! input's device, and runs the CPU reference or the CUDA kernel of the same name.

pub mod elementwise;

use crate::device::cuda::CudaDevice;
use crate::tensor::{ensure_same_shape, Storage, Tensor};
use crate::Result;
use anyhow::bail;
use cudarc::driver::{CudaView, CudaViewMut};

fn device_mismatch(op: &str, a: &Tensor, b: &Tensor) -> anyhow::Error {
    anyhow::anyhow!(
        "{op}: tensors are on different devices ({} and {})",
        a.device(),
        b.device()
    )
}

/// y = f(x) elementwise, on x's device.
pub(crate) fn unary(
    x: &Tensor,
    cpu: impl Fn(&[f32], &mut [f32]),
    cuda: impl Fn(&CudaDevice, &CudaView<f32>, &mut CudaViewMut<f32>) -> Result<()>,
) -> Result<Tensor> {
    let mut y = Tensor::uninit(x.shape(), &x.device())?;
    match (x.storage(), y.storage_mut()) {
        (Storage::Cpu(x), Storage::Cpu(y)) => cpu(x, y),
        (Storage::Cuda(x, d), Storage::Cuda(y, _)) => cuda(d, &x.view(), &mut y.view_mut())?,
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
    cuda: impl Fn(&CudaDevice, &CudaView<f32>, &CudaView<f32>, &mut CudaViewMut<f32>) -> Result<()>,
) -> Result<Tensor> {
    ensure_same_shape(op, a, b)?;
    let mut y = Tensor::uninit(a.shape(), &a.device())?;
    match (a.storage(), b.storage(), y.storage_mut()) {
        (Storage::Cpu(a), Storage::Cpu(b), Storage::Cpu(y)) => cpu(a, b, y),
        (Storage::Cuda(a, d), Storage::Cuda(b, _), Storage::Cuda(y, _)) => {
            cuda(d, &a.view(), &b.view(), &mut y.view_mut())?
        }
        _ => bail!(device_mismatch(op, a, b)),
    }
    Ok(y)
}
