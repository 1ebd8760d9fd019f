//! Launchers for `kernels/loss.cu`, mirroring `device::cpu::loss`. Each writes the gradient and
//! returns the loss value.
//!
//! The value is reduced on the device in two fixed-order passes (per-block double partial sums
//! from a grid that depends on the element count only, then one block), and its 8 bytes come back
//! to the host: the same inputs give the same value on every run.

use super::gemm::ensure_len;
use super::CudaDevice;
use super::{DevView, DevViewMut};
use crate::Result;
use cudarc::driver::LaunchConfig;

const THREADS: u32 = 256;
/// At most this many pass-1 blocks (partial sums); fewer for small inputs.
const MAX_PARTIALS: usize = 1024;

/// Runs loss kernel `name` (`grad` written) and returns the plain sum of its per-element values.
fn sum_with_grad(
    d: &CudaDevice,
    name: &'static str,
    p: &DevView,
    t: &DevView,
    k: f32,
    g: &mut DevViewMut,
) -> Result<f64> {
    ensure_len(name, t.len(), p.len())?;
    ensure_len(name, g.len(), p.len())?;
    let n = p.len();
    if n == 0 {
        return Ok(0.0);
    }
    let blocks = n.div_ceil(THREADS as usize).min(MAX_PARTIALS);
    // Doubles live in the f32 pool as pairs of floats; pool buffers are 256-byte aligned.
    let mut partial = d.alloc(2 * blocks)?;
    let mut out = d.alloc(2)?;
    let cfg =
        LaunchConfig { grid_dim: (blocks as u32, 1, 1), block_dim: (THREADS, 1, 1), shared_mem_bytes: 0 };
    let n64 = n as u64;
    let partial_out = partial.dev_view_mut();
    launch!(d, name, cfg, p.arg(), t.arg(), &k, g.arg(), partial_out.arg(), &n64)?;
    let one = LaunchConfig { grid_dim: (1, 1, 1), block_dim: (THREADS, 1, 1), shared_mem_bytes: 0 };
    let count = blocks as i32;
    let (partial_in, total) = (partial.dev_view(), out.dev_view_mut());
    launch!(d, "loss_sum_f64", one, partial_in.arg(), &count, total.arg())?;
    let v = d.download(&out)?;
    // The double's low word is the first f32 (little-endian device and host).
    Ok(f64::from_bits(u64::from(v[0].to_bits()) | (u64::from(v[1].to_bits()) << 32)))
}

/// `weight` times the mean of loss kernel `name`'s per-element values; `k` is the gradient's
/// constant factor (see kernels/loss.cu).
fn mean_with_grad(
    d: &CudaDevice,
    name: &'static str,
    p: &DevView,
    t: &DevView,
    weight: f32,
    k: f32,
    g: &mut DevViewMut,
) -> Result<f64> {
    let s = sum_with_grad(d, name, p, t, k, g)?;
    Ok(weight as f64 * s / p.len() as f64)
}

/// Mean absolute error. d/dp = sign(p - t) * weight / N (0 where p == t).
pub fn l1_mean_f32(d: &CudaDevice, p: &DevView, t: &DevView, weight: f32, g: &mut DevViewMut) -> Result<f64> {
    mean_with_grad(d, "l1_mean_f32", p, t, weight, weight / p.len() as f32, g)
}

/// Mean squared error. d/dp = 2 (p - t) * weight / N.
pub fn mse_mean_f32(
    d: &CudaDevice,
    p: &DevView,
    t: &DevView,
    weight: f32,
    g: &mut DevViewMut,
) -> Result<f64> {
    mean_with_grad(d, "mse_mean_f32", p, t, weight, 2.0 * weight / p.len() as f32, g)
}

/// Sum of squared errors (FAIG's loss). d/dp = 2 (p - t) * weight.
pub fn sse_sum_f32(d: &CudaDevice, p: &DevView, t: &DevView, weight: f32, g: &mut DevViewMut) -> Result<f64> {
    let k = 2.0 * weight;
    Ok(weight as f64 * sum_with_grad(d, "sse_sum_f32", p, t, k, g)?)
}

/// Huber loss with delta 1, mean over elements. d/dp = clamp(p - t, -1, 1) * weight / N.
pub fn huber_mean_f32(
    d: &CudaDevice,
    p: &DevView,
    t: &DevView,
    weight: f32,
    g: &mut DevViewMut,
) -> Result<f64> {
    mean_with_grad(d, "huber_mean_f32", p, t, weight, weight / p.len() as f32, g)
}

/// Binary cross-entropy on logits, mean over elements. d/dx = (sigmoid(x) - t) * weight / N.
pub fn bce_logits_mean_f32(
    d: &CudaDevice,
    x: &DevView,
    t: &DevView,
    weight: f32,
    g: &mut DevViewMut,
) -> Result<f64> {
    mean_with_grad(d, "bce_logits_mean_f32", x, t, weight, weight / x.len() as f32, g)
}
