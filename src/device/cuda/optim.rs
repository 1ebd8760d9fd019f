//! Launchers for `kernels/optim.cu`, mirroring `device::cpu::optim` bit for bit.

use super::gemm::ensure_len;
use super::CudaDevice;
use super::{DevView, DevViewMut};
use crate::device::AdamStep;
use crate::Result;

/// One Adam step on `p` with moments `m`, `v`, in PyTorch's operation order.
pub fn adam_step_f32(
    d: &CudaDevice,
    h: &AdamStep,
    p: &mut DevViewMut,
    g: &DevView,
    m: &mut DevViewMut,
    v: &mut DevViewMut,
) -> Result<()> {
    let n = p.len();
    ensure_len("adam gradient", g.len(), n)?;
    ensure_len("adam first moment", m.len(), n)?;
    ensure_len("adam second moment", v.len(), n)?;
    // The step-dependent scalars exactly as the CPU derives them (in f64, rounded once).
    let bc1 = 1.0 - (h.beta1 as f64).powi(h.step as i32);
    let bc2 = 1.0 - (h.beta2 as f64).powi(h.step as i32);
    let step_size = (h.lr as f64 / bc1) as f32;
    let bc2_sqrt = bc2.sqrt() as f32;
    let n64 = n as u64;
    launch!(
        d,
        "adam_step_f32",
        d.grid_1d(n),
        p.arg(),
        g.arg(),
        m.arg(),
        v.arg(),
        &step_size,
        &bc2_sqrt,
        &h.beta1,
        &h.beta2,
        &h.eps,
        &h.weight_decay,
        &n64
    )
}

/// `ema = decay * ema + (1 - decay) * p`.
pub fn ema_f32(d: &CudaDevice, decay: f32, p: &DevView, ema: &mut DevViewMut) -> Result<()> {
    ensure_len("ema", ema.len(), p.len())?;
    let n = p.len() as u64;
    launch!(d, "ema_f32", d.grid_1d(n as usize), &decay, p.arg(), ema.arg(), &n)
}

/// `out = base + alpha * (target - base)`.
pub fn lerp_f32(
    d: &CudaDevice,
    base: &DevView,
    target: &DevView,
    alpha: f32,
    out: &mut DevViewMut,
) -> Result<()> {
    ensure_len("lerp target", target.len(), base.len())?;
    ensure_len("lerp output", out.len(), base.len())?;
    let n = base.len() as u64;
    launch!(d, "lerp_f32", d.grid_1d(n as usize), base.arg(), target.arg(), &alpha, out.arg(), &n)
}
