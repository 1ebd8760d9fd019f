//! Bilinear upsampling's CUDA kernels against the CPU reference on random inputs, several shapes
//! (scales 1 to 4, 1x1 and odd planes), outputs poisoned before the launch. The kernels use the
//! CPU's f32 operation order without FMA contraction, and the backward gather adds each output's
//! taps in the CPU scatter's order: bit-identical.

mod common;

use common::{assert_bits_equal, cuda_devices, poisoned, uniform};
use ddr_engine::device::cpu::upsample as cpu;
use ddr_engine::device::cuda::upsample as cuda;
use ddr_engine::Rng;

#[test]
fn upsample_kernels_match_cpu_reference() {
    for dev in cuda_devices("upsample_kernels_match_cpu_reference") {
        let mut rng = Rng::new(0x0B);
        // (planes, h, w, s)
        for (p, h, w, s) in
            [(1, 1, 1, 2), (2, 3, 5, 4), (3, 7, 9, 2), (1, 4, 3, 3), (2, 2, 6, 1), (48, 32, 32, 4)]
        {
            let (lin, lout) = (p * h * w, p * h * s * w * s);
            let x = uniform(&mut rng, lin, -1.0, 1.0);
            let dy = uniform(&mut rng, lout, -1.0, 1.0);
            let (mut want_y, mut want_dx) = (vec![0f32; lout], vec![0f32; lin]);
            cpu::upsample_bilinear_fwd_f32(h, w, s, &x, &mut want_y);
            cpu::upsample_bilinear_bwd_f32(h, w, s, &dy, &mut want_dx);
            let (gx, gdy) = (dev.upload(&x).unwrap(), dev.upload(&dy).unwrap());
            let (mut y, mut dx) = (poisoned(&dev, lout), poisoned(&dev, lin));
            cuda::upsample_bilinear_fwd_f32(&dev, h, w, s, &gx.dev_view(), &mut y.dev_view_mut()).unwrap();
            cuda::upsample_bilinear_bwd_f32(&dev, h, w, s, &gdy.dev_view(), &mut dx.dev_view_mut()).unwrap();
            let what = format!("planes={p} {h}x{w} s={s}");
            assert_bits_equal(&format!("upsample_bilinear_fwd {what}"), &dev.download(&y).unwrap(), &want_y);
            assert_bits_equal(
                &format!("upsample_bilinear_bwd {what}"),
                &dev.download(&dx).unwrap(),
                &want_dx,
            );
        }
    }
}
