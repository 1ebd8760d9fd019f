//! Fully connected layer: `y = x W^T + b`, `x`: `[n, in]`, `W`: `[out, in]`.

use super::device_mismatch;
use crate::device::{cpu::linear as cpu, cuda::linear as cuda};
use crate::tensor::{Slice, SliceMut, Tensor};
use crate::Result;
use anyhow::{bail, ensure};

fn dims(x: &Tensor, w: &Slice, out: usize) -> Result<(usize, usize)> {
    let (n, i) = match x.shape() {
        [n, i] => (*n, *i),
        s => bail!("linear: expected a [batch, features] input, got {s:?}"),
    };
    ensure!(w.len() == out * i, "linear: weight has {} values, expected {out} x {i}", w.len());
    Ok((n, i))
}

pub fn linear_fwd(x: &Tensor, w: &Slice, b: Option<&Slice>, out: usize) -> Result<Tensor> {
    let (n, i) = dims(x, w, out)?;
    let mut y = Tensor::uninit(&[n, out], &x.device())?;
    match (x.view(), w, b, y.view_mut()?) {
        (Slice::Cpu(x), Slice::Cpu(w), b, SliceMut::Cpu(y)) => {
            let b = match b {
                None => None,
                Some(Slice::Cpu(b)) => Some(*b),
                Some(_) => bail!(device_mismatch("linear")),
            };
            cpu::linear_fwd_f32(n, i, out, x, w, b, y)
        }
        (Slice::Cuda(x, d), Slice::Cuda(w, _), b, SliceMut::Cuda(mut y, _)) => {
            let b = match b {
                None => None,
                Some(Slice::Cuda(b, _)) => Some(b),
                Some(_) => bail!(device_mismatch("linear")),
            };
            cuda::linear_fwd_f32(d, n, i, out, &x, w, b, &mut y)?
        }
        _ => bail!(device_mismatch("linear")),
    }
    Ok(y)
}

/// Returns dx if `need_dx`; ADDS into `dw` / `db` when given.
pub fn linear_bwd(
    x: &Tensor,
    w: &Slice,
    dy: &Tensor,
    out: usize,
    need_dx: bool,
    dw: Option<&mut SliceMut>,
    db: Option<&mut SliceMut>,
) -> Result<Option<Tensor>> {
    let (n, i) = dims(x, w, out)?;
    ensure!(dy.shape() == [n, out], "linear backward: dy has shape {:?}", dy.shape());
    let mut dx = if need_dx { Some(Tensor::uninit(&[n, i], &x.device())?) } else { None };
    let dx_view = match dx.as_mut() {
        Some(t) => Some(t.view_mut()?),
        None => None,
    };
    match (x.view(), w, dy.view(), dx_view, dw, db) {
        (Slice::Cpu(x), Slice::Cpu(w), Slice::Cpu(dy), dx, dw, db) => {
            let dx = dx.map(|s| s.into_cpu()).transpose()?;
            let dw = dw.map(|s| s.as_cpu()).transpose()?;
            let db = db.map(|s| s.as_cpu()).transpose()?;
            cpu::linear_bwd_f32(n, i, out, x, w, dy, dx, dw, db)
        }
        (Slice::Cuda(x, d), Slice::Cuda(w, _), Slice::Cuda(dy, _), dx, dw, db) => {
            let mut dx = dx.map(|s| s.into_cuda()).transpose()?;
            let dw = dw.map(|s| s.as_cuda()).transpose()?;
            let db = db.map(|s| s.as_cuda()).transpose()?;
            cuda::linear_bwd_f32(d, n, i, out, &x, w, &dy, dx.as_mut(), dw, db)?
        }
        _ => bail!(device_mismatch("linear backward")),
    }
    Ok(dx)
}
