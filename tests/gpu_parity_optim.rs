//! The optimiser kernels (Adam with and without weight decay over several steps, EMA, lerp)
//! against the CPU reference on random buffers with ragged sizes. The kernels use the CPU's f32
//! operations in its order without FMA contraction: bit-identical.

mod common;

use common::{assert_bits_equal, cuda_devices, poisoned, uniform};
use ddr_engine::device::cpu::optim as cpu;
use ddr_engine::device::cuda::optim as cuda;
use ddr_engine::device::AdamStep;
use ddr_engine::Rng;

#[test]
fn optim_kernels_match_cpu_reference() {
    for dev in cuda_devices("optim_kernels_match_cpu_reference") {
        let mut rng = Rng::new(0x0971);
        for n in [1, 257, 100_003] {
            for weight_decay in [0.0, 0.01] {
                let mut p = uniform(&mut rng, n, -1.0, 1.0);
                let (mut m, mut v) = (vec![0f32; n], vec![0f32; n]);
                let (mut gp, mut gm, mut gv) =
                    (dev.upload(&p).unwrap(), dev.upload(&m).unwrap(), dev.upload(&v).unwrap());
                for step in 1..=3 {
                    let g = uniform(&mut rng, n, -1.0, 1.0);
                    let h = AdamStep { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay, step };
                    cpu::adam_step_f32(&h, &mut p, &g, &mut m, &mut v);
                    let gg = dev.upload(&g).unwrap();
                    cuda::adam_step_f32(
                        &dev,
                        &h,
                        &mut gp.dev_view_mut(),
                        &gg.dev_view(),
                        &mut gm.dev_view_mut(),
                        &mut gv.dev_view_mut(),
                    )
                    .unwrap();
                    let what = format!("adam n={n} wd={weight_decay} step={step}");
                    assert_bits_equal(&format!("{what} p"), &dev.download(&gp).unwrap(), &p);
                    assert_bits_equal(&format!("{what} m"), &dev.download(&gm).unwrap(), &m);
                    assert_bits_equal(&format!("{what} v"), &dev.download(&gv).unwrap(), &v);
                }
            }

            let p = uniform(&mut rng, n, -1.0, 1.0);
            let mut ema = uniform(&mut rng, n, -1.0, 1.0);
            let mut gema = dev.upload(&ema).unwrap();
            let gp = dev.upload(&p).unwrap();
            cpu::ema_f32(0.999, &p, &mut ema);
            cuda::ema_f32(&dev, 0.999, &gp.dev_view(), &mut gema.dev_view_mut()).unwrap();
            assert_bits_equal(&format!("ema n={n}"), &dev.download(&gema).unwrap(), &ema);

            let target = uniform(&mut rng, n, -1.0, 1.0);
            let mut want = vec![0f32; n];
            cpu::lerp_f32(&p, &target, 0.3, &mut want);
            let gt = dev.upload(&target).unwrap();
            let mut out = poisoned(&dev, n);
            cuda::lerp_f32(&dev, &gp.dev_view(), &gt.dev_view(), 0.3, &mut out.dev_view_mut()).unwrap();
            assert_bits_equal(&format!("lerp n={n}"), &dev.download(&out).unwrap(), &want);
        }
    }
}
