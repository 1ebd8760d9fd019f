//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod cli;
pub mod gradcheck;
pub mod naive;
pub mod torch_fixture;

use ddr_engine::device::cuda::CudaDevice;
use ddr_engine::device::Device;
use ddr_engine::Rng;
use std::sync::Arc;

/// The CUDA devices a kernel test runs on: the emulated device (kernels/*.cu compiled for the
/// host) always, and GPU 0 when one is usable. The emulated device is part of the suite: a build
/// without it fails here. With `DDR_REQUIRE_GPU=1` a missing GPU fails the test too.
pub fn cuda_devices(test: &str) -> Vec<Arc<CudaDevice>> {
    let emulated = CudaDevice::open_emulated().unwrap_or_else(|why| panic!("{test}: {why}"));
    let mut devices = vec![emulated];
    match CudaDevice::open(0) {
        Ok(d) => devices.push(d),
        Err(why) => {
            if std::env::var("DDR_REQUIRE_GPU").is_ok_and(|v| v == "1") {
                panic!("{test}: DDR_REQUIRE_GPU=1 but no GPU is usable: {why}");
            }
            eprintln!("{test}: no GPU ({why}); ran on the emulated device only");
        }
    }
    devices
}

/// Every device an op, layer or network test runs on: the CPU, then [`cuda_devices`].
pub fn devices(test: &str) -> Vec<Device> {
    let mut all = vec![Device::Cpu];
    all.extend(cuda_devices(test).into_iter().map(Device::Cuda));
    all
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

/// A device buffer of `n` NaNs: an output poisoned before a launch, so any element the kernel
/// fails to write shows up as NaN.
pub fn poisoned(dev: &CudaDevice, n: usize) -> ddr_engine::device::cuda::CudaBuf {
    dev.upload(&vec![f32::NAN; n]).unwrap()
}

/// `|v|` elementwise: run a linear op on the absolute values of its inputs to get, per output,
/// the sum of the magnitudes of the terms it adds up (the scale rounding errors are relative to).
pub fn abs(v: &[f32]) -> Vec<f32> {
    v.iter().map(|x| x.abs()).collect()
}

/// Every element must satisfy |got - want| <= rtol * mag (mag: the sum of |terms| behind the
/// element, see [`abs`]) plus a few units of f32 underflow. A NaN anywhere fails.
pub fn assert_close_mag(what: &str, got: &[f32], want: &[f32], mag: &[f32], rtol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    assert_eq!(mag.len(), want.len(), "{what}: magnitude length differs");
    let mut worst = (0.0f64, 0usize);
    for (i, ((&g, &w), &m)) in got.iter().zip(want).zip(mag).enumerate() {
        let allowed = rtol as f64 * m as f64 + 1e-30;
        let ratio =
            if g.is_nan() || w.is_nan() { f64::INFINITY } else { (g as f64 - w as f64).abs() / allowed };
        if ratio > worst.0 {
            worst = (ratio, i);
        }
    }
    let i = worst.1;
    assert!(
        worst.0 <= 1.0,
        "{what}: element {i} is {} but should be {} (magnitude {}, allowed {rtol} of it; {:.1}x over)",
        got[i],
        want[i],
        mag[i],
        worst.0
    );
}

/// The tolerance of a GEMM-shaped kernel (conv2d, linear) in math mode `m`, relative to the sum
/// of |terms| of each output ([`assert_close_mag`]):
/// - f32 1e-5: both sides round K products and partial sums in f32, in different orders; with
///   random-signed terms the partial sums stay small and the error stays within a few 2^-24 of
///   the magnitude sum (the K * 2^-24 worst case is not approached), while a wrong or missing term
///   moves a result by ~1/K of it (above 1e-5 for every K the tests use, up to 8192);
/// - tf32 2e-3: inputs rounded to 10-bit mantissas, at most 2^-10 of each product;
/// - bf16 1e-2: 7-bit mantissas, at most 2^-8 of each product.
pub fn gemm_tolerance(m: ddr_engine::device::cuda::ConvMath) -> f32 {
    use ddr_engine::device::cuda::ConvMath;
    match m {
        ConvMath::F32 => 1e-5,
        ConvMath::Tf32 => 2e-3,
        ConvMath::Bf16 => 1e-2,
    }
}
