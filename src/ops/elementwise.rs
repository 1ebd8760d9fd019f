//! Pointwise ops: scale, axpy, add, multiply (with a per-pixel map broadcast over channels),
//! ReLU, LeakyReLU and the sigmoid, with their backward passes.

use super::{binary, unary};
use crate::device::{cpu::elementwise as cpu, cuda::elementwise as cuda};
use crate::tensor::{ensure_same_shape, Slice, SliceMut, Tensor};
use crate::Result;
use anyhow::{bail, ensure};

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

/// How `b` lines up with `a` in [`mul`]: (channels of `a`, pixels per channel, channels of `b`).
fn mul_layout(a: &Tensor, b: &Tensor) -> Result<(usize, usize, usize)> {
    if a.shape() == b.shape() {
        // Same shape: one flat run, whatever the rank.
        return Ok((1, a.numel(), 1));
    }
    let (n, c, h, w) = a.dims4()?;
    ensure!(
        b.shape() == [n, 1, h, w],
        "mul: b has shape {:?}; it must be a's {:?} or one map per image [{n}, 1, {h}, {w}]",
        b.shape(),
        a.shape()
    );
    Ok((c, h * w, 1))
}

/// a * b elementwise; `b` has `a`'s shape, or is one map per image (`[n, 1, h, w]`) that scales
/// every channel of `a` (`[n, c, h, w]`).
pub fn mul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (c, hw, cb) = mul_layout(a, b)?;
    let mut y = Tensor::uninit(a.shape(), &a.device())?;
    match (a.view(), b.view(), y.view_mut()?) {
        (Slice::Cpu(a), Slice::Cpu(b), SliceMut::Cpu(y)) => cpu::mul_f32(a, b, y, c, hw, cb),
        (Slice::Cuda(a, d), Slice::Cuda(b, _), SliceMut::Cuda(mut y, _)) => {
            cuda::mul_f32(d, &a, &b, &mut y, c, hw, cb)?
        }
        _ => bail!(super::device_mismatch("mul")),
    }
    Ok(y)
}

/// The gradients of [`mul`] from its inputs and the upstream `dy`: dL/da = dy * b, and dL/db =
/// dy * a, summed over the channels when `b` was broadcast. Each is computed only when wanted.
pub fn mul_bwd(
    a: &Tensor,
    b: &Tensor,
    dy: &Tensor,
    want_a: bool,
    want_b: bool,
) -> Result<(Option<Tensor>, Option<Tensor>)> {
    ensure_same_shape("mul_bwd", a, dy)?;
    let (c, hw, _) = mul_layout(a, b)?;
    let da = want_a.then(|| mul(dy, b)).transpose()?;
    let db = if !want_b {
        None
    } else if a.shape() == b.shape() {
        Some(mul(dy, a)?)
    } else {
        let mut db = Tensor::uninit(b.shape(), &b.device())?;
        match (dy.view(), a.view(), db.view_mut()?) {
            (Slice::Cpu(dy), Slice::Cpu(a), SliceMut::Cpu(db)) => cpu::mul_bwd_bcast_f32(dy, a, db, c, hw),
            (Slice::Cuda(dy, d), Slice::Cuda(a, _), SliceMut::Cuda(mut db, _)) => {
                cuda::mul_bwd_bcast_f32(d, &dy, &a, &mut db, c, hw)?
            }
            _ => bail!(super::device_mismatch("mul_bwd")),
        }
        Some(db)
    };
    Ok((da, db))
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
