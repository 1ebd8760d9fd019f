//! conv2d on tensors: NCHW input, OIHW weight and optional bias given as slices of a parameter
//! buffer, square kernels, the same stride and zero padding on both axes.

use super::device_mismatch;
use crate::device::cpu::conv2d as cpu;
use crate::device::cuda::conv2d as cuda;
use crate::device::Conv2dGeom;
use crate::tensor::{Slice, SliceMut, Tensor};
use crate::Result;
use anyhow::{bail, ensure};

/// A convolution's hyper-parameters; the weight is `[c_out, c_in, k, k]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dSpec {
    pub c_in: usize,
    pub c_out: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
}

impl Conv2dSpec {
    pub fn weight_shape(&self) -> [usize; 4] {
        [self.c_out, self.c_in, self.k, self.k]
    }

    /// The full geometry for input `x`, checked.
    pub fn geom(&self, x: &Tensor) -> Result<Conv2dGeom> {
        let (n, c, h, w) = x.dims4()?;
        ensure!(c == self.c_in, "conv2d: input has {c} channels, the layer expects {}", self.c_in);
        let g = Conv2dGeom {
            n,
            c_in: c,
            h,
            w,
            c_out: self.c_out,
            kh: self.k,
            kw: self.k,
            stride: self.stride,
            pad: self.pad,
        };
        g.validate()?;
        Ok(g)
    }
}

fn check_params(g: &Conv2dGeom, w: &Slice, b: Option<&Slice>) -> Result<()> {
    ensure!(w.len() == g.weight_len(), "conv2d: weight has {} values, expected {}", w.len(), g.weight_len());
    if let Some(b) = b {
        ensure!(b.len() == g.c_out, "conv2d: bias has {} values, expected {}", b.len(), g.c_out);
    }
    Ok(())
}

/// `conv2d(x, w) + b`.
pub fn conv2d_fwd(x: &Tensor, spec: &Conv2dSpec, w: &Slice, b: Option<&Slice>) -> Result<Tensor> {
    let g = spec.geom(x)?;
    check_params(&g, w, b)?;
    let mut y = Tensor::uninit(&[g.n, g.c_out, g.ho(), g.wo()], &x.device())?;
    match (x.view(), w, b, y.view_mut()?) {
        (Slice::Cpu(x), Slice::Cpu(w), None, SliceMut::Cpu(y)) => cpu::conv2d_fwd_f32(&g, x, w, None, y),
        (Slice::Cpu(x), Slice::Cpu(w), Some(Slice::Cpu(b)), SliceMut::Cpu(y)) => {
            cpu::conv2d_fwd_f32(&g, x, w, Some(b), y)
        }
        (Slice::Cuda(x, d), Slice::Cuda(w, _), b, SliceMut::Cuda(mut y, _)) => {
            let b = match b {
                None => None,
                Some(Slice::Cuda(b, _)) => Some(b),
                Some(_) => bail!(device_mismatch("conv2d")),
            };
            cuda::conv2d_fwd_f32(d, &g, &x, w, b, &mut y)?
        }
        _ => bail!(device_mismatch("conv2d")),
    }
    Ok(y)
}

/// Gradients of `sum(dy * conv2d(x, w) + b)`: returns dx if `need_dx`, and ADDS the weight and
/// bias gradients into `dw` and `db` when given (frozen layers pass `None`).
pub fn conv2d_bwd(
    x: &Tensor,
    spec: &Conv2dSpec,
    w: &Slice,
    dy: &Tensor,
    need_dx: bool,
    dw: Option<&mut SliceMut>,
    db: Option<&mut SliceMut>,
) -> Result<Option<Tensor>> {
    let g = spec.geom(x)?;
    check_params(&g, w, None)?;
    ensure!(dy.shape() == [g.n, g.c_out, g.ho(), g.wo()], "conv2d backward: dy has shape {:?}", dy.shape());
    let dx = if need_dx {
        let mut dx = Tensor::uninit(x.shape(), &x.device())?;
        match (dy.view(), w, dx.view_mut()?) {
            (Slice::Cpu(dy), Slice::Cpu(w), SliceMut::Cpu(dx)) => cpu::conv2d_bwd_input_f32(&g, dy, w, dx),
            (Slice::Cuda(dy, d), Slice::Cuda(w, _), SliceMut::Cuda(mut dx, _)) => {
                cuda::conv2d_bwd_input_f32(d, &g, &dy, w, &mut dx)?
            }
            _ => bail!(device_mismatch("conv2d backward")),
        }
        Some(dx)
    } else {
        None
    };
    if let Some(dw) = dw {
        ensure!(dw.len() == g.weight_len(), "conv2d backward: weight gradient has {} values", dw.len());
        match (x.view(), dy.view(), dw, db) {
            (Slice::Cpu(x), Slice::Cpu(dy), SliceMut::Cpu(dw), db) => {
                let db = match db {
                    None => None,
                    Some(SliceMut::Cpu(b)) => Some(&mut **b),
                    Some(_) => bail!(device_mismatch("conv2d backward")),
                };
                cpu::conv2d_bwd_weight_f32(&g, x, dy, dw, db)
            }
            (Slice::Cuda(x, d), Slice::Cuda(dy, _), SliceMut::Cuda(dw, _), db) => {
                let db = match db {
                    None => None,
                    Some(SliceMut::Cuda(b, _)) => Some(b),
                    Some(_) => bail!(device_mismatch("conv2d backward")),
                };
                cuda::conv2d_bwd_weight_f32(d, &g, &x, &dy, dw, db)?
            }
            _ => bail!(device_mismatch("conv2d backward")),
        }
    }
    Ok(dx)
}
