//! Optimiser steps and parameter-path ops over flat buffers (all of a model's parameters at once).

use super::device_mismatch;
use crate::device::{cpu::optim as cpu, cuda::optim as cuda};
use crate::tensor::{Slice, SliceMut};
use crate::Result;
use anyhow::{bail, ensure};

pub use crate::device::AdamStep;

/// One Adam step: updates `p`, `m`, `v` in place from gradient `g`.
pub fn adam_step(
    h: &AdamStep,
    p: &mut SliceMut,
    g: &Slice,
    m: &mut SliceMut,
    v: &mut SliceMut,
) -> Result<()> {
    let n = p.len();
    ensure!(g.len() == n && m.len() == n && v.len() == n, "adam: buffer lengths differ");
    match (p, g, m, v) {
        (SliceMut::Cpu(p), Slice::Cpu(g), SliceMut::Cpu(m), SliceMut::Cpu(v)) => {
            cpu::adam_step_f32(h, p, g, m, v)
        }
        (SliceMut::Cuda(p, d), Slice::Cuda(g, _), SliceMut::Cuda(m, _), SliceMut::Cuda(v, _)) => {
            cuda::adam_step_f32(d, h, p, g, m, v)?
        }
        _ => bail!(device_mismatch("adam")),
    }
    Ok(())
}

/// `ema = decay * ema + (1 - decay) * p`.
pub fn ema(decay: f32, p: &Slice, ema: &mut SliceMut) -> Result<()> {
    ensure!(p.len() == ema.len(), "ema: buffer lengths differ");
    match (p, ema) {
        (Slice::Cpu(p), SliceMut::Cpu(e)) => cpu::ema_f32(decay, p, e),
        (Slice::Cuda(p, d), SliceMut::Cuda(e, _)) => cuda::ema_f32(d, decay, p, e)?,
        _ => bail!(device_mismatch("ema")),
    }
    Ok(())
}

/// `out = base + alpha * (target - base)`.
pub fn lerp(base: &Slice, target: &Slice, alpha: f32, out: &mut SliceMut) -> Result<()> {
    ensure!(base.len() == target.len() && base.len() == out.len(), "lerp: buffer lengths differ");
    match (base, target, out) {
        (Slice::Cpu(b), Slice::Cpu(t), SliceMut::Cpu(o)) => cpu::lerp_f32(b, t, alpha, o),
        (Slice::Cuda(b, d), Slice::Cuda(t, _), SliceMut::Cuda(o, _)) => cuda::lerp_f32(d, b, t, alpha, o)?,
        _ => bail!(device_mismatch("lerp")),
    }
    Ok(())
}
