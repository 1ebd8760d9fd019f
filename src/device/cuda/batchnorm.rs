//! Launchers for `kernels/batchnorm.cu`, mirroring `device::cpu::batchnorm`.
//!
//! Per-channel statistics and gradient sums are one block per channel (fixed reduction order,
//! double accumulation); the elementwise passes are grid-stride kernels.

use super::gemm::{ensure_len, to_i32};
use super::CudaDevice;
use super::{DevView, DevViewMut};
use crate::Result;
use cudarc::driver::LaunchConfig;

/// One 256-thread block per channel.
fn per_channel(c: usize) -> LaunchConfig {
    LaunchConfig { grid_dim: (c as u32, 1, 1), block_dim: (256, 1, 1), shared_mem_bytes: 0 }
}

/// Checks the activation and per-channel buffer lengths; returns (n, c, hw) as i32.
fn check(
    what: &str,
    n: usize,
    c: usize,
    hw: usize,
    acts: &[usize],
    per_channel: &[usize],
) -> Result<(i32, i32, i32)> {
    let len = n * c * hw;
    to_i32(what, len)?;
    for &l in acts {
        ensure_len(what, l, len)?;
    }
    for &l in per_channel {
        ensure_len(what, l, c)?;
    }
    Ok((n as i32, c as i32, hw as i32))
}

/// Writes `y` and `stats` (`[2, c]`: mean, 1/sqrt(var+eps)); updates the running statistics.
pub fn batchnorm_train_fwd_f32(
    d: &CudaDevice,
    n: usize,
    c: usize,
    hw: usize,
    x: &DevView,
    gamma: &DevView,
    beta: &DevView,
    eps: f32,
    momentum: f32,
    running_mean: &mut DevViewMut,
    running_var: &mut DevViewMut,
    y: &mut DevViewMut,
    stats: &mut DevViewMut,
) -> Result<()> {
    let (ni, ci, hwi) = check(
        "batchnorm",
        n,
        c,
        hw,
        &[x.len(), y.len()],
        &[gamma.len(), beta.len(), running_mean.len(), running_var.len()],
    )?;
    ensure_len("batchnorm statistics", stats.len(), 2 * c)?;
    anyhow::ensure!(n * hw > 1, "batchnorm in train mode needs more than one value per channel");
    if c == 0 {
        return Ok(());
    }
    launch!(
        d,
        "batchnorm_stats_fwd_f32",
        per_channel(c),
        x.arg(),
        &eps,
        &momentum,
        running_mean.arg(),
        running_var.arg(),
        stats.arg(),
        &ni,
        &ci,
        &hwi
    )?;
    let len = (n * c * hw) as u64;
    launch!(
        d,
        "batchnorm_norm_fwd_f32",
        d.grid_1d(len as usize),
        x.arg(),
        gamma.arg(),
        beta.arg(),
        stats.arg(),
        y.arg(),
        &ci,
        &hwi,
        &len
    )
}

pub fn batchnorm_eval_fwd_f32(
    d: &CudaDevice,
    n: usize,
    c: usize,
    hw: usize,
    x: &DevView,
    gamma: &DevView,
    beta: &DevView,
    eps: f32,
    running_mean: &DevView,
    running_var: &DevView,
    y: &mut DevViewMut,
) -> Result<()> {
    let (_, ci, hwi) = check(
        "batchnorm",
        n,
        c,
        hw,
        &[x.len(), y.len()],
        &[gamma.len(), beta.len(), running_mean.len(), running_var.len()],
    )?;
    let len = (n * c * hw) as u64;
    if len == 0 {
        return Ok(());
    }
    launch!(
        d,
        "batchnorm_eval_fwd_f32",
        d.grid_1d(len as usize),
        x.arg(),
        gamma.arg(),
        beta.arg(),
        running_mean.arg(),
        running_var.arg(),
        &eps,
        y.arg(),
        &ci,
        &hwi,
        &len
    )
}

/// `dx` overwritten; ADDS into `dgamma` and `dbeta` when given.
pub fn batchnorm_train_bwd_f32(
    d: &CudaDevice,
    n: usize,
    c: usize,
    hw: usize,
    x: &DevView,
    dy: &DevView,
    gamma: &DevView,
    stats: &DevView,
    dx: &mut DevViewMut,
    dgamma: Option<&mut DevViewMut>,
    dbeta: Option<&mut DevViewMut>,
) -> Result<()> {
    let (ni, ci, hwi) =
        check("batchnorm backward", n, c, hw, &[x.len(), dy.len(), dx.len()], &[gamma.len()])?;
    ensure_len("batchnorm statistics", stats.len(), 2 * c)?;
    // An absent gradient is a null pointer to the kernel.
    let ptr_of = |what: &str, v: Option<&mut DevViewMut>| -> Result<u64> {
        match v {
            None => Ok(0),
            Some(v) => {
                ensure_len(what, v.len(), c)?;
                Ok(*v.arg())
            }
        }
    };
    let dg = ptr_of("batchnorm scale gradient", dgamma)?;
    let db = ptr_of("batchnorm shift gradient", dbeta)?;
    let len = (n * c * hw) as u64;
    if len == 0 {
        return Ok(());
    }
    // (sum(dy) / m, sum(dy * xhat) / m) per channel, from the pool.
    let mut coef = d.alloc(2 * c)?;
    let coef_out = coef.dev_view_mut();
    launch!(
        d,
        "batchnorm_sums_bwd_f32",
        per_channel(c),
        x.arg(),
        dy.arg(),
        stats.arg(),
        &dg,
        &db,
        coef_out.arg(),
        &ni,
        &ci,
        &hwi
    )?;
    let coef_in = coef.dev_view();
    launch!(
        d,
        "batchnorm_dx_bwd_f32",
        d.grid_1d(len as usize),
        x.arg(),
        dy.arg(),
        gamma.arg(),
        stats.arg(),
        coef_in.arg(),
        dx.arg(),
        &ci,
        &hwi,
        &len
    )
}
