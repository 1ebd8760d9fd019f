//! Elementwise ops on every device the suite covers (the CPU, the emulated CUDA device, a GPU
//! when there is one): forward against plain formulas, backward against central finite
//! differences, and the tensor-level API's shape and device checks.

mod common;

use common::{assert_close, devices, uniform};
use ddr_engine::ops::elementwise as ew;
use ddr_engine::{Device, Rng, Tensor};

fn t(dev: &Device, v: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_slice(v, shape, dev).unwrap()
}

#[test]
fn forward_matches_formulas() {
    for dev in devices("forward_matches_formulas") {
        let mut rng = Rng::new(1);
        let x = uniform(&mut rng, 1000, -2.0, 2.0);
        let b = uniform(&mut rng, 1000, -2.0, 2.0);
        let shape = [2, 5, 10, 10];
        let (tx, tb) = (t(&dev, &x, &shape), t(&dev, &b, &shape));

        let relu: Vec<f32> = x.iter().map(|&v| v.max(0.0)).collect();
        assert_eq!(ew::relu_fwd(&tx).unwrap().to_vec().unwrap(), relu);
        let lrelu: Vec<f32> = x.iter().map(|&v| if v > 0.0 { v } else { 0.2 * v }).collect();
        assert_eq!(ew::leaky_relu_fwd(&tx, 0.2).unwrap().to_vec().unwrap(), lrelu);
        let sum: Vec<f32> = x.iter().zip(&b).map(|(a, b)| a + b).collect();
        assert_eq!(ew::add(&tx, &tb).unwrap().to_vec().unwrap(), sum);
        let sc: Vec<f32> = x.iter().map(|&v| -1.5 * v).collect();
        assert_eq!(ew::scale(&tx, -1.5).unwrap().to_vec().unwrap(), sc);
        let mut y = tb.deep_clone().unwrap();
        ew::axpy(0.5, &tx, &mut y).unwrap();
        let ax: Vec<f32> = x.iter().zip(&b).map(|(x, b)| b + 0.5 * x).collect();
        assert_eq!(y.to_vec().unwrap(), ax);
    }
}

#[test]
fn nan_propagates_like_pytorch() {
    for dev in devices("nan_propagates_like_pytorch") {
        let x = t(&dev, &[f32::NAN, -1.0, 2.0], &[3]);
        let r = ew::relu_fwd(&x).unwrap().to_vec().unwrap();
        assert!(r[0].is_nan() && r[1] == 0.0 && r[2] == 2.0);
        let l = ew::leaky_relu_fwd(&x, 0.1).unwrap().to_vec().unwrap();
        assert!(l[0].is_nan());
    }
}

/// Central differences of L(x) = sum(f(x) * w) against the analytic backward, in f64 around the
/// f32 op. Points within 1e-2 of the kink at 0 are skipped (the derivative jumps there).
/// Tolerance: atol 1e-3, rtol 1e-3 (step 1e-3, f32 outputs rounded to ~6e-8 relative).
fn grad_check(
    dev: &Device,
    fwd: &dyn Fn(&Tensor) -> Tensor,
    bwd: &dyn Fn(&Tensor, &Tensor, &Tensor) -> Tensor,
) {
    let mut rng = Rng::new(7);
    let shape = [3, 2, 5, 7];
    let n: usize = shape.iter().product();
    let x: Vec<f32> =
        uniform(&mut rng, n, -2.0, 2.0).into_iter().map(|v| if v.abs() < 1e-2 { 0.5 } else { v }).collect();
    let w = uniform(&mut rng, n, -1.0, 1.0);
    let tx = t(dev, &x, &shape);
    let y = fwd(&tx);
    let analytic = bwd(&tx, &y, &t(dev, &w, &shape)).to_vec().unwrap();
    let loss = |v: &[f32]| -> f64 {
        let out = fwd(&t(dev, v, &shape)).to_vec().unwrap();
        out.iter().zip(&w).map(|(&o, &w)| o as f64 * w as f64).sum()
    };
    let h = 1e-3f32;
    let mut numeric = vec![0.0f32; n];
    let mut xp = x.clone();
    for i in 0..n {
        xp[i] = x[i] + h;
        let lp = loss(&xp);
        xp[i] = x[i] - h;
        let lm = loss(&xp);
        xp[i] = x[i];
        numeric[i] = ((lp - lm) / (2.0 * h as f64)) as f32;
    }
    assert_close(&format!("finite-difference gradient on {dev}"), &analytic, &numeric, 1e-3, 1e-3);
}

#[test]
fn relu_backward_matches_finite_differences() {
    for dev in devices("relu_backward_matches_finite_differences") {
        grad_check(&dev, &|x| ew::relu_fwd(x).unwrap(), &|_x, y, dy| ew::relu_bwd(y, dy).unwrap());
    }
}

#[test]
fn leaky_relu_backward_matches_finite_differences() {
    for dev in devices("leaky_relu_backward_matches_finite_differences") {
        grad_check(&dev, &|x| ew::leaky_relu_fwd(x, 0.1).unwrap(), &|x, _y, dy| {
            ew::leaky_relu_bwd(x, dy, 0.1).unwrap()
        });
    }
}

#[test]
fn shape_mismatch_is_an_error() {
    for dev in devices("shape_mismatch_is_an_error") {
        let a = t(&dev, &[1.0; 6], &[2, 3]);
        let b = t(&dev, &[1.0; 6], &[3, 2]);
        let e = ew::add(&a, &b).unwrap_err().to_string();
        assert!(e.contains("shapes differ"), "{e}");
    }
}

#[test]
fn large_inputs_are_deterministic_across_chunks() {
    for dev in devices("large_inputs_are_deterministic_across_chunks") {
        // Bigger than one parallel chunk: the threaded path must give the sequential result.
        let mut rng = Rng::new(3);
        let x = uniform(&mut rng, 300_001, -1.0, 1.0);
        let tx = t(&dev, &x, &[300_001]);
        let want: Vec<f32> = x.iter().map(|&v| if v > 0.0 { v } else { 0.1 * v }).collect();
        assert_eq!(ew::leaky_relu_fwd(&tx, 0.1).unwrap().to_vec().unwrap(), want);
    }
}

/// `mul` against the plain formula, with `b` of `a`'s shape and with one map per image broadcast
/// over the channels; its backward against central differences of L = sum(mul(a, b) * w) in both
/// operands (the product is bilinear: the central difference is exact up to f32 rounding).
#[test]
fn mul_matches_formula_and_finite_differences() {
    for dev in devices("mul_matches_formula_and_finite_differences") {
        let mut rng = Rng::new(11);
        let (n, c, h, w) = (2, 3, 4, 5);
        let a = uniform(&mut rng, n * c * h * w, -2.0, 2.0);
        let wts = uniform(&mut rng, n * c * h * w, -1.0, 1.0);
        let ta = t(&dev, &a, &[n, c, h, w]);
        let tw = t(&dev, &wts, &[n, c, h, w]);
        for b_shape in [[n, c, h, w], [n, 1, h, w]] {
            let b = uniform(&mut rng, b_shape.iter().product(), -2.0, 2.0);
            let tb = t(&dev, &b, &b_shape);
            let bcast = b_shape[1] == 1;
            let b_at = |i: usize| if bcast { b[(i / (c * h * w)) * h * w + i % (h * w)] } else { b[i] };
            let want: Vec<f32> = a.iter().enumerate().map(|(i, &x)| x * b_at(i)).collect();
            assert_eq!(ew::mul(&ta, &tb).unwrap().to_vec().unwrap(), want, "{b_shape:?} on {dev}");

            let (ga, gb) = ew::mul_bwd(&ta, &tb, &tw, true, true).unwrap();
            let (ga, gb) = (ga.unwrap().to_vec().unwrap(), gb.unwrap().to_vec().unwrap());
            assert_eq!(gb.len(), b.len());
            let loss = |a: &[f32], b: &[f32]| -> f64 {
                let y = ew::mul(&t(&dev, a, &[n, c, h, w]), &t(&dev, b, &b_shape)).unwrap();
                y.to_vec().unwrap().iter().zip(&wts).map(|(&y, &w)| y as f64 * w as f64).sum()
            };
            let step = 1e-2f32;
            let numeric = |v: &[f32], i: usize, f: &dyn Fn(&[f32]) -> f64| {
                let mut p = v.to_vec();
                p[i] = v[i] + step;
                let up = f(&p);
                p[i] = v[i] - step;
                ((up - f(&p)) / (2.0 * step as f64)) as f32
            };
            let na: Vec<f32> = (0..a.len()).map(|i| numeric(&a, i, &|v| loss(v, &b))).collect();
            let nb: Vec<f32> = (0..b.len()).map(|i| numeric(&b, i, &|v| loss(&a, v))).collect();
            assert_close(&format!("d/da {b_shape:?} on {dev}"), &ga, &na, 1e-3, 1e-3);
            assert_close(&format!("d/db {b_shape:?} on {dev}"), &gb, &nb, 1e-3, 1e-3);
            let (none_a, only_b) = ew::mul_bwd(&ta, &tb, &tw, false, true).unwrap();
            assert!(none_a.is_none() && only_b.is_some());
        }
        let wrong = t(&dev, &[1.0; 2 * 2 * 4 * 5], &[n, 2, h, w]);
        let e = ew::mul(&ta, &wrong).unwrap_err().to_string();
        assert!(e.contains("one map per image"), "{e}");
    }
}
