//! Pointwise ops: scale, axpy, add, ReLU and LeakyReLU with their backward passes.

use super::{binary, unary};
use crate::device::{cpu::elementwise as cpu, cuda::elementwise as cuda};
use crate::tensor::{ensure_same_shape, Slice, SliceMut, Tensor};
use crate::Result;
use anyhow::bail;

/// a * x
pub fn scale(x: &Tensor, a: f32) -> Result<Tensor> {
    unary(x, |x, y| cpu::scale_f32(x, a, y), |d, x, y| cuda::scale_f32(d, x, a, y))
}

/// y += a * x, in place.
pub fn axpy(a: f32, x: &Tensor, y: &mut Tensor) -> Result<()> {
    ensure_same_shape("axpy", x, y)?;
    match (x.view(), y.view_mut()?) {
        (Slice::Cpu(x), SliceMut::Cpu(y)) => cpu::axpy_f32(a, x, y),
        (Slice::Cuda(x, d), SliceMut::Cuda(mut y, _)) => cuda::axpy_f32(d, a, &x, &mut y)?,
        _ => bail!(super::device_mismatch("axpy")),
    }
    Ok(())
}

/// a + b
pub fn add(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary("add", a, b, cpu::add_f32, cuda::add_f32)
}

/// max(x, 0)
pub fn relu_fwd(x: &Tensor) -> Result<Tensor> {
    unary(x, cpu::relu_fwd_f32, cuda::relu_fwd_f32)
}

/// Gradient of ReLU from its output `y` and the upstream gradient `dy`.
pub fn relu_bwd(y: &Tensor, dy: &Tensor) -> Result<Tensor> {
    binary("relu_bwd", y, dy, cpu::relu_bwd_f32, cuda::relu_bwd_f32)
}

/// x > 0 ? x : slope * x
pub fn leaky_relu_fwd(x: &Tensor, slope: f32) -> Result<Tensor> {
    unary(x, |x, y| cpu::leaky_relu_fwd_f32(x, slope, y), |d, x, y| cuda::leaky_relu_fwd_f32(d, x, slope, y))
}

/// Gradient of LeakyReLU from its input `x` and the upstream gradient `dy`.
pub fn leaky_relu_bwd(x: &Tensor, dy: &Tensor, slope: f32) -> Result<Tensor> {
    binary(
        "leaky_relu_bwd",
        x,
        dy,
        |x, dy, dx| cpu::leaky_relu_bwd_f32(x, dy, slope, dx),
        |d, x, dy, dx| cuda::leaky_relu_bwd_f32(d, x, dy, slope, dx),
    )
}

/// 1 / (1 + exp(-x))
pub fn sigmoid_fwd(x: &Tensor) -> Result<Tensor> {
    unary(x, cpu::sigmoid_fwd_f32, cuda::sigmoid_fwd_f32)
}

/// Gradient of the sigmoid from its output `y`.
pub fn sigmoid_bwd(y: &Tensor, dy: &Tensor) -> Result<Tensor> {
    binary("sigmoid_bwd", y, dy, cpu::sigmoid_bwd_f32, cuda::sigmoid_bwd_f32)
}
