//! The path integral of FAIG, and the plain loss along the path (for the completeness check).

use crate::nn::models::SrNet;
use crate::nn::{Params, Pass, Want};
use crate::ops;
use crate::tensor::Tensor;
use crate::Result;
use anyhow::ensure;

/// Where on the path the gradient is sampled (N steps).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum PathRule {
    /// As the reference implementation: alpha = 1, 1 - 1/N, ..., 1/N (from the target towards
    /// the baseline, a left Riemann sum; error O(1/N)).
    Reference,
    /// Midpoints alpha = (k + 1/2) / N (error O(1/N^2)).
    Midpoint,
}

impl PathRule {
    pub fn alphas(self, steps: usize) -> Vec<f32> {
        let n = steps as f64;
        (0..steps)
            .map(|k| match self {
                PathRule::Reference => (1.0 - k as f64 / n) as f32,
                PathRule::Midpoint => ((k as f64 + 0.5) / n) as f32,
            })
            .collect()
    }
}

/// FAIG's straight path in parameter space from the baseline network's flat parameters to the
/// target's, sampled at `steps` points placed by `rule`.
#[derive(Clone, Copy)]
pub struct ParamPath<'a> {
    pub base: &'a Tensor,
    pub target: &'a Tensor,
    pub steps: usize,
    pub rule: PathRule,
}

impl ParamPath<'_> {
    /// Points `p` at `base + alpha (target - base)`.
    pub fn set_point(&self, p: &mut Params, alpha: f32) -> Result<()> {
        ops::optim::lerp(&self.base.view(), &self.target.view(), alpha, &mut p.values.view_mut()?)
    }

    /// `target - base`, what the path gradients are multiplied by.
    pub fn delta(&self) -> Result<Vec<f32>> {
        Ok(self.target.to_vec()?.iter().zip(self.base.to_vec()?).map(|(t, b)| t - b).collect())
    }
}

/// The mean over the path of dL/dgamma for the sum-of-squared-errors loss of `net(x)` against
/// `y`, as a flat buffer like the parameters. `p.values` is left at the last path point.
pub fn integrated_gradients(
    net: &mut dyn SrNet,
    p: &mut Params,
    path: &ParamPath,
    x: &Tensor,
    y: &Tensor,
) -> Result<Tensor> {
    let steps = path.steps;
    ensure!(steps > 0, "FAIG needs at least one step");
    p.zero_grads()?;
    for alpha in path.rule.alphas(steps) {
        path.set_point(p, alpha)?;
        let out = net.forward(p, x, Pass::EVAL_GRAD)?;
        let (_, dy) = ops::loss::sse_sum(&out, y, 1.0)?;
        // Backward adds into p.grads: after the loop they hold the sum over the path.
        net.backward(p, &dy, Want::PARAMS)?;
    }
    ops::elementwise::scale(&p.grads, 1.0 / steps as f32)
}

/// The loss `sum (net(x) - y)^2` at the path point alpha.
pub fn loss_at(
    net: &mut dyn SrNet,
    p: &mut Params,
    path: &ParamPath,
    x: &Tensor,
    y: &Tensor,
    alpha: f32,
) -> Result<f64> {
    path.set_point(p, alpha)?;
    let out = net.forward(p, x, Pass::EVAL)?;
    Ok(ops::loss::sse_sum(&out, y, 1.0)?.0)
}
