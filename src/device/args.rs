//! Argument types that the CPU and CUDA entry points of an op both take, so that neither backend
//! imports them from the other.

/// Shapes of one convolution: input `[n, c_in, h, w]`, weight `[c_out, c_in, kh, kw]`, the same
/// stride and zero padding along both axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dGeom {
    pub n: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub pad: usize,
}

impl Conv2dGeom {
    pub fn ho(&self) -> usize {
        (self.h + 2 * self.pad - self.kh) / self.stride + 1
    }
    pub fn wo(&self) -> usize {
        (self.w + 2 * self.pad - self.kw) / self.stride + 1
    }
    /// Elements of one input image, one output image, the weight.
    pub fn in_len(&self) -> usize {
        self.c_in * self.h * self.w
    }
    pub fn out_len(&self) -> usize {
        self.c_out * self.ho() * self.wo()
    }
    pub fn weight_len(&self) -> usize {
        self.c_out * self.c_in * self.kh * self.kw
    }
    /// Rows of the im2col matrix: `c_in * kh * kw`.
    pub fn ckk(&self) -> usize {
        self.c_in * self.kh * self.kw
    }
    /// Checks that the kernel fits the padded input and nothing is zero.
    pub fn validate(&self) -> crate::Result<()> {
        let g = self;
        anyhow::ensure!(
            g.n > 0 && g.c_in > 0 && g.c_out > 0 && g.kh > 0 && g.kw > 0 && g.stride > 0,
            "conv2d: zero-sized dimension in {g:?}"
        );
        anyhow::ensure!(
            g.h + 2 * g.pad >= g.kh && g.w + 2 * g.pad >= g.kw,
            "conv2d: a {}x{} kernel does not fit a {}x{} input padded by {}",
            g.kh,
            g.kw,
            g.h,
            g.w,
            g.pad
        );
        Ok(())
    }
}

/// Hyper-parameters of one Adam step (PyTorch's `torch.optim.Adam`, L2 weight decay added to the
/// gradient). `step` counts from 1.
#[derive(Clone, Copy, Debug)]
pub struct AdamStep {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    pub step: u64,
}
