//! Finite-difference gradient checks.
//!
//! For an op `y = f(x)` and a fixed random `r`, the scalar `L(x) = sum(f(x) * r)` (accumulated in
//! f64) has dL/dx = backward(dy = r). Each checked element of x is perturbed by +-h and the
//! central difference compared with the analytic value:
//!
//!     |numeric - analytic| <= ATOL + RTOL * |analytic|
//!
//! with h = 1e-2, ATOL = 2e-3, RTOL = 1e-2. Why these fit f32: the op runs in f32, so L carries a
//! rounding error of about sqrt(#outputs) * 6e-8 * |y|, i.e. ~1e-5 for the sizes used here;
//! divided by 2h that is ~5e-4, below ATOL. The truncation error of a central difference is
//! h^2 / 6 * f''' ~ 2e-5 for smooth ops (zero for piecewise-linear ones away from their kinks).
//! An indexing mistake gives errors of order |analytic|, far outside both.
#![allow(dead_code)]

use ddr_engine::Rng;

pub const H: f32 = 1e-2;
pub const ATOL: f64 = 2e-3;
pub const RTOL: f64 = 1e-2;

/// sum(y * r) in f64.
pub fn dot(y: &[f32], r: &[f32]) -> f64 {
    assert_eq!(y.len(), r.len());
    y.iter().zip(r).map(|(&a, &b)| a as f64 * b as f64).sum()
}

/// Checks `analytic` = dL/dx for `loss(x)`; at most `max_checks` elements (a seeded sample) of
/// large inputs are perturbed.
pub fn check(what: &str, x: &[f32], analytic: &[f32], max_checks: usize, loss: impl Fn(&[f32]) -> f64) {
    check_with_step(what, H, x, analytic, max_checks, loss)
}

/// [`check`] with another step `h`: deep piecewise-linear networks need a smaller one, so that
/// no ReLU or max-pool switches inside +-h.
pub fn check_with_step(
    what: &str,
    h: f32,
    x: &[f32],
    analytic: &[f32],
    max_checks: usize,
    loss: impl Fn(&[f32]) -> f64,
) {
    assert_eq!(x.len(), analytic.len(), "{what}: gradient length");
    let mut idx: Vec<usize> = (0..x.len()).collect();
    if idx.len() > max_checks {
        Rng::new(x.len() as u64).shuffle(&mut idx);
        idx.truncate(max_checks);
    }
    let mut xp = x.to_vec();
    for &i in &idx {
        let (up, down) = (x[i] + h, x[i] - h);
        xp[i] = up;
        let lp = loss(&xp);
        xp[i] = down;
        let lm = loss(&xp);
        xp[i] = x[i];
        // Divide by the step f32 actually took, not the nominal 2h.
        let numeric = (lp - lm) / (up as f64 - down as f64);
        let a = analytic[i] as f64;
        assert!(
            (numeric - a).abs() <= ATOL + RTOL * a.abs(),
            "{what}: element {i}: analytic {a:.6} vs finite difference {numeric:.6}"
        );
    }
}
