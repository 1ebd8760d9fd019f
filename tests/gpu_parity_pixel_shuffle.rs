//! pixel_shuffle's CUDA kernels against the CPU reference on random inputs, several shapes
//! (r = 2, 3, 4; odd planes), output poisoned before the launch. A permutation: bit-identical.

mod common;

use common::{assert_bits_equal, cuda_devices, poisoned, uniform};
use ddr_engine::device::cpu::pixel_shuffle as cpu;
use ddr_engine::device::cuda::pixel_shuffle as cuda;
use ddr_engine::Rng;

#[test]
fn pixel_shuffle_kernels_match_cpu_reference() {
    for dev in cuda_devices("pixel_shuffle_kernels_match_cpu_reference") {
        let mut rng = Rng::new(0x95);
        // (n, c, h, w, r), c the output channel count
        for (n, c, h, w, r) in
            [(1, 1, 1, 1, 2), (2, 3, 5, 7, 2), (1, 2, 3, 4, 3), (3, 1, 2, 9, 4), (16, 64, 8, 8, 2)]
        {
            let len = n * c * r * r * h * w;
            let x = uniform(&mut rng, len, -1.0, 1.0);
            let mut want = vec![0f32; len];
            cpu::pixel_shuffle_fwd_f32(c, h, w, r, &x, &mut want);
            let gx = dev.upload(&x).unwrap();
            let mut y = poisoned(&dev, len);
            cuda::pixel_shuffle_fwd_f32(&dev, c, h, w, r, &gx.dev_view(), &mut y.dev_view_mut()).unwrap();
            let what = format!("n={n} c={c} {h}x{w} r={r}");
            assert_bits_equal(&format!("pixel_shuffle_fwd {what}"), &dev.download(&y).unwrap(), &want);

            let dy = uniform(&mut rng, len, -1.0, 1.0);
            let mut want_dx = vec![0f32; len];
            cpu::pixel_shuffle_bwd_f32(c, h, w, r, &dy, &mut want_dx);
            let gdy = dev.upload(&dy).unwrap();
            let mut dx = poisoned(&dev, len);
            cuda::pixel_shuffle_bwd_f32(&dev, c, h, w, r, &gdy.dev_view(), &mut dx.dev_view_mut()).unwrap();
            assert_bits_equal(&format!("pixel_shuffle_bwd {what}"), &dev.download(&dx).unwrap(), &want_dx);
        }
    }
}
