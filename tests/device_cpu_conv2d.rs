//! The CPU conv2d kernels against plain f64 loops, on shapes that exercise every edge of the
//! blocking: batch > 1, odd and non-square sizes, stride 2, kernels 1/3/4/5/9, channel counts that
//! are not multiples of 8 (nor of the 6 x 16 micro-tile).
//!
//! Tolerance: |got - want| <= 1e-4 * sqrt(reduction length) * (1 + |want|). f32 products summed
//! over L terms of magnitude ~1 carry a rounding error that grows like sqrt(L) * 6e-8; 1e-4 leaves
//! a wide margin for blocked summation orders while still catching any wrong index (errors O(1)).

mod common;

use common::{naive, uniform};
use ddr_engine::device::cpu::conv2d::*;
use ddr_engine::device::Conv2dGeom;
use ddr_engine::Rng;

fn geoms() -> Vec<Conv2dGeom> {
    let g =
        |n, c_in, h, w, c_out, k, stride, pad| Conv2dGeom { n, c_in, h, w, c_out, kh: k, kw: k, stride, pad };
    vec![
        g(2, 3, 9, 13, 5, 3, 1, 1),
        g(3, 7, 8, 6, 11, 3, 2, 1),
        g(2, 5, 10, 9, 6, 4, 2, 1),
        g(1, 3, 17, 12, 9, 9, 1, 4),
        g(2, 9, 11, 7, 7, 5, 1, 2),
        g(2, 13, 5, 8, 19, 1, 1, 0),
        g(1, 4, 6, 6, 3, 3, 1, 0),
        g(5, 17, 12, 12, 22, 3, 1, 1),
        g(1, 2, 40, 37, 3, 3, 1, 1),
    ]
}

fn check(what: &str, got: &[f32], want: &[f64], reduction: usize) {
    assert_eq!(got.len(), want.len());
    let tol = 1e-4 * (reduction as f64).sqrt();
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!((g as f64 - w).abs() <= tol * (1.0 + w.abs()), "{what}: [{i}] {g} vs {w}");
    }
}

#[test]
fn forward_matches_naive_loops() {
    let mut rng = Rng::new(21);
    for g in geoms() {
        let x = uniform(&mut rng, g.n * g.in_len(), -1.0, 1.0);
        let w = uniform(&mut rng, g.weight_len(), -1.0, 1.0);
        let b = uniform(&mut rng, g.c_out, -1.0, 1.0);
        let mut y = vec![f32::NAN; g.n * g.out_len()];
        conv2d_fwd_f32(&g, &x, &w, Some(&b), &mut y);
        check(&format!("fwd {g:?}"), &y, &naive::conv2d_fwd(&g, &x, &w, Some(&b)), g.ckk());
        conv2d_fwd_f32(&g, &x, &w, None, &mut y);
        check(&format!("fwd no bias {g:?}"), &y, &naive::conv2d_fwd(&g, &x, &w, None), g.ckk());
    }
}

#[test]
fn backward_matches_naive_loops() {
    let mut rng = Rng::new(22);
    for g in geoms() {
        let x = uniform(&mut rng, g.n * g.in_len(), -1.0, 1.0);
        let w = uniform(&mut rng, g.weight_len(), -1.0, 1.0);
        let dy = uniform(&mut rng, g.n * g.out_len(), -1.0, 1.0);
        let (dx_want, dw_want, db_want) = naive::conv2d_bwd(&g, &x, &w, &dy);

        let mut dx = vec![f32::NAN; x.len()];
        conv2d_bwd_input_f32(&g, &dy, &w, &mut dx);
        check(&format!("dx {g:?}"), &dx, &dx_want, g.c_out * g.kh * g.kw);
        // The general path must agree too (the fast path covers stride 1).
        let mut dx2 = vec![f32::NAN; x.len()];
        conv2d_bwd_input_col2im(&g, &dy, &w, &mut dx2);
        check(&format!("dx col2im {g:?}"), &dx2, &dx_want, g.c_out * g.kh * g.kw);

        // Weight gradients accumulate: start from 1 and expect 1 + gradient.
        let mut dw = vec![1.0f32; w.len()];
        let mut db = vec![1.0f32; g.c_out];
        conv2d_bwd_weight_f32(&g, &x, &dy, &mut dw, Some(&mut db));
        let plus1 = |v: &[f64]| v.iter().map(|x| x + 1.0).collect::<Vec<_>>();
        let red = g.n * g.ho() * g.wo();
        check(&format!("dw {g:?}"), &dw, &plus1(&dw_want), red);
        check(&format!("db {g:?}"), &db, &plus1(&db_want), red);
    }
}

#[test]
fn results_do_not_depend_on_thread_count() {
    let g = Conv2dGeom { n: 3, c_in: 10, h: 19, w: 23, c_out: 14, kh: 3, kw: 3, stride: 1, pad: 1 };
    let mut rng = Rng::new(23);
    let x = uniform(&mut rng, g.n * g.in_len(), -1.0, 1.0);
    let w = uniform(&mut rng, g.weight_len(), -1.0, 1.0);
    let dy = uniform(&mut rng, g.n * g.out_len(), -1.0, 1.0);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let mut y = vec![0f32; g.n * g.out_len()];
            conv2d_fwd_f32(&g, &x, &w, None, &mut y);
            let mut dx = vec![0f32; x.len()];
            conv2d_bwd_input_f32(&g, &dy, &w, &mut dx);
            let mut dw = vec![0f32; w.len()];
            let mut db = vec![0f32; g.c_out];
            conv2d_bwd_weight_f32(&g, &x, &dy, &mut dw, Some(&mut db));
            (y, dx, dw, db)
        })
    };
    let one = run(1);
    for t in [2, 3, 5] {
        assert!(run(t) == one, "results differ between 1 and {t} threads");
    }
}
