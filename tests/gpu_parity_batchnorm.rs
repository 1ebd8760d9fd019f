//! BatchNorm2d's CUDA kernels (train forward with running-statistics update, eval forward, train
//! backward with and without the parameter gradients) against the CPU reference on random inputs,
//! several shapes (1 to 64 channels, planes of 1 to 1024 values), outputs poisoned before the
//! launch, dgamma/dbeta starting from random non-zero values (they add).
//!
//! Tolerances: per-channel sums are double on both sides but in a different order, so a
//! statistic can differ by one f32 ulp: stats, running statistics, dgamma, dbeta 1e-6 relative;
//! y and dx (which amplify a one-ulp statistic by |xhat| or |gamma|/std) 1e-5 relative plus 1e-5
//! absolute for inputs of order 1. Eval mode has no reduction: bit-identical.

mod common;

use common::{assert_bits_equal, assert_close, cuda_devices, poisoned, uniform};
use ddr_engine::device::cpu::batchnorm as cpu;
use ddr_engine::device::cuda::batchnorm as cuda;
use ddr_engine::Rng;

#[test]
fn batchnorm_kernels_match_cpu_reference() {
    for dev in cuda_devices("batchnorm_kernels_match_cpu_reference") {
        let mut rng = Rng::new(0xBA7C);
        let (eps, momentum) = (1e-5f32, 0.1f32);
        // (n, c, hw)
        for (n, c, hw) in [(1, 3, 2), (2, 5, 63), (3, 2, 300), (4, 64, 49), (16, 3, 1024), (2, 1, 1)] {
            let len = n * c * hw;
            let what = format!("n={n} c={c} hw={hw}");
            let x = uniform(&mut rng, len, -2.0, 3.0);
            let dy = uniform(&mut rng, len, -1.0, 1.0);
            let gamma = uniform(&mut rng, c, 0.5, 1.5);
            let beta = uniform(&mut rng, c, -1.0, 1.0);
            let rm = uniform(&mut rng, c, -1.0, 1.0);
            let rv = uniform(&mut rng, c, 0.5, 2.0);
            let dg0 = uniform(&mut rng, c, -1.0, 1.0);
            let db0 = uniform(&mut rng, c, -1.0, 1.0);
            let up = |v: &[f32]| dev.upload(v).unwrap();
            let (gx, gdy, gg, gb) = (up(&x), up(&dy), up(&gamma), up(&beta));

            // Train forward.
            let (mut rm_want, mut rv_want, mut y_want) = (rm.clone(), rv.clone(), vec![0f32; len]);
            let mut stats_want = vec![0f32; 2 * c];
            cpu::batchnorm_train_fwd_f32(
                n,
                c,
                hw,
                &x,
                &gamma,
                &beta,
                eps,
                momentum,
                &mut rm_want,
                &mut rv_want,
                &mut y_want,
                &mut stats_want,
            );
            let (mut grm, mut grv) = (up(&rm), up(&rv));
            let (mut y, mut stats) = (poisoned(&dev, len), poisoned(&dev, 2 * c));
            cuda::batchnorm_train_fwd_f32(
                &dev,
                n,
                c,
                hw,
                &gx.dev_view(),
                &gg.dev_view(),
                &gb.dev_view(),
                eps,
                momentum,
                &mut grm.dev_view_mut(),
                &mut grv.dev_view_mut(),
                &mut y.dev_view_mut(),
                &mut stats.dev_view_mut(),
            )
            .unwrap();
            let stats_got = dev.download(&stats).unwrap();
            assert_close(&format!("batchnorm stats {what}"), &stats_got, &stats_want, 1e-7, 1e-6);
            assert_close(
                &format!("batchnorm running mean {what}"),
                &dev.download(&grm).unwrap(),
                &rm_want,
                1e-7,
                1e-6,
            );
            assert_close(
                &format!("batchnorm running var {what}"),
                &dev.download(&grv).unwrap(),
                &rv_want,
                0.0,
                1e-6,
            );
            assert_close(
                &format!("batchnorm train y {what}"),
                &dev.download(&y).unwrap(),
                &y_want,
                1e-5,
                1e-5,
            );

            // Eval forward, from the original running statistics.
            let mut ye_want = vec![0f32; len];
            cpu::batchnorm_eval_fwd_f32(n, c, hw, &x, &gamma, &beta, eps, &rm, &rv, &mut ye_want);
            let (grm0, grv0) = (up(&rm), up(&rv));
            let mut ye = poisoned(&dev, len);
            cuda::batchnorm_eval_fwd_f32(
                &dev,
                n,
                c,
                hw,
                &gx.dev_view(),
                &gg.dev_view(),
                &gb.dev_view(),
                eps,
                &grm0.dev_view(),
                &grv0.dev_view(),
                &mut ye.dev_view_mut(),
            )
            .unwrap();
            assert_bits_equal(&format!("batchnorm eval y {what}"), &dev.download(&ye).unwrap(), &ye_want);

            // Train backward from the CPU's statistics (so dx is compared on equal footing), with and
            // without the parameter gradients.
            let (mut dx_want, mut dg_want, mut db_want) = (vec![0f32; len], dg0.clone(), db0.clone());
            cpu::batchnorm_train_bwd_f32(
                n,
                c,
                hw,
                &x,
                &dy,
                &gamma,
                &stats_want,
                &mut dx_want,
                Some(&mut dg_want),
                Some(&mut db_want),
            );
            let gst = up(&stats_want);
            for with_params in [true, false] {
                let (mut gdg, mut gdb) = (up(&dg0), up(&db0));
                let mut dx = poisoned(&dev, len);
                let (mut dgv, mut dbv) = (gdg.dev_view_mut(), gdb.dev_view_mut());
                cuda::batchnorm_train_bwd_f32(
                    &dev,
                    n,
                    c,
                    hw,
                    &gx.dev_view(),
                    &gdy.dev_view(),
                    &gg.dev_view(),
                    &gst.dev_view(),
                    &mut dx.dev_view_mut(),
                    with_params.then_some(&mut dgv),
                    with_params.then_some(&mut dbv),
                )
                .unwrap();
                let w = format!("{what} with parameter gradients: {with_params}");
                assert_close(&format!("batchnorm dx {w}"), &dev.download(&dx).unwrap(), &dx_want, 1e-5, 1e-5);
                let (dg_expect, db_expect) = if with_params { (&dg_want, &db_want) } else { (&dg0, &db0) };
                assert_close(
                    &format!("batchnorm dgamma {w}"),
                    &dev.download(&gdg).unwrap(),
                    dg_expect,
                    1e-6,
                    1e-6,
                );
                assert_close(
                    &format!("batchnorm dbeta {w}"),
                    &dev.download(&gdb).unwrap(),
                    db_expect,
                    1e-6,
                    1e-6,
                );
            }
        }
    }
}
