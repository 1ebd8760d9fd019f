//! CPU reference for `kernels/lstm.cu`: the pointwise part of one LSTM step, what PyTorch's
//! LSTMCell does after its two matrix products. Same names, same arguments, bit-identical results.
//!
//! `gates` is `[batch, 4 * hidden]`, each row the pre-activations of the input, forget, cell and
//! output gates as four blocks of `hidden` (PyTorch's order i | f | g | o); the states are
//! `[batch, hidden]`. With i = sigmoid, f = sigmoid, g = tanh, o = sigmoid of their blocks:
//!
//! ```text
//! c = f c_prev + i g                h = o tanh(c)
//! ```
//!
//! The activations are [`sigmoid_f32`] and [`tanh_f32`] (f64 on the engine's own `exp`, rounded
//! once: the same bits on every CPU and in the kernel), then f32 arithmetic in a fixed order
//! without fused multiply-adds. Rows are split between threads in blocks whose size depends on
//! `hidden` only; every element is computed on its own, so the thread count changes nothing.

use super::fastmath::{sigmoid_f32, tanh_f32};
use super::ELEMENTWISE_CHUNK as CHUNK;
use rayon::prelude::*;

/// The activated gates (i, f, g, o) of element `e = row * hidden + unit`.
#[inline]
fn activations(gates: &[f32], e: usize, hidden: usize) -> [f32; 4] {
    let x = &gates[(e / hidden) * 4 * hidden + e % hidden..];
    [sigmoid_f32(x[0]), sigmoid_f32(x[hidden]), tanh_f32(x[2 * hidden]), sigmoid_f32(x[3 * hidden])]
}

/// Calls `body(first_row, a, b)` on blocks of whole rows of two outputs (`wa` and `wb` floats per
/// row), in parallel once there is more than one block.
fn row_blocks(
    wa: usize,
    a: &mut [f32],
    wb: usize,
    b: &mut [f32],
    body: impl Fn(usize, &mut [f32], &mut [f32]) + Sync,
) {
    debug_assert!(wa > 0 && wb > 0 && a.len() / wa == b.len() / wb);
    let rows = (CHUNK / wa.max(wb)).max(1);
    if a.len() <= rows * wa {
        body(0, a, b);
    } else {
        a.par_chunks_mut(rows * wa)
            .zip(b.par_chunks_mut(rows * wb))
            .enumerate()
            .for_each(|(k, (a, b))| body(k * rows, a, b));
    }
}

/// One LSTM step: `c = f c_prev + i g`, `h = o tanh(c)`, from the gate pre-activations `gates`
/// ([batch, 4 hidden]) and `c_prev` ([batch, hidden]).
pub fn lstm_cell_fwd_f32(
    batch: usize,
    hidden: usize,
    gates: &[f32],
    c_prev: &[f32],
    h: &mut [f32],
    c: &mut [f32],
) {
    let n = batch * hidden;
    debug_assert!(gates.len() == 4 * n && c_prev.len() == n && h.len() == n && c.len() == n);
    row_blocks(hidden, h, hidden, c, |row, h, c| {
        let first = row * hidden;
        for k in 0..h.len() {
            let e = first + k;
            let [i, f, g, o] = activations(gates, e, hidden);
            let ce = f * c_prev[e] + i * g;
            c[k] = ce;
            h[k] = o * tanh_f32(ce);
        }
    });
}

/// The gradients of [`lstm_cell_fwd_f32`]'s inputs, `dgates` ([batch, 4 hidden]) and `dc_prev`,
/// from `dh` and `dc` (the gradients of its outputs h and c; `None`: zero), with the activations
/// recomputed from `gates` and tanh(c) from the forward's `c`:
///
/// ```text
/// dct = dc + dh o (1 - tanh(c)^2)    dc_prev = dct f
/// di = dct g i (1 - i)    df = dct c_prev f (1 - f)    dg = dct i (1 - g^2)    do = dh tanh(c) o (1 - o)
/// ```
pub fn lstm_cell_bwd_f32(
    batch: usize,
    hidden: usize,
    gates: &[f32],
    c_prev: &[f32],
    c: &[f32],
    dh: &[f32],
    dc: Option<&[f32]>,
    dgates: &mut [f32],
    dc_prev: &mut [f32],
) {
    let n = batch * hidden;
    debug_assert!(gates.len() == 4 * n && dgates.len() == 4 * n);
    debug_assert!(c_prev.len() == n && c.len() == n && dh.len() == n && dc_prev.len() == n);
    debug_assert!(dc.is_none_or(|dc| dc.len() == n));
    row_blocks(4 * hidden, dgates, hidden, dc_prev, |row, dgates, dc_prev| {
        let first = row * hidden;
        for k in 0..dc_prev.len() {
            let e = first + k;
            let [i, f, g, o] = activations(gates, e, hidden);
            let tc = tanh_f32(c[e]);
            let mut dct = (dh[e] * o) * (1.0 - tc * tc);
            if let Some(dc) = dc {
                dct += dc[e];
            }
            let dx = &mut dgates[(k / hidden) * 4 * hidden + k % hidden..];
            dx[0] = (dct * g) * (i * (1.0 - i));
            dx[hidden] = (dct * c_prev[e]) * (f * (1.0 - f));
            dx[2 * hidden] = (dct * i) * (1.0 - g * g);
            dx[3 * hidden] = (dh[e] * tc) * (o * (1.0 - o));
            dc_prev[k] = dct * f;
        }
    });
}
