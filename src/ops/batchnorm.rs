//! BatchNorm2d on NCHW tensors; gamma, beta and the running statistics are slices of the
//! model's parameter and buffer storage.

use super::device_mismatch;
use crate::device::cpu::batchnorm as cpu;
use crate::device::cuda::batchnorm as cuda;
use crate::tensor::{Slice, SliceMut, Tensor};
use crate::Result;
use anyhow::{bail, ensure};

/// What a train-mode forward keeps for its backward: `[2, c]` = per-channel mean, 1/sqrt(var+eps).
pub struct BnSaved {
    pub stats: Tensor,
}

fn check(x: &Tensor, gamma: &Slice) -> Result<(usize, usize, usize)> {
    let (n, c, h, w) = x.dims4()?;
    ensure!(gamma.len() == c, "batchnorm: {c} channels but {} scale values", gamma.len());
    Ok((n, c, h * w))
}

pub fn batchnorm_train_fwd(
    x: &Tensor,
    gamma: &Slice,
    beta: &Slice,
    eps: f32,
    momentum: f32,
    running_mean: &mut SliceMut,
    running_var: &mut SliceMut,
) -> Result<(Tensor, BnSaved)> {
    let (n, c, hw) = check(x, gamma)?;
    ensure!(n * hw > 1, "batchnorm in train mode needs more than one value per channel");
    let mut y = Tensor::uninit(x.shape(), &x.device())?;
    let mut stats = Tensor::uninit(&[2, c], &x.device())?;
    match (x.view(), gamma, beta, y.view_mut()?, stats.view_mut()?) {
        (Slice::Cpu(x), Slice::Cpu(g), Slice::Cpu(b), SliceMut::Cpu(y), SliceMut::Cpu(st)) => {
            cpu::batchnorm_train_fwd_f32(
                n,
                c,
                hw,
                x,
                g,
                b,
                eps,
                momentum,
                running_mean.as_cpu()?,
                running_var.as_cpu()?,
                y,
                st,
            )
        }
        (
            Slice::Cuda(x, d),
            Slice::Cuda(g, _),
            Slice::Cuda(b, _),
            SliceMut::Cuda(mut y, _),
            SliceMut::Cuda(mut st, _),
        ) => cuda::batchnorm_train_fwd_f32(
            d,
            n,
            c,
            hw,
            &x,
            g,
            b,
            eps,
            momentum,
            running_mean.as_cuda()?,
            running_var.as_cuda()?,
            &mut y,
            &mut st,
        )?,
        _ => bail!(device_mismatch("batchnorm")),
    }
    Ok((y, BnSaved { stats }))
}

pub fn batchnorm_eval_fwd(
    x: &Tensor,
    gamma: &Slice,
    beta: &Slice,
    eps: f32,
    running_mean: &Slice,
    running_var: &Slice,
) -> Result<Tensor> {
    let (n, c, hw) = check(x, gamma)?;
    let mut y = Tensor::uninit(x.shape(), &x.device())?;
    match (x.view(), gamma, beta, running_mean, running_var, y.view_mut()?) {
        (Slice::Cpu(x), Slice::Cpu(g), Slice::Cpu(b), Slice::Cpu(m), Slice::Cpu(v), SliceMut::Cpu(y)) => {
            cpu::batchnorm_eval_fwd_f32(n, c, hw, x, g, b, eps, m, v, y)
        }
        (
            Slice::Cuda(x, d),
            Slice::Cuda(g, _),
            Slice::Cuda(b, _),
            Slice::Cuda(m, _),
            Slice::Cuda(v, _),
            SliceMut::Cuda(mut y, _),
        ) => cuda::batchnorm_eval_fwd_f32(d, n, c, hw, &x, g, b, eps, m, v, &mut y)?,
        _ => bail!(device_mismatch("batchnorm")),
    }
    Ok(y)
}

/// Returns dx; ADDS into `dgamma` / `dbeta` when given (a frozen layer passes `None`).
pub fn batchnorm_train_bwd(
    x: &Tensor,
    dy: &Tensor,
    gamma: &Slice,
    saved: &BnSaved,
    dgamma: Option<&mut SliceMut>,
    dbeta: Option<&mut SliceMut>,
) -> Result<Tensor> {
    let (n, c, hw) = check(x, gamma)?;
    ensure!(dy.shape() == x.shape(), "batchnorm backward: dy has shape {:?}", dy.shape());
    let mut dx = Tensor::uninit(x.shape(), &x.device())?;
    match (x.view(), dy.view(), gamma, saved.stats.view(), dx.view_mut()?) {
        (Slice::Cpu(x), Slice::Cpu(dy), Slice::Cpu(g), Slice::Cpu(st), SliceMut::Cpu(dx)) => {
            let dg = dgamma.map(|s| s.as_cpu()).transpose()?;
            let db = dbeta.map(|s| s.as_cpu()).transpose()?;
            cpu::batchnorm_train_bwd_f32(n, c, hw, x, dy, g, st, dx, dg, db)
        }
        (
            Slice::Cuda(x, d),
            Slice::Cuda(dy, _),
            Slice::Cuda(g, _),
            Slice::Cuda(st, _),
            SliceMut::Cuda(mut dx, _),
        ) => {
            let dg = dgamma.map(|s| s.as_cuda()).transpose()?;
            let db = dbeta.map(|s| s.as_cuda()).transpose()?;
            cuda::batchnorm_train_bwd_f32(d, n, c, hw, &x, &dy, g, &st, &mut dx, dg, db)?
        }
        _ => bail!(device_mismatch("batchnorm backward")),
    }
    Ok(dx)
}
