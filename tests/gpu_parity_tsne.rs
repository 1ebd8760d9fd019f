//! Each t-SNE CUDA kernel against its CPU reference (`device::cpu::tsne`), on random inputs
//! with ragged sizes (not multiples of a warp, a block or a tile), outputs poisoned with NaN
//! before the launch so that an unwritten element fails. Runs on the emulated device, and on a GPU
//! when there is one (DDR_REQUIRE_GPU=1 makes a missing GPU a failure).
//!
//! Tolerances: kernels whose arithmetic is written operation for operation like the reference
//! (sqdist, joint_p, grad, update) must match bit for bit. rowsums sums in double like the CPU,
//! in another order (32 warp lanes): its f32 results may differ by the last bit (2e-7 relative,
//! or 1e-7 of the quantity's scale where the sum cancels). Kernels that sum in another order and
//! precision (perplexity: 32 warp lanes instead of 4; q_sum, kl_rows) must agree to 1e-5
//! relative to the scale of the quantity (f32 rounding of sums of a few thousand terms).

mod common;

use common::{assert_bits_equal, assert_close, cuda_devices, uniform};
use ddr_engine::device::cpu::tsne as cpu;
use ddr_engine::device::cuda::{tsne as cuda, CudaBuf, CudaDevice};
use ddr_engine::reduce::{tsne, Init, TsneConfig};
use ddr_engine::{Device, Rng};

const SIZES: [usize; 4] = [5, 33, 250, 1031];

fn poisoned(dev: &CudaDevice, n: usize) -> CudaBuf {
    dev.upload(&vec![f32::NAN; n]).unwrap()
}

/// Points in a few clusters, so the perplexity search has real work.
fn points(rng: &mut Rng, n: usize, d: usize) -> Vec<f32> {
    let mut x = uniform(rng, n * d, -1.0, 1.0);
    for (t, v) in x.iter_mut().enumerate() {
        *v += 4.0 * ((t / d) % 3) as f32;
    }
    x
}

fn max_abs(v: &[f32]) -> f32 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

#[test]
fn tsne_kernels_match_cpu_reference() {
    for dev in cuda_devices("tsne_kernels_match_cpu_reference") {
        let mut rng = Rng::new(0x75E);
        for n in SIZES {
            let d = 37;
            let x = points(&mut rng, n, d);
            let gx = dev.upload(&x).unwrap();

            // Squared distances: the same f64 sums in the same order.
            let mut dist = vec![0.0; n * n];
            cpu::tsne_sqdist_f32(&x, n, d, &mut dist);
            let mut gdist = poisoned(&dev, n * n);
            cuda::tsne_sqdist_f32(&dev, &gx.dev_view(), n, d, &mut gdist.dev_view_mut()).unwrap();
            assert_bits_equal(&format!("tsne_sqdist_f32 n={n}"), &dev.download(&gdist).unwrap(), &dist);

            // Perplexity search from the same distances.
            let perp = (n as f32 / 4.0).min(30.0);
            let (mut pc, mut rs) = (vec![0.0; n * n], vec![0.0; n]);
            cpu::tsne_perplexity_f32(&dist, n, perp, &mut pc, &mut rs);
            let (mut gpc, mut grs) = (poisoned(&dev, n * n), poisoned(&dev, n));
            cuda::tsne_perplexity_f32(
                &dev,
                &gdist.dev_view(),
                n,
                perp,
                &mut gpc.dev_view_mut(),
                &mut grs.dev_view_mut(),
            )
            .unwrap();
            let got_pc = dev.download(&gpc).unwrap();
            assert_close(
                &format!("tsne_perplexity_f32 pcond n={n}"),
                &got_pc,
                &pc,
                1e-5 * max_abs(&pc),
                1e-5,
            );
            assert_close(
                &format!("tsne_perplexity_f32 rowsum n={n}"),
                &dev.download(&grs).unwrap(),
                &rs,
                0.0,
                1e-5,
            );

            // Joint P from the CPU's pcond on both sides: bit-identical.
            let total = 2.0 * rs.iter().map(|&v| v as f64).sum::<f64>();
            let mut p = vec![0.0; n * n];
            cpu::tsne_joint_p_f32(&pc, n, total, &mut p);
            let gpc_cpu = dev.upload(&pc).unwrap();
            let mut gp = poisoned(&dev, n * n);
            cuda::tsne_joint_p_f32(&dev, &gpc_cpu.dev_view(), n, total, &mut gp.dev_view_mut()).unwrap();
            assert_bits_equal(&format!("tsne_joint_p_f32 n={n}"), &dev.download(&gp).unwrap(), &p);

            // Row sums, Z, gradient, KL at a random embedding.
            let y = uniform(&mut rng, 2 * n, -5.0, 5.0);
            let gy = dev.upload(&y).unwrap();
            let mut rows = vec![0.0; 5 * n];
            cpu::tsne_rowsums_f32(&p, &y, n, &mut rows);
            let mut grows = poisoned(&dev, 5 * n);
            cuda::tsne_rowsums_f32(&dev, &gp.dev_view(), &gy.dev_view(), n, &mut grows.dev_view_mut())
                .unwrap();
            let got_rows = dev.download(&grows).unwrap();
            for q in 0..5 {
                let pick = |v: &[f32]| -> Vec<f32> { (0..n).map(|i| v[5 * i + q]).collect() };
                let want = pick(&rows);
                assert_close(
                    &format!("tsne_rowsums_f32 n={n} q={q}"),
                    &pick(&got_rows),
                    &want,
                    1e-7 * max_abs(&want),
                    2e-7,
                );
            }
            let mut z = [0.0f32];
            cpu::tsne_q_sum_f32(&rows, n, &mut z);
            let grows_cpu = dev.upload(&rows).unwrap();
            let mut gz = poisoned(&dev, 1);
            cuda::tsne_q_sum_f32(&dev, &grows_cpu.dev_view(), n, &mut gz.dev_view_mut()).unwrap();
            assert_close(&format!("tsne_q_sum_f32 n={n}"), &dev.download(&gz).unwrap(), &z, 0.0, 1e-6);

            let gz_cpu = dev.upload(&z).unwrap();
            let mut grad = vec![0.0; 2 * n];
            cpu::tsne_grad_f32(&rows, &z, n, 12.0, &mut grad);
            let mut ggrad = poisoned(&dev, 2 * n);
            cuda::tsne_grad_f32(
                &dev,
                &grows_cpu.dev_view(),
                &gz_cpu.dev_view(),
                n,
                12.0,
                &mut ggrad.dev_view_mut(),
            )
            .unwrap();
            assert_bits_equal(&format!("tsne_grad_f32 n={n}"), &dev.download(&ggrad).unwrap(), &grad);

            let mut kl = vec![0.0; n];
            cpu::tsne_kl_rows_f32(&p, &y, n, &z, &mut kl);
            let mut gkl = poisoned(&dev, n);
            cuda::tsne_kl_rows_f32(
                &dev,
                &gp.dev_view(),
                &gy.dev_view(),
                n,
                &gz_cpu.dev_view(),
                &mut gkl.dev_view_mut(),
            )
            .unwrap();
            let got: f64 = dev.download(&gkl).unwrap().iter().map(|&v| v as f64).sum();
            let want: f64 = kl.iter().map(|&v| v as f64).sum();
            assert!((got - want).abs() <= 1e-5 * want.abs(), "tsne_kl_rows_f32 n={n}: {got} vs {want}");

            // Optimiser step: elementwise f32, bit-identical; signs of update mixed.
            let upd0 = uniform(&mut rng, 2 * n, -1.0, 1.0);
            let gains0 = uniform(&mut rng, 2 * n, 0.0, 2.0);
            let (mut upd, mut gains, mut yy) = (upd0.clone(), gains0.clone(), y.clone());
            cpu::tsne_update_f32(&grad, 0.8, 200.0, 0.01, &mut upd, &mut gains, &mut yy);
            let (mut gu, mut gg, mut gyy) =
                (dev.upload(&upd0).unwrap(), dev.upload(&gains0).unwrap(), dev.upload(&y).unwrap());
            cuda::tsne_update_f32(
                &dev,
                &ggrad.dev_view(),
                0.8,
                200.0,
                0.01,
                &mut gu.dev_view_mut(),
                &mut gg.dev_view_mut(),
                &mut gyy.dev_view_mut(),
            )
            .unwrap();
            assert_bits_equal(&format!("tsne_update_f32 update n={n}"), &dev.download(&gu).unwrap(), &upd);
            assert_bits_equal(&format!("tsne_update_f32 gains n={n}"), &dev.download(&gg).unwrap(), &gains);
            assert_bits_equal(&format!("tsne_update_f32 y n={n}"), &dev.download(&gyy).unwrap(), &yy);
        }
    }
}

#[test]
fn cuda_tsne_is_deterministic_and_close_to_the_cpu_run() {
    for dev in cuda_devices("cuda_tsne_is_deterministic_and_close_to_the_cpu_run") {
        let mut rng = Rng::new(0x75F);
        // 300 points on a GPU; fewer on the (slow) emulated device.
        let (n, d) = if dev.is_emulated() { (120, 20) } else { (300, 20) };
        let x = points(&mut rng, n, d);
        let cfg = TsneConfig { init: Init::Pca, ..Default::default() };
        let gpu = Device::Cuda(dev);
        let a = tsne(&x, n, d, &cfg, &gpu, &|_| {}).unwrap();
        let b = tsne(&x, n, d, &cfg, &gpu, &|_| {}).unwrap();
        assert_bits_equal("CUDA t-SNE run twice", &a.embedding, &b.embedding);
        let c = tsne(&x, n, d, &cfg, &Device::Cpu, &|_| {}).unwrap();
        // Different rounding drives the two optimisations apart; the final KL agrees closely.
        assert!((a.kl - c.kl).abs() <= 0.03 * c.kl, "CUDA KL {} vs CPU KL {}", a.kl, c.kl);
    }
}
