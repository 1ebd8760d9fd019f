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

/// Points `p` at `base + alpha (target - base)`.
pub fn set_path_point(p: &mut Params, base: &Tensor, target: &Tensor, alpha: f32) -> Result<()> {
    ops::optim::lerp(&base.view(), &target.view(), alpha, &mut p.values.view_mut()?)
}

/// The mean over the path of dL/dgamma for the sum-of-squared-errors loss of `net(x)` against
/// `y`, as a flat buffer like the parameters. `p.values` is left at the last path point.
pub fn integrated_gradients(
    net: &mut dyn SrNet,
    p: &mut Params,
    base: &Tensor,
    target: &Tensor,
    x: &Tensor,
    y: &Tensor,
    steps: usize,
    rule: PathRule,
) -> Result<Tensor> {
    ensure!(steps > 0, "FAIG needs at least one step");
    p.zero_grads()?;
    for alpha in rule.alphas(steps) {
        set_path_point(p, base, target, alpha)?;
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
    base: &Tensor,
    target: &Tensor,
    x: &Tensor,
    y: &Tensor,
    alpha: f32,
) -> Result<f64> {
    set_path_point(p, base, target, alpha)?;
    let out = net.forward(p, x, Pass::EVAL)?;
    Ok(ops::loss::sse_sum(&out, y, 1.0)?.0)
}
