//! conv2d's CUDA kernels (forward, input gradient, weight and bias gradients) against the CPU
//! reference, in every GEMM math mode, on random inputs over shapes with ragged edge tiles
//! (c_out 3, 5, 64, 67, 256; batch 1 to 3; 7x9 images; 1x1, 3x3, 4x4 stride 2, 9x9 kernels).
//! Outputs are poisoned with NaN before the launch; the gradients that ADD start from random
//! non-zero buffers.
//!
//! Tolerances, per element, relative to the sum of the magnitudes of the terms it adds up
//! (computed by running the CPU op on |inputs|), so cancellation cannot hide or fake an error:
//! f32 1e-5, tf32 2e-3, bf16 1e-2 (why: `common::gemm_tolerance`). Bias gradients are summed in
//! double on both sides: 1e-6.

mod common;

use common::{abs, assert_bits_equal, assert_close_mag, cuda_devices, gemm_tolerance, poisoned, uniform};
use ddr_engine::device::cpu::conv2d as cpu;
use ddr_engine::device::cuda::{conv2d as cuda, ConvMath, CudaDevice};
use ddr_engine::device::Conv2dGeom;
use ddr_engine::Rng;

/// n, c_in, h, w, c_out, k, stride, pad
type Shape = (usize, usize, usize, usize, usize, usize, usize, usize);

#[rustfmt::skip]
const SHAPES: &[Shape] = &[
    (1, 3, 7, 9, 5, 3, 1, 1),
    (3, 5, 7, 9, 67, 3, 1, 1),
    (2, 4, 9, 8, 3, 4, 2, 1),
    (1, 6, 5, 5, 4, 1, 1, 0),
    (2, 3, 11, 10, 7, 9, 1, 4),
    (3, 2, 8, 8, 65, 3, 2, 1),
    (1, 70, 5, 6, 3, 3, 1, 1),
    (2, 3, 9, 9, 2, 3, 3, 0),
    (2, 64, 16, 16, 64, 3, 1, 1),  // MSRResNet body conv; the weight gradient takes 2 slices
    (1, 64, 12, 12, 256, 3, 1, 1), // the upsampling conv before pixel shuffle
    (3, 64, 10, 10, 64, 4, 2, 1),  // discriminator downsampling conv
    (2, 3, 32, 32, 64, 3, 1, 1),   // first conv: K = 27, many weight-gradient slices
    (3, 64, 15, 15, 64, 3, 1, 1),  // weight-gradient depth 675 in slices of 240: the last is 195
];

fn geom(s: Shape) -> Conv2dGeom {
    let (n, c_in, h, w, c_out, k, stride, pad) = s;
    Conv2dGeom { n, c_in, h, w, c_out, kh: k, kw: k, stride, pad }
}

struct Case {
    g: Conv2dGeom,
    x: Vec<f32>,
    w: Vec<f32>,
    b: Vec<f32>,
    dy: Vec<f32>,
    dw0: Vec<f32>,
    db0: Vec<f32>,
}

impl Case {
    fn new(rng: &mut Rng, g: Conv2dGeom) -> Case {
        Case {
            g,
            x: uniform(rng, g.n * g.in_len(), -1.0, 1.0),
            w: uniform(rng, g.weight_len(), -1.0, 1.0),
            b: uniform(rng, g.c_out, -1.0, 1.0),
            dy: uniform(rng, g.n * g.out_len(), -1.0, 1.0),
            dw0: uniform(rng, g.weight_len(), -1.0, 1.0),
            db0: uniform(rng, g.c_out, -1.0, 1.0),
        }
    }
}

fn fwd_cpu(g: &Conv2dGeom, x: &[f32], w: &[f32], b: Option<&[f32]>) -> Vec<f32> {
    let mut y = vec![0f32; g.n * g.out_len()];
    cpu::conv2d_fwd_f32(g, x, w, b, &mut y);
    y
}

fn bwd_input_cpu(g: &Conv2dGeom, dy: &[f32], w: &[f32]) -> Vec<f32> {
    let mut dx = vec![0f32; g.n * g.in_len()];
    cpu::conv2d_bwd_input_f32(g, dy, w, &mut dx);
    dx
}

fn bwd_weight_cpu(g: &Conv2dGeom, x: &[f32], dy: &[f32], dw0: &[f32], db0: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let (mut dw, mut db) = (dw0.to_vec(), db0.to_vec());
    cpu::conv2d_bwd_weight_f32(g, x, dy, &mut dw, Some(&mut db));
    (dw, db)
}

/// The three passes on the GPU: (y with bias, y without bias, dx, dw, db). The weight gradient is
/// also taken without the bias gradient, which must not change it.
fn run_gpu(dev: &CudaDevice, c: &Case) -> [Vec<f32>; 5] {
    let g = &c.g;
    let (x, w, b, dy) = (
        dev.upload(&c.x).unwrap(),
        dev.upload(&c.w).unwrap(),
        dev.upload(&c.b).unwrap(),
        dev.upload(&c.dy).unwrap(),
    );
    let mut y = poisoned(dev, g.n * g.out_len());
    cuda::conv2d_fwd_f32(dev, g, &x.dev_view(), &w.dev_view(), Some(&b.dev_view()), &mut y.dev_view_mut())
        .unwrap();
    let mut y_nb = poisoned(dev, g.n * g.out_len());
    cuda::conv2d_fwd_f32(dev, g, &x.dev_view(), &w.dev_view(), None, &mut y_nb.dev_view_mut()).unwrap();
    let mut dx = poisoned(dev, g.n * g.in_len());
    cuda::conv2d_bwd_input_f32(dev, g, &dy.dev_view(), &w.dev_view(), &mut dx.dev_view_mut()).unwrap();
    let (mut dw, mut db) = (dev.upload(&c.dw0).unwrap(), dev.upload(&c.db0).unwrap());
    cuda::conv2d_bwd_weight_f32(
        dev,
        g,
        &x.dev_view(),
        &dy.dev_view(),
        &mut dw.dev_view_mut(),
        Some(&mut db.dev_view_mut()),
    )
    .unwrap();
    let mut dw_alone = dev.upload(&c.dw0).unwrap();
    cuda::conv2d_bwd_weight_f32(dev, g, &x.dev_view(), &dy.dev_view(), &mut dw_alone.dev_view_mut(), None)
        .unwrap();
    let out = [y, y_nb, dx, dw, db].map(|b| dev.download(&b).unwrap());
    assert_bits_equal(
        "conv2d weight gradient without the bias gradient",
        &dev.download(&dw_alone).unwrap(),
        &out[3],
    );
    out
}

#[test]
fn conv2d_kernels_match_cpu_reference_in_every_math_mode() {
    for dev in cuda_devices("conv2d_kernels_match_cpu_reference_in_every_math_mode") {
        let mut rng = Rng::new(0xC0);
        for &s in SHAPES {
            let c = Case::new(&mut rng, geom(s));
            let g = &c.g;
            let (ax, aw, ab, ady) = (abs(&c.x), abs(&c.w), abs(&c.b), abs(&c.dy));
            let want_y = fwd_cpu(g, &c.x, &c.w, Some(&c.b));
            let mag_y = fwd_cpu(g, &ax, &aw, Some(&ab));
            let want_y_nb = fwd_cpu(g, &c.x, &c.w, None);
            let mag_y_nb = fwd_cpu(g, &ax, &aw, None);
            let want_dx = bwd_input_cpu(g, &c.dy, &c.w);
            let mag_dx = bwd_input_cpu(g, &ady, &aw);
            let (want_dw, want_db) = bwd_weight_cpu(g, &c.x, &c.dy, &c.dw0, &c.db0);
            let (mag_dw, mag_db) = bwd_weight_cpu(g, &ax, &ady, &abs(&c.dw0), &abs(&c.db0));
            for math in ConvMath::ALL {
                dev.set_conv_math(math);
                let [y, y_nb, dx, dw, db] = run_gpu(&dev, &c);
                let (what, tol) = (format!("{g:?} {math}"), gemm_tolerance(math));
                assert_close_mag(&format!("conv2d_fwd {what}"), &y, &want_y, &mag_y, tol);
                assert_close_mag(
                    &format!("conv2d_fwd without bias {what}"),
                    &y_nb,
                    &want_y_nb,
                    &mag_y_nb,
                    tol,
                );
                assert_close_mag(&format!("conv2d_bwd_input {what}"), &dx, &want_dx, &mag_dx, tol);
                assert_close_mag(&format!("conv2d_bwd_weight {what}"), &dw, &want_dw, &mag_dw, tol);
                assert_close_mag(&format!("conv2d bias gradient {what}"), &db, &want_db, &mag_db, 1e-6);
            }
        }
    }
}

#[test]
fn conv2d_kernels_are_deterministic() {
    for dev in cuda_devices("conv2d_kernels_are_deterministic") {
        let mut rng = Rng::new(0xC1);
        // The emulator runs blocks one after another, so its runs repeat by construction: a smaller
        // case there keeps the suite fast; a GPU gets the size where scheduling could matter.
        let shape =
            if dev.is_emulated() { (2, 16, 12, 12, 16, 3, 1, 1) } else { (4, 64, 24, 24, 64, 3, 1, 1) };
        let c = Case::new(&mut rng, geom(shape));
        for math in ConvMath::ALL {
            dev.set_conv_math(math);
            let first = run_gpu(&dev, &c);
            let second = run_gpu(&dev, &c);
            for (a, b) in first.iter().zip(&second) {
                assert!(
                    a.iter().zip(b).all(|(p, q)| p.to_bits() == q.to_bits()),
                    "conv2d {math}: two runs differ"
                );
            }
        }
    }
}

#[test]
fn conv2d_launchers_reject_bad_shapes() {
    for dev in cuda_devices("conv2d_launchers_reject_bad_shapes") {
        let g = geom((1, 2, 5, 5, 3, 3, 1, 1));
        let x = dev.upload(&vec![0.0; g.n * g.in_len()]).unwrap();
        let w = dev.upload(&vec![0.0; g.weight_len() - 1]).unwrap();
        let mut y = dev.alloc(g.n * g.out_len()).unwrap();
        let err = cuda::conv2d_fwd_f32(&dev, &g, &x.dev_view(), &w.dev_view(), None, &mut y.dev_view_mut());
        assert!(err.unwrap_err().to_string().contains("weight"));
    }
}
