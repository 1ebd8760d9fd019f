//! Launchers for `kernels/conv2d.cu`, mirroring `device::cpu::conv2d`.
//!
//! Each pass is one implicit-GEMM kernel in the device's [`ConvMath`](super::ConvMath) mode
//! (`<name>_f32`, `_tf32` or `_bf16`); the weight gradient adds a split-K slice reduction and,
//! for the bias, a per-channel reduction. Temporary buffers come from the device pool.

use super::gemm::{ensure_len, gemm_cfg, split_k, splitk_add, to_i32};
use super::CudaDevice;
use super::{DevView, DevViewMut};
use crate::device::Conv2dGeom;
use crate::Result;
use cudarc::driver::LaunchConfig;

/// The geometry as the kernels take it: one argument by value, laid out as `ConvParams` in
/// conv2d.cu (eight 32-bit ints).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct ConvArgs {
    n: i32,
    c_in: i32,
    h: i32,
    w: i32,
    c_out: i32,
    k: i32,
    stride: i32,
    pad: i32,
}

// SAFETY: a #[repr(C)] struct of i32 fields, the exact layout of conv2d.cu's ConvParams.
unsafe impl cudarc::driver::DeviceRepr for ConvArgs {}

/// Validates the geometry, the square kernel and the 32-bit index range of every buffer and GEMM
/// extent the kernels touch.
fn conv_args(what: &str, g: &Conv2dGeom) -> Result<ConvArgs> {
    g.validate()?;
    anyhow::ensure!(g.kh == g.kw, "{what}: the CUDA kernels take square kernels, not {}x{}", g.kh, g.kw);
    to_i32(what, g.n * g.in_len())?;
    to_i32(what, g.n * g.out_len())?;
    to_i32(what, g.weight_len())?;
    // The largest index intermediate: (n*c + c) * plane of either activation, covered above; the
    // GEMM extents: n*ho*wo, n*h*w, c*k*k, c_out*k*k are all at most a buffer length.
    Ok(ConvArgs {
        n: g.n as i32,
        c_in: g.c_in as i32,
        h: g.h as i32,
        w: g.w as i32,
        c_out: g.c_out as i32,
        k: g.kh as i32,
        stride: to_i32(what, g.stride)?,
        pad: to_i32(what, g.pad)?,
    })
}

/// `y = conv2d(x, w) + b` (overwritten). GEMM M = c_out, N = n*ho*wo, K = c_in*k*k.
pub fn conv2d_fwd_f32(
    dev: &CudaDevice,
    g: &Conv2dGeom,
    x: &DevView,
    w: &DevView,
    b: Option<&DevView>,
    y: &mut DevViewMut,
) -> Result<()> {
    let a = conv_args("conv2d", g)?;
    ensure_len("conv2d input", x.len(), g.n * g.in_len())?;
    ensure_len("conv2d weight", w.len(), g.weight_len())?;
    ensure_len("conv2d output", y.len(), g.n * g.out_len())?;
    if let Some(b) = b {
        ensure_len("conv2d bias", b.len(), g.c_out)?;
    }
    let bias: u64 = b.map_or(0, |b| *b.arg());
    let cfg = gemm_cfg("conv2d", g.c_out, g.n * g.ho() * g.wo(), g.ckk(), 1)?;
    let name = dev.conv_math().pick(["conv2d_fwd_f32", "conv2d_fwd_tf32", "conv2d_fwd_bf16"]);
    launch!(dev, name, cfg, x.arg(), w.arg(), &bias, y.arg(), &a)
}

/// `dx = d(sum(dy * conv2d(x, w))) / dx` (overwritten), any stride, as a gather GEMM:
/// M = c_in, N = n*h*w, K = c_out*k*k.
pub fn conv2d_bwd_input_f32(
    dev: &CudaDevice,
    g: &Conv2dGeom,
    dy: &DevView,
    w: &DevView,
    dx: &mut DevViewMut,
) -> Result<()> {
    let a = conv_args("conv2d backward", g)?;
    ensure_len("conv2d backward dy", dy.len(), g.n * g.out_len())?;
    ensure_len("conv2d weight", w.len(), g.weight_len())?;
    ensure_len("conv2d backward dx", dx.len(), g.n * g.in_len())?;
    let cfg = gemm_cfg("conv2d backward", g.c_in, g.n * g.h * g.w, g.c_out * g.kh * g.kw, 1)?;
    let name =
        dev.conv_math().pick(["conv2d_bwd_input_f32", "conv2d_bwd_input_tf32", "conv2d_bwd_input_bf16"]);
    launch!(dev, name, cfg, dy.arg(), w.arg(), dx.arg(), &a)
}

/// Adds the weight and bias gradients into `dw` and `db`.
///
/// The weight gradient is a GEMM with M = c_out, N = c_in*k*k, K = n*ho*wo; K is cut into slices
/// by a plan that depends on the shape only ([`split_k`]), each slice written to its own part of
/// a pooled buffer, and the slices summed in order into `dw`: deterministic, no atomics. The bias
/// gradient is summed in double the same way: slices of each channel ([`bias_slices`]), each a
/// block, then the slices in order.
pub fn conv2d_bwd_weight_f32(
    dev: &CudaDevice,
    g: &Conv2dGeom,
    x: &DevView,
    dy: &DevView,
    dw: &mut DevViewMut,
    db: Option<&mut DevViewMut>,
) -> Result<()> {
    let a = conv_args("conv2d backward", g)?;
    ensure_len("conv2d input", x.len(), g.n * g.in_len())?;
    ensure_len("conv2d backward dy", dy.len(), g.n * g.out_len())?;
    ensure_len("conv2d weight gradient", dw.len(), g.weight_len())?;
    let (m, n, k) = (g.c_out, g.ckk(), g.n * g.ho() * g.wo());
    let plan = split_k(m, n, k);
    to_i32("conv2d weight gradient slices", plan.splits * m * n)?;
    let mut part = dev.alloc(plan.splits * m * n)?;
    let chunk = to_i32("conv2d weight gradient", plan.chunk)?;
    let cfg = gemm_cfg("conv2d weight gradient", m, n, plan.splits * plan.chunk, plan.splits)?;
    let name =
        dev.conv_math().pick(["conv2d_bwd_weight_f32", "conv2d_bwd_weight_tf32", "conv2d_bwd_weight_bf16"]);
    let part_out = part.dev_view_mut();
    launch!(dev, name, cfg, x.arg(), dy.arg(), part_out.arg(), &chunk, &a)?;
    splitk_add(dev, &part.dev_view(), plan.splits, dw)?;
    if let Some(db) = db {
        ensure_len("conv2d bias gradient", db.len(), g.c_out)?;
        let plane = to_i32("conv2d", g.ho() * g.wo())?;
        let (slices, chunk) = bias_slices(g.c_out, g.n * g.ho() * g.wo());
        // Doubles live in the f32 pool as pairs of floats; pool buffers are 256-byte aligned.
        let mut part = dev.alloc(2 * g.c_out * slices)?;
        let cfg = LaunchConfig {
            grid_dim: (g.c_out as u32, slices as u32, 1),
            block_dim: (256, 1, 1),
            shared_mem_bytes: 0,
        };
        let (slices, chunk) = (slices as i32, to_i32("conv2d bias gradient", chunk)?);
        let part_out = part.dev_view_mut();
        launch!(dev, "conv2d_bwd_bias_f32", cfg, dy.arg(), part_out.arg(), &a.n, &a.c_out, &plane, &chunk)?;
        let part_in = part.dev_view();
        launch!(
            dev,
            "conv2d_bwd_bias_sum_f32",
            dev.grid_1d(g.c_out),
            part_in.arg(),
            &slices,
            &a.c_out,
            db.arg()
        )?;
    }
    Ok(())
}

/// Blocks a bias gradient aims for (a few waves on a 132-SM H100), and the most slices per
/// channel.
const BIAS_TARGET_BLOCKS: usize = 512;
const BIAS_MAX_SLICES: usize = 64;

/// How each channel's `len` values (batch x pixels) are cut for the bias gradient: `slices`
/// slices of `chunk` values (a multiple of the 256 threads), the last one shorter. A function of
/// the shape only, so the same problem is always summed in the same order.
fn bias_slices(c_out: usize, len: usize) -> (usize, usize) {
    let wanted = BIAS_TARGET_BLOCKS.div_ceil(c_out.max(1)).min(len.div_ceil(4096)).clamp(1, BIAS_MAX_SLICES);
    let chunk = len.div_ceil(wanted).div_ceil(256).max(1) * 256;
    (len.div_ceil(chunk).max(1), chunk)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geom(n: usize, c: usize, hw: usize, c_out: usize, k: usize) -> Conv2dGeom {
        Conv2dGeom { n, c_in: c, h: hw, w: hw, c_out, kh: k, kw: k, stride: 1, pad: k / 2 }
    }

    #[test]
    fn bias_gradients_are_cut_into_slices_that_cover_each_channel() {
        for (c, len) in [(3, 16 * 128 * 128), (64, 16 * 32 * 32), (256, 1), (1, 4095), (3, 4097), (64, 675)] {
            let (slices, chunk) = bias_slices(c, len);
            assert!(chunk.is_multiple_of(256) && (1..=BIAS_MAX_SLICES).contains(&slices), "{c} {len}");
            assert!(
                slices * chunk >= len && (slices - 1) * chunk < len.max(1),
                "{c} {len}: {slices} x {chunk}"
            );
        }
        // The last conv of a network (3 channels, batch 16 at 128 x 128) fills many blocks.
        assert_eq!(bias_slices(3, 16 * 128 * 128).0, 64);
        assert_eq!(bias_slices(64, 300).0, 1);
    }

    #[test]
    fn geometries_past_the_kernels_32_bit_indices_are_refused_before_any_launch() {
        assert!(conv_args("t", &geom(16, 64, 128, 64, 3)).is_ok());
        // Input, output and weight each just past 2^31 elements (checked from the numbers alone:
        // nothing is allocated).
        for g in
            [geom(1, 1 << 13, 1 << 9, 1, 1), geom(1, 1, 1 << 9, 1 << 13, 1), geom(1, 1 << 16, 1, 1 << 12, 3)]
        {
            let e = conv_args("t", &g).unwrap_err().to_string();
            assert!(e.contains("2^31 - 1"), "{g:?}: {e}");
        }
        let rect = Conv2dGeom { kw: 1, ..geom(1, 1, 8, 1, 3) };
        assert!(conv_args("t", &rect).unwrap_err().to_string().contains("square"));
    }
}
