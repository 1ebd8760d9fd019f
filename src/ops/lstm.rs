//! The pointwise part of one LSTM step on tensors (what PyTorch's LSTMCell does after its two
//! matrix products), forward and backward; the CPU reference is `device::cpu::lstm`.
//!
//! `gates` is `[batch, 4 * hidden]`: each row the pre-activations of the input, forget, cell and
//! output gates as four blocks of `hidden`, PyTorch's order i | f | g | o (so the gates are
//! `x W_ih^T + b_ih + h W_hh^T + b_hh` of `ops::linear`). States are `[batch, hidden]`.

use super::device_mismatch;
use crate::device::{cpu::lstm as cpu, cuda::lstm as cuda};
use crate::tensor::{Slice, SliceMut, Tensor};
use crate::Result;
use anyhow::{bail, ensure};

/// Checks `gates` ([batch, 4 hidden]) and that every state tensor is [batch, hidden]; returns
/// (batch, hidden).
fn dims(op: &str, gates: &Tensor, states: &[(&str, &Tensor)]) -> Result<(usize, usize)> {
    let &[batch, cols] = gates.shape() else {
        bail!("{op}: gates has shape {:?}; it must be [batch, 4 * hidden]", gates.shape())
    };
    ensure!(
        cols > 0 && cols % 4 == 0,
        "{op}: gates has {cols} columns; it must be [batch, 4 * hidden] (the i, f, g, o blocks) with hidden > 0"
    );
    ensure!(batch > 0, "{op}: gates has shape {:?}: an empty batch", gates.shape());
    let hidden = cols / 4;
    for (name, t) in states {
        ensure!(
            t.shape() == [batch, hidden],
            "{op}: {name} has shape {:?} but gates {:?} need [{batch}, {hidden}] (batch, hidden)",
            t.shape(),
            gates.shape()
        );
    }
    Ok((batch, hidden))
}

/// One LSTM step: with i, f, o the sigmoids and g the tanh of their blocks of `gates`,
/// `c = f c_prev + i g` and `h = o tanh(c)`. Returns (h, c), both [batch, hidden].
pub fn lstm_cell_fwd(gates: &Tensor, c_prev: &Tensor) -> Result<(Tensor, Tensor)> {
    const OP: &str = "lstm_cell_fwd";
    let (batch, hidden) = dims(OP, gates, &[("c_prev", c_prev)])?;
    let dev = gates.device();
    let (mut h, mut c) = (Tensor::uninit(&[batch, hidden], &dev)?, Tensor::uninit(&[batch, hidden], &dev)?);
    match (gates.view(), c_prev.view(), h.view_mut()?, c.view_mut()?) {
        (Slice::Cpu(g), Slice::Cpu(cp), SliceMut::Cpu(h), SliceMut::Cpu(c)) => {
            cpu::lstm_cell_fwd_f32(batch, hidden, g, cp, h, c)
        }
        (Slice::Cuda(g, d), Slice::Cuda(cp, _), SliceMut::Cuda(mut h, _), SliceMut::Cuda(mut c, _)) => {
            cuda::lstm_cell_fwd_f32(d, batch, hidden, &g, &cp, &mut h, &mut c)?
        }
        _ => bail!(device_mismatch(OP)),
    }
    Ok((h, c))
}

/// The backward of [`lstm_cell_fwd`]: from its inputs `gates` and `c_prev`, its output `c`, and
/// the gradients `dh` and `dc` of its outputs (`None`: c feeds nothing but h), returns
/// (dgates [batch, 4 hidden], dc_prev [batch, hidden]).
pub fn lstm_cell_bwd(
    gates: &Tensor,
    c_prev: &Tensor,
    c: &Tensor,
    dh: &Tensor,
    dc: Option<&Tensor>,
) -> Result<(Tensor, Tensor)> {
    const OP: &str = "lstm_cell_bwd";
    let mut states = vec![("c_prev", c_prev), ("c", c), ("dh", dh)];
    states.extend(dc.map(|t| ("dc", t)));
    let (batch, hidden) = dims(OP, gates, &states)?;
    let dev = gates.device();
    let mut dgates = Tensor::uninit(gates.shape(), &dev)?;
    let mut dc_prev = Tensor::uninit(&[batch, hidden], &dev)?;
    let dc = dc.map(Tensor::view);
    match (gates.view(), c_prev.view(), c.view(), dh.view(), dgates.view_mut()?, dc_prev.view_mut()?) {
        (
            Slice::Cpu(g),
            Slice::Cpu(cp),
            Slice::Cpu(c),
            Slice::Cpu(dh),
            SliceMut::Cpu(dg),
            SliceMut::Cpu(dcp),
        ) => {
            let dc = match dc {
                None => None,
                Some(Slice::Cpu(v)) => Some(v),
                Some(Slice::Cuda(..)) => bail!(device_mismatch(OP)),
            };
            cpu::lstm_cell_bwd_f32(batch, hidden, g, cp, c, dh, dc, dg, dcp)
        }
        (
            Slice::Cuda(g, d),
            Slice::Cuda(cp, _),
            Slice::Cuda(c, _),
            Slice::Cuda(dh, _),
            SliceMut::Cuda(mut dg, _),
            SliceMut::Cuda(mut dcp, _),
        ) => {
            let dc = match dc {
                None => None,
                Some(Slice::Cuda(v, _)) => Some(v),
                Some(Slice::Cpu(_)) => bail!(device_mismatch(OP)),
            };
            cuda::lstm_cell_bwd_f32(d, batch, hidden, &g, &cp, &c, &dh, dc.as_ref(), &mut dg, &mut dcp)?
        }
        _ => bail!(device_mismatch(OP)),
    }
    Ok((dgates, dc_prev))
}
