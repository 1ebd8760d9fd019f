//! Each elementwise CUDA kernel against its CPU reference, on random inputs of sizes that leave
//! ragged tails, with the output poisoned (NaN) before the launch so an unwritten element fails.
//! Pointwise f32 arithmetic is exact on both sides: results must be bit-identical (sigmoid's
//! forward, which goes through expf, to 1e-6 relative).

mod common;

use common::{assert_bits_equal, cuda_devices, uniform};
use ddr_engine::device::cpu::elementwise as cpu;
use ddr_engine::device::cuda::{elementwise as cuda, CudaBuf, CudaDevice};
use ddr_engine::Rng;

const SIZES: [usize; 5] = [1, 255, 257, 100_003, (1 << 20) + 7];

fn poisoned(dev: &CudaDevice, n: usize) -> CudaBuf {
    dev.upload(&vec![f32::NAN; n]).unwrap()
}

/// Random values with exact zeros and a NaN mixed in, to pin down the edge semantics.
fn inputs(rng: &mut Rng, n: usize) -> Vec<f32> {
    let mut v = uniform(rng, n, -3.0, 3.0);
    for (i, x) in v.iter_mut().enumerate() {
        if i % 97 == 5 {
            *x = 0.0;
        }
    }
    if n > 10 {
        v[10] = f32::NAN;
    }
    v
}

#[test]
fn elementwise_kernels_match_cpu_reference() {
    for dev in cuda_devices("elementwise_kernels_match_cpu_reference") {
        let mut rng = Rng::new(0xE1E);
        for n in SIZES {
            let x = inputs(&mut rng, n);
            let b = inputs(&mut rng, n);
            let (dx, db) = (dev.upload(&x).unwrap(), dev.upload(&b).unwrap());
            let a = 0.37f32;
            let slope = 0.1f32;

            let check = |name: &str, want: Vec<f32>, run: &dyn Fn(&mut CudaBuf)| {
                let mut out = poisoned(&dev, n);
                run(&mut out);
                assert_bits_equal(&format!("{name} n={n}"), &dev.download(&out).unwrap(), &want);
            };
            let mut want = vec![0.0; n];

            cpu::scale_f32(&x, a, &mut want);
            check("scale_f32", want.clone(), &|o| {
                cuda::scale_f32(&dev, &dx.dev_view(), a, &mut o.dev_view_mut()).unwrap()
            });
            cpu::add_f32(&x, &b, &mut want);
            check("add_f32", want.clone(), &|o| {
                cuda::add_f32(&dev, &dx.dev_view(), &db.dev_view(), &mut o.dev_view_mut()).unwrap()
            });
            cpu::relu_fwd_f32(&x, &mut want);
            check("relu_fwd_f32", want.clone(), &|o| {
                cuda::relu_fwd_f32(&dev, &dx.dev_view(), &mut o.dev_view_mut()).unwrap()
            });
            cpu::relu_bwd_f32(&x, &b, &mut want);
            check("relu_bwd_f32", want.clone(), &|o| {
                cuda::relu_bwd_f32(&dev, &dx.dev_view(), &db.dev_view(), &mut o.dev_view_mut()).unwrap()
            });
            cpu::leaky_relu_fwd_f32(&x, slope, &mut want);
            check("leaky_relu_fwd_f32", want.clone(), &|o| {
                cuda::leaky_relu_fwd_f32(&dev, &dx.dev_view(), slope, &mut o.dev_view_mut()).unwrap()
            });
            cpu::leaky_relu_bwd_f32(&x, &b, slope, &mut want);
            check("leaky_relu_bwd_f32", want.clone(), &|o| {
                cuda::leaky_relu_bwd_f32(&dev, &dx.dev_view(), &db.dev_view(), slope, &mut o.dev_view_mut())
                    .unwrap()
            });
            check("copy_f32", x.clone(), &|o| {
                cuda::copy_f32(&dev, &dx.dev_view(), &mut o.dev_view_mut()).unwrap()
            });
            // Sigmoid: CUDA's expf is within 2 ulp of the host's, so the forward is compared to
            // 1e-6 relative (NaN where the CPU has NaN); the backward is exact arithmetic.
            cpu::sigmoid_fwd_f32(&x, &mut want);
            let mut sig = poisoned(&dev, n);
            cuda::sigmoid_fwd_f32(&dev, &dx.dev_view(), &mut sig.dev_view_mut()).unwrap();
            for (i, (g, w)) in dev.download(&sig).unwrap().iter().zip(&want).enumerate() {
                let same = if w.is_nan() { g.is_nan() } else { (g - w).abs() <= 1e-6 * w.abs() };
                assert!(same, "sigmoid_fwd_f32 n={n}: element {i} is {g:e}, the CPU gives {w:e}");
            }
            let y = dev.upload(&want).unwrap();
            cpu::sigmoid_bwd_f32(&want.clone(), &b, &mut want);
            check("sigmoid_bwd_f32", want.clone(), &|o| {
                cuda::sigmoid_bwd_f32(&dev, &y.dev_view(), &db.dev_view(), &mut o.dev_view_mut()).unwrap()
            });
            cpu::fill_f32(&mut want, -2.5);
            check("fill_f32", want.clone(), &|o| cuda::fill_f32(&dev, &mut o.dev_view_mut(), -2.5).unwrap());

            // axpy accumulates into its output, so it starts from b rather than from poison.
            want.copy_from_slice(&b);
            cpu::axpy_f32(a, &x, &mut want);
            let mut out = dev.upload(&b).unwrap();
            cuda::axpy_f32(&dev, a, &dx.dev_view(), &mut out.dev_view_mut()).unwrap();
            assert_bits_equal(&format!("axpy_f32 n={n}"), &dev.download(&out).unwrap(), &want);
        }
    }
}

/// `mul_f32` in both layouts (same shape, one map per image broadcast over the channels) and the
/// broadcast map's gradient, bit for bit: the kernel and the CPU sum the channels in the same
/// order with every product and sum rounded on its own.
#[test]
fn mul_kernels_match_cpu_reference() {
    for dev in cuda_devices("mul_kernels_match_cpu_reference") {
        let mut rng = Rng::new(0x3A1);
        // (images, channels, pixels): ragged sizes, one past the CPU's parallel chunk.
        for (n, c, hw) in [(1, 1, 1), (2, 3, 37), (3, 64, 17 * 13), (2, 5, 40_009)] {
            let len = n * c * hw;
            let (a, same, map) = (inputs(&mut rng, len), inputs(&mut rng, len), inputs(&mut rng, n * hw));
            let (da, dsame, dmap) =
                (dev.upload(&a).unwrap(), dev.upload(&same).unwrap(), dev.upload(&map).unwrap());
            for (b, db, cb) in [(&same, &dsame, c), (&map, &dmap, 1)] {
                let mut want = vec![0.0; len];
                cpu::mul_f32(&a, b, &mut want, c, hw, cb);
                let mut out = poisoned(&dev, len);
                cuda::mul_f32(&dev, &da.dev_view(), &db.dev_view(), &mut out.dev_view_mut(), c, hw, cb)
                    .unwrap();
                let what = format!("mul_f32 n={n} c={c} hw={hw} cb={cb}");
                assert_bits_equal(&what, &dev.download(&out).unwrap(), &want);
            }
            // dy = same, a = a: the map's gradient.
            let mut want = vec![0.0; n * hw];
            cpu::mul_bwd_bcast_f32(&same, &a, &mut want, c, hw);
            let mut out = poisoned(&dev, n * hw);
            cuda::mul_bwd_bcast_f32(&dev, &dsame.dev_view(), &da.dev_view(), &mut out.dev_view_mut(), c, hw)
                .unwrap();
            let what = format!("mul_bwd_bcast_f32 n={n} c={c} hw={hw}");
            assert_bits_equal(&what, &dev.download(&out).unwrap(), &want);
        }
    }
}
