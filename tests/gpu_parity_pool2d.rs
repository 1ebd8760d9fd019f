//! 2x2 max pooling's CUDA kernels against the CPU reference on random inputs with ties and NaNs,
//! several shapes (odd trailing rows/columns, a 1-row plane), outputs poisoned before the launch.
//! Selection and routing only: bit-identical.

mod common;

use common::{assert_bits_equal, cuda_devices, poisoned, uniform};
use ddr_engine::device::cpu::pool2d as cpu;
use ddr_engine::device::cuda::pool2d as cuda;
use ddr_engine::Rng;

#[test]
fn maxpool2_kernels_match_cpu_reference() {
    for dev in cuda_devices("maxpool2_kernels_match_cpu_reference") {
        let mut rng = Rng::new(0x9001);
        // (planes, h, w)
        for (p, h, w) in [(1, 2, 2), (2, 5, 7), (3, 8, 6), (2, 1, 3), (64, 33, 32)] {
            let len = p * h * w;
            let mut x = uniform(&mut rng, len, -1.0, 1.0);
            for i in (0..len).step_by(7) {
                x[i] = x[i / 2]; // ties inside and across windows
            }
            for i in (5..len).step_by(53) {
                x[i] = f32::NAN;
            }
            let lout = p * (h / 2) * (w / 2);
            let dy = uniform(&mut rng, lout, -1.0, 1.0);
            let (mut want_y, mut want_dx) = (vec![0f32; lout], vec![0f32; len]);
            cpu::maxpool2_fwd_f32(h, w, &x, &mut want_y);
            cpu::maxpool2_bwd_f32(h, w, &x, &dy, &mut want_dx);
            let (gx, gdy) = (dev.upload(&x).unwrap(), dev.upload(&dy).unwrap());
            let (mut y, mut dx) = (poisoned(&dev, lout), poisoned(&dev, len));
            cuda::maxpool2_fwd_f32(&dev, h, w, &gx.dev_view(), &mut y.dev_view_mut()).unwrap();
            cuda::maxpool2_bwd_f32(&dev, h, w, &gx.dev_view(), &gdy.dev_view(), &mut dx.dev_view_mut())
                .unwrap();
            let what = format!("planes={p} {h}x{w}");
            assert_bits_equal(&format!("maxpool2_fwd {what}"), &dev.download(&y).unwrap(), &want_y);
            assert_bits_equal(&format!("maxpool2_bwd {what}"), &dev.download(&dx).unwrap(), &want_dx);
        }
    }
}
