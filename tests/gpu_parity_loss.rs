//! The loss kernels against the CPU reference on random inputs of sizes with ragged tails (1 to
//! 2^20 + 7 elements, so the value reduction runs from one to the maximum number of partial
//! sums), gradients poisoned before the launch.
//!
//! Tolerances: the value is summed in double on both sides in different orders: 1e-12 relative.
//! Gradients: l1, mse, sse and huber use the CPU's exact f32 operations: bit-identical. bce's is
//! k (sigmoid(x) - t) with CUDA's expf, whose last bits may differ from the host libm's; the
//! subtraction can cancel, so the error is bounded by a few ulps of sigmoid (< 1) times k, not
//! by the result: 1e-6 relative plus 1e-6 k absolute. Two runs of a kernel give the same value
//! and gradient bytes.

mod common;

use common::{assert_bits_equal, assert_close, cuda_devices, poisoned, uniform};
use ddr_engine::device::cpu::loss as cpu;
use ddr_engine::device::cuda::{loss as cuda, CudaDevice, DevView, DevViewMut};
use ddr_engine::Rng;

type CpuLoss = fn(&[f32], &[f32], f32, &mut [f32]) -> f64;
type GpuLoss = fn(&CudaDevice, &DevView, &DevView, f32, &mut DevViewMut) -> ddr_engine::Result<f64>;

const LOSSES: [(&str, CpuLoss, GpuLoss, bool); 5] = [
    ("l1_mean", cpu::l1_mean_f32, cuda::l1_mean_f32, true),
    ("mse_mean", cpu::mse_mean_f32, cuda::mse_mean_f32, true),
    ("sse_sum", cpu::sse_sum_f32, cuda::sse_sum_f32, true),
    ("huber_mean", cpu::huber_mean_f32, cuda::huber_mean_f32, true),
    ("bce_logits_mean", cpu::bce_logits_mean_f32, cuda::bce_logits_mean_f32, false),
];

#[test]
fn loss_kernels_match_cpu_reference_and_repeat_exactly() {
    for dev in cuda_devices("loss_kernels_match_cpu_reference_and_repeat_exactly") {
        let mut rng = Rng::new(0x1055);
        let weight = 0.7f32;
        for n in [1, 255, 257, 100_003, (1 << 20) + 7] {
            let mut p = uniform(&mut rng, n, -3.0, 3.0);
            let mut t = uniform(&mut rng, n, 0.0, 1.0);
            p[0] = t[0]; // an exact zero difference (l1's gradient is 0 there)
            if n > 2 {
                // Differences of exactly +1 and -1, where Huber turns from quadratic to linear
                // (elsewhere p - t spans [-4, 3]: both sides).
                (p[1], t[1], p[2], t[2]) = (1.5, 0.5, -0.75, 0.25);
            }
            let (gp, gt) = (dev.upload(&p).unwrap(), dev.upload(&t).unwrap());
            for (name, cpu_fn, gpu_fn, exact) in LOSSES {
                let mut want_g = vec![0f32; n];
                let want = cpu_fn(&p, &t, weight, &mut want_g);
                let run = || {
                    let mut g = poisoned(&dev, n);
                    let v =
                        gpu_fn(&dev, &gp.dev_view(), &gt.dev_view(), weight, &mut g.dev_view_mut()).unwrap();
                    (v, dev.download(&g).unwrap())
                };
                let (got, got_g) = run();
                let what = format!("{name} n={n}");
                assert!(
                    (got - want).abs() <= 1e-12 * want.abs(),
                    "{what}: value {got} but the CPU gives {want}"
                );
                if exact {
                    assert_bits_equal(&format!("{what} gradient"), &got_g, &want_g);
                } else {
                    let k = weight / n as f32;
                    assert_close(&format!("{what} gradient"), &got_g, &want_g, 1e-6 * k, 1e-6);
                }
                let (again, again_g) = run();
                assert_eq!(got.to_bits(), again.to_bits(), "{what}: the value changed between two runs");
                assert_bits_equal(&format!("{what} gradient, second run"), &again_g, &got_g);
            }
        }
    }
}
