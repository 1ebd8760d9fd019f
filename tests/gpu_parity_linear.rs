//! linear's CUDA kernels (forward with and without bias, dx, dw, db) against the CPU reference, in
//! every GEMM math mode, on random inputs over shapes with ragged edge tiles (1, 3, 65, 67, 130
//! rows/columns; a batch of 300 so the weight gradient takes several slices). Outputs are
//! poisoned with NaN before the launch; dw and db start from random non-zero buffers (they add).
//!
//! Tolerances per element, relative to the sum of |terms| (the CPU op on |inputs|): f32 1e-5,
//! tf32 2e-3, bf16 1e-2 (why: `common::gemm_tolerance`); the bias gradient is a column sum in
//! double in row order on both sides: bit-identical.

mod common;

use common::{abs, assert_bits_equal, assert_close_mag, cuda_devices, gemm_tolerance, poisoned, uniform};
use ddr_engine::device::cpu::linear as cpu;
use ddr_engine::device::cuda::{linear as cuda, ConvMath, CudaDevice};
use ddr_engine::Rng;

/// (n, in, out)
/// (4, 0, 5): no inputs, so y is the bias (or zero) and only db has terms.
const SHAPES: &[(usize, usize, usize)] = &[
    (1, 1, 1),
    (3, 5, 7),
    (70, 67, 65),
    (16, 130, 3),
    (2, 128, 100),
    (300, 64, 1),
    (16, 8192, 100),
    (4, 0, 5),
];

/// The operands of one linear layer's forward and backward; dw0 and db0 are the gradients the
/// backward adds to.
struct Inputs {
    shape: (usize, usize, usize),
    x: Vec<f32>,
    w: Vec<f32>,
    b: Vec<f32>,
    dy: Vec<f32>,
    dw0: Vec<f32>,
    db0: Vec<f32>,
}

impl Inputs {
    fn random(rng: &mut Rng, (n, i, o): (usize, usize, usize)) -> Inputs {
        let mut r = |len| uniform(rng, len, -1.0, 1.0);
        Inputs { shape: (n, i, o), x: r(n * i), w: r(o * i), b: r(o), dy: r(n * o), dw0: r(o * i), db0: r(o) }
    }

    /// The same layer on |every operand|: its outputs bound the sum of |terms| of each element.
    fn magnitudes(&self) -> Inputs {
        Inputs {
            shape: self.shape,
            x: abs(&self.x),
            w: abs(&self.w),
            b: abs(&self.b),
            dy: abs(&self.dy),
            dw0: abs(&self.dw0),
            db0: abs(&self.db0),
        }
    }
}

struct Out {
    y: Vec<f32>,
    y_nb: Vec<f32>,
    dx: Vec<f32>,
    dw: Vec<f32>,
    db: Vec<f32>,
}

fn cpu_all(a: &Inputs) -> Out {
    let (n, i, o) = a.shape;
    let (mut y, mut y_nb, mut dx) = (vec![0f32; n * o], vec![0f32; n * o], vec![0f32; n * i]);
    cpu::linear_fwd_f32(n, i, o, &a.x, &a.w, Some(&a.b), &mut y);
    cpu::linear_fwd_f32(n, i, o, &a.x, &a.w, None, &mut y_nb);
    let (mut dw, mut db) = (a.dw0.clone(), a.db0.clone());
    cpu::linear_bwd_f32(n, i, o, &a.x, &a.w, &a.dy, Some(&mut dx), Some(&mut dw), Some(&mut db));
    Out { y, y_nb, dx, dw, db }
}

fn gpu_all(dev: &CudaDevice, a: &Inputs) -> Out {
    let (n, i, o) = a.shape;
    let up = |v: &[f32]| dev.upload(v).unwrap();
    let (x, w, b, dy) = (up(&a.x), up(&a.w), up(&a.b), up(&a.dy));
    let (mut y, mut y_nb, mut dx) = (poisoned(dev, n * o), poisoned(dev, n * o), poisoned(dev, n * i));
    cuda::linear_fwd_f32(
        dev,
        n,
        i,
        o,
        &x.dev_view(),
        &w.dev_view(),
        Some(&b.dev_view()),
        &mut y.dev_view_mut(),
    )
    .unwrap();
    cuda::linear_fwd_f32(dev, n, i, o, &x.dev_view(), &w.dev_view(), None, &mut y_nb.dev_view_mut()).unwrap();
    let (mut dw, mut db) = (up(&a.dw0), up(&a.db0));
    cuda::linear_bwd_f32(
        dev,
        n,
        i,
        o,
        &x.dev_view(),
        &w.dev_view(),
        &dy.dev_view(),
        Some(&mut dx.dev_view_mut()),
        Some(&mut dw.dev_view_mut()),
        Some(&mut db.dev_view_mut()),
    )
    .unwrap();
    let down = |b: &ddr_engine::device::cuda::CudaBuf| dev.download(b).unwrap();
    Out { y: down(&y), y_nb: down(&y_nb), dx: down(&dx), dw: down(&dw), db: down(&db) }
}

#[test]
fn linear_kernels_match_cpu_reference_in_every_math_mode() {
    for dev in cuda_devices("linear_kernels_match_cpu_reference_in_every_math_mode") {
        let mut rng = Rng::new(0x11);
        for &s in SHAPES {
            let (n, i, o) = s;
            let a = Inputs::random(&mut rng, s);
            let (want, mag) = (cpu_all(&a), cpu_all(&a.magnitudes()));
            for math in ConvMath::ALL {
                dev.set_conv_math(math);
                let got = gpu_all(&dev, &a);
                let (what, tol) = (format!("n={n} in={i} out={o} {math}"), gemm_tolerance(math));
                assert_close_mag(&format!("linear_fwd {what}"), &got.y, &want.y, &mag.y, tol);
                assert_close_mag(
                    &format!("linear_fwd without bias {what}"),
                    &got.y_nb,
                    &want.y_nb,
                    &mag.y_nb,
                    tol,
                );
                assert_close_mag(&format!("linear dx {what}"), &got.dx, &want.dx, &mag.dx, tol);
                assert_close_mag(&format!("linear dw {what}"), &got.dw, &want.dw, &mag.dw, tol);
                assert_bits_equal(&format!("linear db {what}"), &got.db, &want.db);
            }
        }
    }
}

#[test]
fn linear_kernels_are_deterministic() {
    for dev in cuda_devices("linear_kernels_are_deterministic") {
        let mut rng = Rng::new(0x12);
        let a = Inputs::random(&mut rng, (256, 300, 200));
        for math in ConvMath::ALL {
            dev.set_conv_math(math);
            let (p, q) = (gpu_all(&dev, &a), gpu_all(&dev, &a));
            for (u, v) in [(&p.y, &q.y), (&p.dx, &q.dx), (&p.dw, &q.dw), (&p.db, &q.db)] {
                assert_bits_equal(&format!("linear {math} second run"), u, v);
            }
        }
    }
}

/// The backward computes exactly the gradients it is given buffers for: each of the 8 subsets of
/// (dx, dw, db) gives the bytes the full backward gives for those.
#[test]
fn linear_backward_computes_only_what_it_is_asked_for() {
    for dev in cuda_devices("linear_backward_computes_only_what_it_is_asked_for") {
        let mut rng = Rng::new(0x13);
        let a = Inputs::random(&mut rng, (9, 70, 33));
        let (n, i, o) = a.shape;
        let full = gpu_all(&dev, &a);
        let up = |v: &[f32]| dev.upload(v).unwrap();
        let (x, w, dy) = (up(&a.x), up(&a.w), up(&a.dy));
        for mask in 0..8 {
            let (want_dx, want_dw, want_db) = (mask & 1 != 0, mask & 2 != 0, mask & 4 != 0);
            let (mut dx, mut dw, mut db) = (poisoned(&dev, n * i), up(&a.dw0), up(&a.db0));
            let (mut vx, mut vw, mut vb) = (dx.dev_view_mut(), dw.dev_view_mut(), db.dev_view_mut());
            cuda::linear_bwd_f32(
                &dev,
                n,
                i,
                o,
                &x.dev_view(),
                &w.dev_view(),
                &dy.dev_view(),
                want_dx.then_some(&mut vx),
                want_dw.then_some(&mut vw),
                want_db.then_some(&mut vb),
            )
            .unwrap();
            let what = format!("linear backward with dx {want_dx}, dw {want_dw}, db {want_db}");
            let got_dx = dev.download(&dx).unwrap();
            if want_dx {
                assert_bits_equal(&format!("{what}: dx"), &got_dx, &full.dx);
            } else {
                assert!(got_dx.iter().all(|v| v.is_nan()), "{what}: dx was written");
            }
            let (want_w, want_b) = (
                if want_dw { full.dw.clone() } else { a.dw0.clone() },
                if want_db { full.db.clone() } else { a.db0.clone() },
            );
            assert_bits_equal(&format!("{what}: dw"), &dev.download(&dw).unwrap(), &want_w);
            assert_bits_equal(&format!("{what}: db"), &dev.download(&db).unwrap(), &want_b);
        }
    }
}
