//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod gradcheck;
pub mod naive;

use ddr_engine::device::cuda::CudaDevice;
use ddr_engine::Rng;
use std::sync::Arc;

/// The first GPU, or `None` (with a note on stderr) when none is usable. With
/// `DDR_REQUIRE_GPU=1` a missing GPU fails the test instead of skipping it.
pub fn gpu_or_skip(test: &str) -> Option<Arc<CudaDevice>> {
    match CudaDevice::open(0) {
        Ok(d) => Some(d),
        Err(why) => {
            if std::env::var("DDR_REQUIRE_GPU").is_ok_and(|v| v == "1") {
                panic!("{test}: DDR_REQUIRE_GPU=1 but no GPU is usable: {why}");
            }
            eprintln!("{test}: skipped, no GPU ({why})");
            None
        }
    }
}

/// `n` values uniform in [lo, hi).
pub fn uniform(rng: &mut Rng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| lo + (hi - lo) * rng.uniform_f32()).collect()
}

/// Max |a - b| / (atol/rtol + |b|) style check: every element must satisfy
/// |a - b| <= atol + rtol * |b|. Returns the worst ratio of error to allowance (<= 1 passes).
pub fn assert_close(what: &str, got: &[f32], want: &[f32], atol: f32, rtol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    let mut worst = (0.0f32, 0usize);
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let allowed = atol + rtol * w.abs();
        let ratio = if g.is_nan() || w.is_nan() { f32::INFINITY } else { (g - w).abs() / allowed };
        if ratio > worst.0 || ratio.is_nan() {
            worst = (ratio, i);
        }
    }
    assert!(
        worst.0 <= 1.0,
        "{what}: element {} is {} but should be {} (atol {atol}, rtol {rtol})",
        worst.1,
        got[worst.1],
        want[worst.1]
    );
}

/// Bitwise equality, treating NaNs of any payload as equal.
pub fn assert_bits_equal(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let same = g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan());
        assert!(same, "{what}: element {i} is {g:e} but the CPU reference gives {w:e}");
    }
}
