//! Launchers for `kernels/tsne.cu`, mirroring `device::cpu::tsne` (same names, same layouts).
//! Each checks the buffer lengths the kernel's indexing relies on.

use super::CudaDevice;
use super::{DevView, DevViewMut};
use crate::Result;
use anyhow::ensure;
use cudarc::driver::LaunchConfig;

type In<'a, 'b> = &'a DevView<'b>;
type Out<'a, 'b> = &'a mut DevViewMut<'b>;

/// Rows per block of the one-warp-per-row kernels (WARPS_PER_BLOCK in tsne.cu).
const ROWS_PER_BLOCK: usize = 8;

fn warp_per_row(n: usize) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (n.div_ceil(ROWS_PER_BLOCK).max(1) as u32, 1, 1),
        block_dim: (32 * ROWS_PER_BLOCK as u32, 1, 1),
        shared_mem_bytes: 0,
    }
}

fn check(what: &str, name: &str, got: usize, want: usize) -> Result<()> {
    ensure!(got == want, "{what}: {name} holds {got} floats, expected {want}");
    Ok(())
}

pub fn tsne_sqdist_f32(dev: &CudaDevice, x: In, n: usize, d: usize, out: Out) -> Result<()> {
    check("tsne_sqdist_f32", "x", x.len(), n * d)?;
    check("tsne_sqdist_f32", "out", out.len(), n * n)?;
    let cfg = sqdist_cfg(n)?;
    let (n, d) = (n as u64, d as u64);
    launch!(dev, "tsne_sqdist_f32", cfg, x.arg(), out.arg(), &n, &d)
}

/// One 16 x 16 block per tile of the n x n distance matrix; the grid's y extent is at most 65535.
fn sqdist_cfg(n: usize) -> Result<LaunchConfig> {
    let tiles = n.div_ceil(16).max(1);
    ensure!(
        tiles <= 65535,
        "tsne_sqdist_f32: {n} points need {tiles} tile rows, above CUDA's grid limit of 65535"
    );
    let t = tiles as u32;
    Ok(LaunchConfig { grid_dim: (t, t, 1), block_dim: (16, 16, 1), shared_mem_bytes: 0 })
}

pub fn tsne_perplexity_f32(
    dev: &CudaDevice,
    dist: In,
    n: usize,
    perplexity: f32,
    pcond: Out,
    rowsum: Out,
) -> Result<()> {
    check("tsne_perplexity_f32", "dist", dist.len(), n * n)?;
    check("tsne_perplexity_f32", "pcond", pcond.len(), n * n)?;
    check("tsne_perplexity_f32", "rowsum", rowsum.len(), n)?;
    let log_perp = (perplexity as f64).ln();
    let n64 = n as u64;
    launch!(
        dev,
        "tsne_perplexity_f32",
        warp_per_row(n),
        dist.arg(),
        pcond.arg(),
        rowsum.arg(),
        &n64,
        &log_perp
    )
}

pub fn tsne_joint_p_f32(dev: &CudaDevice, pcond: In, n: usize, total: f64, p: Out) -> Result<()> {
    check("tsne_joint_p_f32", "pcond", pcond.len(), n * n)?;
    check("tsne_joint_p_f32", "p", p.len(), n * n)?;
    let n64 = n as u64;
    launch!(dev, "tsne_joint_p_f32", dev.grid_1d(n * n), pcond.arg(), p.arg(), &n64, &total)
}

pub fn tsne_rowsums_f32(dev: &CudaDevice, p: In, y: In, n: usize, rows: Out) -> Result<()> {
    check("tsne_rowsums_f32", "p", p.len(), n * n)?;
    check("tsne_rowsums_f32", "y", y.len(), 2 * n)?;
    check("tsne_rowsums_f32", "rows", rows.len(), 5 * n)?;
    let n64 = n as u64;
    launch!(dev, "tsne_rowsums_f32", warp_per_row(n), p.arg(), y.arg(), rows.arg(), &n64)
}

pub fn tsne_q_sum_f32(dev: &CudaDevice, rows: In, n: usize, z: Out) -> Result<()> {
    check("tsne_q_sum_f32", "rows", rows.len(), 5 * n)?;
    check("tsne_q_sum_f32", "z", z.len(), 1)?;
    let cfg = LaunchConfig { grid_dim: (1, 1, 1), block_dim: (1024, 1, 1), shared_mem_bytes: 0 };
    let n64 = n as u64;
    launch!(dev, "tsne_q_sum_f32", cfg, rows.arg(), z.arg(), &n64)
}

pub fn tsne_grad_f32(
    dev: &CudaDevice,
    rows: In,
    z: In,
    n: usize,
    exaggeration: f32,
    grad: Out,
) -> Result<()> {
    check("tsne_grad_f32", "rows", rows.len(), 5 * n)?;
    check("tsne_grad_f32", "z", z.len(), 1)?;
    check("tsne_grad_f32", "grad", grad.len(), 2 * n)?;
    let n64 = n as u64;
    launch!(dev, "tsne_grad_f32", dev.grid_1d(2 * n), rows.arg(), z.arg(), grad.arg(), &n64, &exaggeration)
}

pub fn tsne_update_f32(
    dev: &CudaDevice,
    grad: In,
    momentum: f32,
    learning_rate: f32,
    min_gain: f32,
    update: Out,
    gains: Out,
    y: Out,
) -> Result<()> {
    let m = grad.len();
    check("tsne_update_f32", "update", update.len(), m)?;
    check("tsne_update_f32", "gains", gains.len(), m)?;
    check("tsne_update_f32", "y", y.len(), m)?;
    let m64 = m as u64;
    launch!(
        dev,
        "tsne_update_f32",
        dev.grid_1d(m),
        grad.arg(),
        update.arg(),
        gains.arg(),
        y.arg(),
        &m64,
        &momentum,
        &learning_rate,
        &min_gain
    )
}

pub fn tsne_kl_rows_f32(dev: &CudaDevice, p: In, y: In, n: usize, z: In, kl: Out) -> Result<()> {
    check("tsne_kl_rows_f32", "p", p.len(), n * n)?;
    check("tsne_kl_rows_f32", "y", y.len(), 2 * n)?;
    check("tsne_kl_rows_f32", "z", z.len(), 1)?;
    check("tsne_kl_rows_f32", "kl", kl.len(), n)?;
    let n64 = n as u64;
    launch!(dev, "tsne_kl_rows_f32", warp_per_row(n), p.arg(), y.arg(), z.arg(), kl.arg(), &n64)
}

#[cfg(test)]
mod tests {
    use super::sqdist_cfg;

    #[test]
    fn distance_grids_past_cudas_limit_are_refused() {
        assert_eq!(sqdist_cfg(65535 * 16).unwrap().grid_dim, (65535, 65535, 1));
        assert!(sqdist_cfg(65535 * 16 + 1).unwrap_err().to_string().contains("65535"));
    }
}
