//! Launchers for `kernels/linear.cu`, mirroring `device::cpu::linear`.
//!
//! The three products run on the block GEMM core in the device's
//! [`ConvMath`](super::ConvMath) mode; the weight gradient is split over the batch and its
//! slices summed in order, the bias gradient is a column sum in double: deterministic.

use super::gemm::{ensure_len, gemm_cfg, split_k, splitk_add, to_i32};
use super::CudaDevice;
use super::{DevView, DevViewMut};
use crate::Result;

/// Checks the input and weight lengths and that every buffer fits the kernels' i32 indices;
/// returns the dimensions as i32.
fn dims(n: usize, i: usize, o: usize, x: &DevView, w: &DevView) -> Result<(i32, i32, i32)> {
    let d = extents(n, i, o)?;
    ensure_len("linear input", x.len(), n * i)?;
    ensure_len("linear weight", w.len(), o * i)?;
    Ok(d)
}

/// The dimensions as i32, when every buffer they imply (x, y, dx, w, dw) fits the kernels' i32
/// indices.
fn extents(n: usize, i: usize, o: usize) -> Result<(i32, i32, i32)> {
    let big = |a: usize, b: usize| a.saturating_mul(b);
    to_i32("linear", big(n, i.max(o)))?;
    to_i32("linear", big(o, i))?;
    Ok((n as i32, i as i32, o as i32))
}

/// `y = x W^T + b` (overwritten). `x`: `[n, i]`, `w`: `[o, i]`, `y`: `[n, o]`.
pub fn linear_fwd_f32(
    d: &CudaDevice,
    n: usize,
    i: usize,
    o: usize,
    x: &DevView,
    w: &DevView,
    b: Option<&DevView>,
    y: &mut DevViewMut,
) -> Result<()> {
    let (ni, ii, oi) = dims(n, i, o, x, w)?;
    ensure_len("linear output", y.len(), n * o)?;
    if let Some(b) = b {
        ensure_len("linear bias", b.len(), o)?;
    }
    if n == 0 || o == 0 {
        return Ok(());
    }
    let bias: u64 = b.map_or(0, |b| *b.arg());
    let cfg = gemm_cfg("linear", n, o, i, 1)?;
    let name = d.conv_math().pick(["linear_fwd_f32", "linear_fwd_tf32", "linear_fwd_bf16"]);
    launch!(d, name, cfg, x.arg(), w.arg(), &bias, y.arg(), &ni, &ii, &oi)
}

/// `dx = dy W` (overwritten) when given; ADDS `dy^T x` into `dw` and the column sums of `dy` into
/// `db` when given.
pub fn linear_bwd_f32(
    d: &CudaDevice,
    n: usize,
    i: usize,
    o: usize,
    x: &DevView,
    w: &DevView,
    dy: &DevView,
    dx: Option<&mut DevViewMut>,
    dw: Option<&mut DevViewMut>,
    db: Option<&mut DevViewMut>,
) -> Result<()> {
    let (ni, ii, oi) = dims(n, i, o, x, w)?;
    ensure_len("linear backward dy", dy.len(), n * o)?;
    if let Some(dx) = dx {
        ensure_len("linear backward dx", dx.len(), n * i)?;
        if n > 0 && i > 0 {
            let cfg = gemm_cfg("linear backward", n, i, o, 1)?;
            let name = d.conv_math().pick([
                "linear_bwd_input_f32",
                "linear_bwd_input_tf32",
                "linear_bwd_input_bf16",
            ]);
            launch!(d, name, cfg, dy.arg(), w.arg(), dx.arg(), &ni, &ii, &oi)?;
        }
    }
    if let Some(dw) = dw {
        ensure_len("linear weight gradient", dw.len(), o * i)?;
        if n > 0 && o > 0 && i > 0 {
            let plan = split_k(o, i, n);
            to_i32("linear weight gradient slices", plan.splits * o * i)?;
            let mut part = d.alloc(plan.splits * o * i)?;
            let chunk = to_i32("linear weight gradient", plan.chunk)?;
            let cfg = gemm_cfg("linear weight gradient", o, i, plan.splits * plan.chunk, plan.splits)?;
            let name = d.conv_math().pick([
                "linear_bwd_weight_f32",
                "linear_bwd_weight_tf32",
                "linear_bwd_weight_bf16",
            ]);
            let part_out = part.dev_view_mut();
            launch!(d, name, cfg, x.arg(), dy.arg(), part_out.arg(), &chunk, &ni, &ii, &oi)?;
            splitk_add(d, &part.dev_view(), plan.splits, dw)?;
        }
    }
    if let Some(db) = db {
        ensure_len("linear bias gradient", db.len(), o)?;
        if o > 0 {
            launch!(d, "linear_bwd_bias_f32", d.grid_1d(o), dy.arg(), db.arg(), &ni, &oi)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::extents;

    #[test]
    fn layers_past_the_kernels_32_bit_indices_are_refused() {
        assert_eq!(extents(16, 8192, 100).unwrap(), (16, 8192, 100));
        for (n, i, o) in
            [(1 << 16, 1 << 15, 1), (1 << 16, 1, 1 << 15), (1, 1 << 16, 1 << 15), (usize::MAX, 2, 2)]
        {
            let e = extents(n, i, o).unwrap_err().to_string();
            assert!(e.contains("2^31 - 1"), "{n} {i} {o}: {e}");
        }
    }
}
