//! Launchers for `kernels/lstm.cu`, mirroring `device::cpu::lstm`: one thread per (row, unit),
//! grid-stride over batch * hidden.

use super::gemm::ensure_len;
use super::CudaDevice;
use super::{DevView, DevViewMut};
use crate::Result;

/// Checks that each gate buffer holds `4 * batch * hidden` values and each state buffer
/// `batch * hidden`; returns (hidden, batch * hidden) as kernel arguments.
fn check(
    what: &str,
    batch: usize,
    hidden: usize,
    gate_bufs: &[usize],
    state_bufs: &[usize],
) -> Result<(u64, u64)> {
    let n = batch * hidden;
    for &l in gate_bufs {
        ensure_len(what, l, 4 * n)?;
    }
    for &l in state_bufs {
        ensure_len(what, l, n)?;
    }
    Ok((hidden as u64, n as u64))
}

/// One LSTM step: `c = f c_prev + i g`, `h = o tanh(c)`.
pub fn lstm_cell_fwd_f32(
    d: &CudaDevice,
    batch: usize,
    hidden: usize,
    gates: &DevView,
    c_prev: &DevView,
    h: &mut DevViewMut,
    c: &mut DevViewMut,
) -> Result<()> {
    let (hid, n) =
        check("lstm_cell_fwd_f32", batch, hidden, &[gates.len()], &[c_prev.len(), h.len(), c.len()])?;
    launch!(
        d,
        "lstm_cell_fwd_f32",
        d.grid_1d(n as usize),
        gates.arg(),
        c_prev.arg(),
        h.arg(),
        c.arg(),
        &hid,
        &n
    )
}

/// The gradients `dgates` and `dc_prev` of [`lstm_cell_fwd_f32`]'s inputs from `dh` and `dc`
/// (`None`: zero, passed to the kernel as a null pointer).
pub fn lstm_cell_bwd_f32(
    d: &CudaDevice,
    batch: usize,
    hidden: usize,
    gates: &DevView,
    c_prev: &DevView,
    c: &DevView,
    dh: &DevView,
    dc: Option<&DevView>,
    dgates: &mut DevViewMut,
    dc_prev: &mut DevViewMut,
) -> Result<()> {
    let what = "lstm_cell_bwd_f32";
    let mut states = vec![c_prev.len(), c.len(), dh.len(), dc_prev.len()];
    states.extend(dc.map(|v| v.len()));
    let (hid, n) = check(what, batch, hidden, &[gates.len(), dgates.len()], &states)?;
    const NULL: u64 = 0;
    let dc = dc.map_or(&NULL, |v| v.arg());
    let cfg = d.grid_1d(n as usize);
    launch!(
        d,
        what,
        cfg,
        gates.arg(),
        c_prev.arg(),
        c.arg(),
        dh.arg(),
        dc,
        dgates.arg(),
        dc_prev.arg(),
        &hid,
        &n
    )
}
