//! The CUDA backend of exact t-SNE: everything on the GPU from the input distances on, with the
//! N x N matrices dense in device memory (three of them at the peak while P is built, one during
//! the optimisation). The host only reads back n row sums once (for the normaliser of P), the
//! gradient at the 1-in-50 check iterations (for its norm) and the n per-row KL terms.

use super::{norm, Engine, TsneConfig};
use crate::device::cpu::tsne::MACHINE_EPSILON;
use crate::device::cuda::{elementwise, tsne as k, CudaBuf, CudaDevice};
use crate::Result;
use std::sync::Arc;

pub(crate) struct CudaEngine {
    dev: Arc<CudaDevice>,
    n: usize,
    p: CudaBuf,
    y: CudaBuf,
    grad: CudaBuf,
    update: CudaBuf,
    gains: CudaBuf,
    rows: CudaBuf,
    z: CudaBuf,
    kl_rows: CudaBuf,
}

impl CudaEngine {
    pub(crate) fn new(
        dev: Arc<CudaDevice>,
        x: &[f32],
        n: usize,
        d: usize,
        cfg: &TsneConfig,
        y0: &[f32],
    ) -> Result<CudaEngine> {
        let xd = dev.upload(x)?;
        let mut dist = dev.alloc(n * n)?;
        k::tsne_sqdist_f32(&dev, &xd.dev_view(), n, d, &mut dist.dev_view_mut())?;
        drop(xd);
        let mut pcond = dev.alloc(n * n)?;
        let mut rowsum = dev.alloc(n)?;
        k::tsne_perplexity_f32(
            &dev,
            &dist.dev_view(),
            n,
            cfg.perplexity as f32,
            &mut pcond.dev_view_mut(),
            &mut rowsum.dev_view_mut(),
        )?;
        drop(dist);
        // scikit-learn's sum_P: the sum of pcond + pcond^T, i.e. twice the sum of pcond.
        let total =
            (2.0 * dev.download(&rowsum)?.iter().map(|&v| v as f64).sum::<f64>()).max(MACHINE_EPSILON);
        let mut p = dev.alloc(n * n)?;
        k::tsne_joint_p_f32(&dev, &pcond.dev_view(), n, total, &mut p.dev_view_mut())?;
        drop(pcond);
        Ok(CudaEngine {
            n,
            p,
            y: dev.upload(y0)?,
            grad: dev.alloc(2 * n)?,
            update: dev.alloc(2 * n)?,
            gains: dev.alloc(2 * n)?,
            rows: dev.alloc(5 * n)?,
            z: dev.alloc(1)?,
            kl_rows: dev.alloc(n)?,
            dev,
        })
    }
}

impl Engine for CudaEngine {
    fn grad(&mut self, exaggeration: f64) -> Result<()> {
        let (dev, n) = (&self.dev, self.n);
        k::tsne_rowsums_f32(dev, &self.p.dev_view(), &self.y.dev_view(), n, &mut self.rows.dev_view_mut())?;
        k::tsne_q_sum_f32(dev, &self.rows.dev_view(), n, &mut self.z.dev_view_mut())?;
        k::tsne_grad_f32(
            dev,
            &self.rows.dev_view(),
            &self.z.dev_view(),
            n,
            exaggeration as f32,
            &mut self.grad.dev_view_mut(),
        )
    }

    fn grad_norm(&mut self) -> Result<f64> {
        Ok(norm(&self.dev.download(&self.grad)?))
    }

    fn kl(&mut self) -> Result<f64> {
        k::tsne_kl_rows_f32(
            &self.dev,
            &self.p.dev_view(),
            &self.y.dev_view(),
            self.n,
            &self.z.dev_view(),
            &mut self.kl_rows.dev_view_mut(),
        )?;
        let rows = self.dev.download(&self.kl_rows)?;
        Ok(rows.iter().map(|&v| v as f64).sum())
    }

    fn update(&mut self, momentum: f32, learning_rate: f32) -> Result<()> {
        k::tsne_update_f32(
            &self.dev,
            &self.grad.dev_view(),
            momentum,
            learning_rate,
            0.01,
            &mut self.update.dev_view_mut(),
            &mut self.gains.dev_view_mut(),
            &mut self.y.dev_view_mut(),
        )
    }

    fn reset(&mut self) -> Result<()> {
        elementwise::fill_f32(&self.dev, &mut self.update.dev_view_mut(), 0.0)?;
        elementwise::fill_f32(&self.dev, &mut self.gains.dev_view_mut(), 1.0)
    }

    fn embedding(&mut self) -> Result<Vec<f32>> {
        self.dev.download(&self.y)
    }
}
