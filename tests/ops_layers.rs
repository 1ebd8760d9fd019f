//! Every op of the compute core, on every device the suite covers (the CPU, the emulated CUDA
//! device, a GPU when there is one): forward against a plain reference, backward against central
//! finite differences (tolerances in tests/common/gradcheck.rs), on shapes with batch > 1, odd and
//! non-square sizes, stride 2, and channel counts that are not multiples of 8.

mod common;

use common::gradcheck::{check, dot};
use common::{devices, naive, uniform};
use ddr_engine::device::Conv2dGeom;
use ddr_engine::ops::{self, conv2d::Conv2dSpec};
use ddr_engine::{Device, Rng, Tensor};

fn t(dev: &Device, v: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_slice(v, shape, dev).unwrap()
}

/// A flat tensor of `v` on `dev`, for the weight-like arguments ops take as slices.
fn flat(dev: &Device, v: &[f32]) -> Tensor {
    t(dev, v, &[v.len()])
}

fn host(x: &Tensor) -> Vec<f32> {
    x.to_vec().unwrap()
}

fn close(what: &str, got: &[f32], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!((g as f64 - w).abs() <= tol * (1.0 + w.abs()), "{what}: [{i}] {g} vs {w}");
    }
}

#[test]
fn conv2d_gradients_match_finite_differences() {
    let mut rng = Rng::new(31);
    let specs = [
        (2, 3, 7, 6, Conv2dSpec { c_in: 3, c_out: 5, k: 3, stride: 1, pad: 1 }),
        (2, 5, 8, 9, Conv2dSpec { c_in: 5, c_out: 3, k: 4, stride: 2, pad: 1 }),
        (3, 4, 5, 7, Conv2dSpec { c_in: 4, c_out: 6, k: 1, stride: 1, pad: 0 }),
        (1, 3, 11, 10, Conv2dSpec { c_in: 3, c_out: 2, k: 9, stride: 1, pad: 4 }),
        (2, 2, 9, 8, Conv2dSpec { c_in: 2, c_out: 3, k: 5, stride: 1, pad: 2 }),
        (2, 3, 9, 9, Conv2dSpec { c_in: 3, c_out: 4, k: 3, stride: 2, pad: 1 }),
    ];
    for dev in devices("conv2d_gradients_match_finite_differences") {
        for (n, c, h, w, spec) in specs {
            let x = uniform(&mut rng, n * c * h * w, -1.0, 1.0);
            let wt = uniform(&mut rng, spec.weight_shape().iter().product(), -0.5, 0.5);
            let b = uniform(&mut rng, spec.c_out, -0.5, 0.5);
            let xs = [n, c, h, w];
            let fwd = |x: &[f32], wt: &[f32], b: &[f32]| {
                let (wt, b) = (flat(&dev, wt), flat(&dev, b));
                ops::conv2d::conv2d_fwd(&t(&dev, x, &xs), &spec, &wt.view(), Some(&b.view())).unwrap()
            };
            let y = fwd(&x, &wt, &b);
            let r = uniform(&mut rng, y.numel(), -1.0, 1.0);
            let (mut dw, mut db) = (flat(&dev, &vec![0f32; wt.len()]), flat(&dev, &vec![0f32; b.len()]));
            let dx = ops::conv2d::conv2d_bwd(
                &t(&dev, &x, &xs),
                &spec,
                &flat(&dev, &wt).view(),
                &t(&dev, &r, y.shape()),
                true,
                Some(&mut dw.view_mut().unwrap()),
                Some(&mut db.view_mut().unwrap()),
            )
            .unwrap()
            .unwrap();
            let what = format!("conv2d {xs:?} {spec:?} on {dev}");
            check(&format!("{what} dx"), &x, &host(&dx), 150, |v| dot(&host(&fwd(v, &wt, &b)), &r));
            check(&format!("{what} dw"), &wt, &host(&dw), 150, |v| dot(&host(&fwd(&x, v, &b)), &r));
            check(&format!("{what} db"), &b, &host(&db), 150, |v| dot(&host(&fwd(&x, &wt, v)), &r));
            // And the forward against plain loops.
            let g = Conv2dGeom {
                n,
                c_in: c,
                h,
                w,
                c_out: spec.c_out,
                kh: spec.k,
                kw: spec.k,
                stride: spec.stride,
                pad: spec.pad,
            };
            close(&format!("{what} forward"), &host(&y), &naive::conv2d_fwd(&g, &x, &wt, Some(&b)), 1e-4);
        }
    }
}

#[test]
fn pixel_shuffle_is_pytorchs_permutation_and_its_gradient_the_inverse() {
    for dev in devices("pixel_shuffle_is_pytorchs_permutation_and_its_gradient_the_inverse") {
        let (n, c, h, w, r) = (2, 3, 3, 5, 2);
        let mut rng = Rng::new(32);
        let x = uniform(&mut rng, n * c * r * r * h * w, -1.0, 1.0);
        let y = ops::pixel_shuffle::pixel_shuffle_fwd(&t(&dev, &x, &[n, c * r * r, h, w]), r).unwrap();
        assert_eq!(y.shape(), [n, c, h * r, w * r]);
        let yv = host(&y);
        for img in 0..n {
            for ch in 0..c {
                for hh in 0..h * r {
                    for ww in 0..w * r {
                        let src = ((img * c * r * r + ch * r * r + (hh % r) * r + ww % r) * h + hh / r) * w
                            + ww / r;
                        assert_eq!(yv[((img * c + ch) * h * r + hh) * w * r + ww], x[src]);
                    }
                }
            }
        }
        let back = ops::pixel_shuffle::pixel_shuffle_bwd(&y, r).unwrap();
        assert_eq!(host(&back), x, "backward must invert forward exactly on {dev}");
        // 3x upscaling too.
        let x3 = uniform(&mut rng, 9 * 2 * 2, -1.0, 1.0);
        let y3 = ops::pixel_shuffle::pixel_shuffle_fwd(&t(&dev, &x3, &[1, 9, 2, 2]), 3).unwrap();
        assert_eq!(host(&ops::pixel_shuffle::pixel_shuffle_bwd(&y3, 3).unwrap()), x3);
    }
}

/// PyTorch's bilinear (align_corners=False) in f64.
fn naive_bilinear(x: &[f32], planes: usize, h: usize, w: usize, s: usize) -> Vec<f64> {
    let src = |o: usize, size: usize| {
        let v = ((o as f64 + 0.5) / s as f64 - 0.5).max(0.0);
        let i0 = (v.floor() as usize).min(size - 1);
        (i0, (i0 + 1).min(size - 1), v - i0 as f64)
    };
    let mut y = vec![0f64; planes * h * s * w * s];
    for p in 0..planes {
        for oy in 0..h * s {
            let (y0, y1, ly) = src(oy, h);
            for ox in 0..w * s {
                let (x0, x1, lx) = src(ox, w);
                let at = |yy: usize, xx: usize| x[(p * h + yy) * w + xx] as f64;
                y[(p * h * s + oy) * w * s + ox] = (1.0 - ly) * ((1.0 - lx) * at(y0, x0) + lx * at(y0, x1))
                    + ly * ((1.0 - lx) * at(y1, x0) + lx * at(y1, x1));
            }
        }
    }
    y
}

#[test]
fn bilinear_upsampling_matches_reference_and_finite_differences() {
    for dev in devices("bilinear_upsampling_matches_reference_and_finite_differences") {
        let mut rng = Rng::new(33);
        for (n, c, h, w, s) in [(2, 3, 5, 7, 4), (1, 2, 4, 3, 2), (2, 1, 1, 3, 3)] {
            let x = uniform(&mut rng, n * c * h * w, -1.0, 1.0);
            let fwd =
                |v: &[f32]| ops::upsample::upsample_bilinear_fwd(&t(&dev, v, &[n, c, h, w]), s).unwrap();
            let y = fwd(&x);
            close("bilinear forward", &host(&y), &naive_bilinear(&x, n * c, h, w, s), 1e-6);
            let r = uniform(&mut rng, y.numel(), -1.0, 1.0);
            let dx = ops::upsample::upsample_bilinear_bwd(&t(&dev, &r, y.shape()), s).unwrap();
            check(&format!("bilinear dx on {dev}"), &x, &host(&dx), 200, |v| dot(&host(&fwd(v)), &r));
        }
    }
}

#[test]
fn sigmoid_gradient_matches_finite_differences() {
    for dev in devices("sigmoid_gradient_matches_finite_differences") {
        let mut rng = Rng::new(34);
        let x = uniform(&mut rng, 2 * 3 * 4 * 5, -4.0, 4.0);
        let s = [2, 3, 4, 5];
        let y = ops::elementwise::sigmoid_fwd(&t(&dev, &x, &s)).unwrap();
        let want: Vec<f64> = x.iter().map(|&v| 1.0 / (1.0 + (-(v as f64)).exp())).collect();
        close("sigmoid", &host(&y), &want, 1e-6);
        let r = uniform(&mut rng, x.len(), -1.0, 1.0);
        let dx = ops::elementwise::sigmoid_bwd(&y, &t(&dev, &r, &s)).unwrap();
        check(&format!("sigmoid dx on {dev}"), &x, &host(&dx), 200, |v| {
            dot(&host(&ops::elementwise::sigmoid_fwd(&t(&dev, v, &s)).unwrap()), &r)
        });
    }
}

#[test]
fn batchnorm_train_and_eval_match_pytorch_semantics() {
    for dev in devices("batchnorm_train_and_eval_match_pytorch_semantics") {
        let mut rng = Rng::new(35);
        let (n, c, h, w) = (3, 5, 4, 3);
        let s = [n, c, h, w];
        let x = uniform(&mut rng, n * c * h * w, -2.0, 3.0);
        let gamma = uniform(&mut rng, c, 0.5, 1.5);
        let beta = uniform(&mut rng, c, -0.5, 0.5);
        let (eps, mom) = (1e-5f32, 0.1f32);
        let fwd = |x: &[f32], g: &[f32], b: &[f32], rm: &mut Vec<f32>, rv: &mut Vec<f32>| {
            let (g, b) = (flat(&dev, g), flat(&dev, b));
            let (mut rmt, mut rvt) = (flat(&dev, rm), flat(&dev, rv));
            let out = ops::batchnorm::batchnorm_train_fwd(
                &t(&dev, x, &s),
                &g.view(),
                &b.view(),
                eps,
                mom,
                &mut rmt.view_mut().unwrap(),
                &mut rvt.view_mut().unwrap(),
            )
            .unwrap();
            (*rm, *rv) = (host(&rmt), host(&rvt));
            out
        };
        let (mut rm, mut rv) = (vec![0.0; c], vec![1.0; c]);
        let (y, saved) = fwd(&x, &gamma, &beta, &mut rm, &mut rv);
        let yv = host(&y);
        // Reference in f64.
        let m = (n * h * w) as f64;
        for ch in 0..c {
            let vals: Vec<f64> =
                (0..n).flat_map(|i| x[(i * c + ch) * h * w..][..h * w].iter().map(|&v| v as f64)).collect();
            let mean = vals.iter().sum::<f64>() / m;
            let var = vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / m;
            for i in 0..n {
                for k in 0..h * w {
                    let idx = (i * c + ch) * h * w + k;
                    let want = (x[idx] as f64 - mean) / (var + eps as f64).sqrt() * gamma[ch] as f64
                        + beta[ch] as f64;
                    assert!((yv[idx] as f64 - want).abs() < 1e-5, "bn forward on {dev}");
                }
            }
            assert!((rm[ch] as f64 - 0.1 * mean).abs() < 1e-6, "running mean");
            assert!(
                (rv[ch] as f64 - (0.9 + 0.1 * var * m / (m - 1.0))).abs() < 1e-5,
                "running var (unbiased)"
            );
        }
        // Gradients through the batch statistics.
        let r = uniform(&mut rng, x.len(), -1.0, 1.0);
        let (mut dg, mut db) = (flat(&dev, &vec![0f32; c]), flat(&dev, &vec![0f32; c]));
        let dx = ops::batchnorm::batchnorm_train_bwd(
            &t(&dev, &x, &s),
            &t(&dev, &r, &s),
            &flat(&dev, &gamma).view(),
            &saved,
            Some(&mut dg.view_mut().unwrap()),
            Some(&mut db.view_mut().unwrap()),
        )
        .unwrap();
        let loss = |x: &[f32], g: &[f32], b: &[f32]| {
            let (mut rm, mut rv) = (vec![0.0; c], vec![1.0; c]);
            dot(&host(&fwd(x, g, b, &mut rm, &mut rv).0), &r)
        };
        check(&format!("bn dx on {dev}"), &x, &host(&dx), 180, |v| loss(v, &gamma, &beta));
        check(&format!("bn dgamma on {dev}"), &gamma, &host(&dg), 10, |v| loss(&x, v, &beta));
        check(&format!("bn dbeta on {dev}"), &beta, &host(&db), 10, |v| loss(&x, &gamma, v));
        // Eval mode uses the running statistics.
        let ye = ops::batchnorm::batchnorm_eval_fwd(
            &t(&dev, &x, &s),
            &flat(&dev, &gamma).view(),
            &flat(&dev, &beta).view(),
            eps,
            &flat(&dev, &rm).view(),
            &flat(&dev, &rv).view(),
        )
        .unwrap();
        let ch = 2;
        let want = (x[ch * h * w] - rm[ch]) / (rv[ch] + eps).sqrt() * gamma[ch] + beta[ch];
        assert!((host(&ye)[ch * h * w] - want).abs() < 1e-5, "bn eval on {dev}");
    }
}

#[test]
fn maxpool_forward_and_gradient() {
    for dev in devices("maxpool_forward_and_gradient") {
        let mut rng = Rng::new(36);
        let (n, c, h, w) = (2, 3, 7, 6);
        let s = [n, c, h, w];
        // Distinct values 0.05 apart: a +-h perturbation never changes which input wins a window.
        let mut x: Vec<f32> = (0..n * c * h * w).map(|k| k as f32 * 0.05 - 6.0).collect();
        rng.shuffle(&mut x);
        let y = ops::pool2d::maxpool2_fwd(&t(&dev, &x, &s)).unwrap();
        assert_eq!(y.shape(), [n, c, 3, 3]);
        let yv = host(&y);
        for p in 0..n * c {
            for oy in 0..3 {
                for ox in 0..3 {
                    let m = [(0, 0), (0, 1), (1, 0), (1, 1)]
                        .iter()
                        .map(|(a, b)| x[(p * h + 2 * oy + a) * w + 2 * ox + b])
                        .fold(f32::MIN, f32::max);
                    assert_eq!(yv[(p * 3 + oy) * 3 + ox], m);
                }
            }
        }
        let r = uniform(&mut rng, y.numel(), -1.0, 1.0);
        let dx = ops::pool2d::maxpool2_bwd(&t(&dev, &x, &s), &t(&dev, &r, y.shape())).unwrap();
        check(&format!("maxpool dx on {dev}"), &x, &host(&dx), 252, |v| {
            dot(&host(&ops::pool2d::maxpool2_fwd(&t(&dev, v, &s)).unwrap()), &r)
        });
    }
}

#[test]
fn linear_forward_and_gradients() {
    for dev in devices("linear_forward_and_gradients") {
        let mut rng = Rng::new(37);
        let (n, i, o) = (5, 13, 7);
        let x = uniform(&mut rng, n * i, -1.0, 1.0);
        let w = uniform(&mut rng, o * i, -0.5, 0.5);
        let b = uniform(&mut rng, o, -0.5, 0.5);
        let fwd = |x: &[f32], w: &[f32], b: &[f32]| {
            let (w, b) = (flat(&dev, w), flat(&dev, b));
            host(&ops::linear::linear_fwd(&t(&dev, x, &[n, i]), &w.view(), Some(&b.view()), o).unwrap())
        };
        let y = fwd(&x, &w, &b);
        let want: Vec<f64> = (0..n * o)
            .map(|k| {
                b[k % o] as f64
                    + (0..i).map(|j| x[(k / o) * i + j] as f64 * w[(k % o) * i + j] as f64).sum::<f64>()
            })
            .collect();
        close(&format!("linear forward on {dev}"), &y, &want, 1e-5);
        let r = uniform(&mut rng, n * o, -1.0, 1.0);
        let (mut dw, mut db) = (flat(&dev, &vec![0f32; w.len()]), flat(&dev, &vec![0f32; o]));
        let dx = ops::linear::linear_bwd(
            &t(&dev, &x, &[n, i]),
            &flat(&dev, &w).view(),
            &t(&dev, &r, &[n, o]),
            o,
            true,
            Some(&mut dw.view_mut().unwrap()),
            Some(&mut db.view_mut().unwrap()),
        )
        .unwrap()
        .unwrap();
        check(&format!("linear dx on {dev}"), &x, &host(&dx), 100, |v| dot(&fwd(v, &w, &b), &r));
        check(&format!("linear dw on {dev}"), &w, &host(&dw), 100, |v| dot(&fwd(&x, v, &b), &r));
        check(&format!("linear db on {dev}"), &b, &host(&db), 100, |v| dot(&fwd(&x, &w, v), &r));
    }
}

#[test]
fn losses_match_definitions_and_finite_differences() {
    for dev in devices("losses_match_definitions_and_finite_differences") {
        let mut rng = Rng::new(38);
        let s = [2, 3, 5, 4];
        let n = 120;
        // Keep |p - t| away from 0 so L1's kink is never crossed by the +-h perturbation, and put
        // it on both sides of 1, where Huber turns linear: in [0.2, 0.8] or [1.2, 2.4] with either
        // sign, and exactly 1 and -1 at elements 0 and 1 (Huber is smooth enough there for a
        // central difference: 1 - h/4 against the slope 1).
        let mut tg = uniform(&mut rng, n, 0.0, 1.0);
        let mut p: Vec<f32> = tg
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let sign = if rng.uniform() < 0.5 { -1.0 } else { 1.0 };
                let (lo, hi) = if i % 2 == 0 { (0.2, 0.8) } else { (1.2, 2.4) };
                v + sign * (lo + (hi - lo) * rng.uniform_f32())
            })
            .collect();
        (p[0], tg[0], p[1], tg[1]) = (1.5, 0.5, -0.75, 0.25);
        let w = 0.7f32;
        type LossFn = fn(&Tensor, &Tensor, f32) -> ddr_engine::Result<(f64, Tensor)>;
        // Of d = p - t, rounded to f32 as the ops round it.
        type Definition = fn(f64) -> f64;
        let huber: Definition = |d| if d.abs() < 1.0 { 0.5 * d * d } else { d.abs() - 0.5 };
        let cases: [(&str, LossFn, Definition, f64); 4] = [
            ("l1", ops::loss::l1_mean, |d| d.abs(), 1.0 / n as f64),
            ("mse", ops::loss::mse_mean, |d| d * d, 1.0 / n as f64),
            ("sse", ops::loss::sse_sum, |d| d * d, 1.0),
            ("huber", ops::loss::huber_mean, huber, 1.0 / n as f64),
        ];
        for (name, f, def, norm) in cases {
            let (v, g) = f(&t(&dev, &p, &s), &t(&dev, &tg, &s), w).unwrap();
            let want: f64 =
                p.iter().zip(&tg).map(|(&a, &b)| def((a - b) as f64)).sum::<f64>() * norm * w as f64;
            assert!((v - want).abs() <= 1e-9 * want.abs().max(1.0), "{name} on {dev}: {v} vs {want}");
            check(&format!("{name} on {dev}"), &p, &host(&g), n, |pp| {
                f(&t(&dev, pp, &s), &t(&dev, &tg, &s), w).unwrap().0
            });
        }
        // Huber's gradient against its definition too: at this scale (w / n per element) the
        // finite differences cannot tell the clamped slope from the unclamped one for |d| just
        // above 1.
        let (_, g) = ops::loss::huber_mean(&t(&dev, &p, &s), &t(&dev, &tg, &s), w).unwrap();
        let want: Vec<f64> = p
            .iter()
            .zip(&tg)
            .map(|(&a, &b)| ((a - b) as f64).clamp(-1.0, 1.0) * w as f64 / n as f64)
            .collect();
        close(&format!("huber gradient on {dev}"), &host(&g), &want, 1e-6);
        // BCE with logits, at labels 1, 0 and a smoothed 0.9.
        let x = uniform(&mut rng, 16, -6.0, 6.0);
        for label in [1.0f32, 0.0, 0.9] {
            let (v, g) = ops::loss::bce_logits_mean_label(&t(&dev, &x, &[16, 1]), label, w).unwrap();
            let want: f64 = x
                .iter()
                .map(|&z| {
                    let sig = 1.0 / (1.0 + (-(z as f64)).exp());
                    -(label as f64 * sig.ln() + (1.0 - label as f64) * (1.0 - sig).ln())
                })
                .sum::<f64>()
                / 16.0
                * w as f64;
            assert!((v - want).abs() < 1e-9, "bce {label} on {dev}: {v} vs {want}");
            check(&format!("bce on {dev}"), &x, &host(&g), 16, |xx| {
                ops::loss::bce_logits_mean_label(&t(&dev, xx, &[16, 1]), label, w).unwrap().0
            });
        }
    }
}

#[test]
fn adam_ema_and_lerp_follow_their_formulas() {
    use ops::optim::{adam_step, ema, lerp, AdamStep};
    for dev in devices("adam_ema_and_lerp_follow_their_formulas") {
        let mut rng = Rng::new(39);
        let n = 100_003; // more than one parallel chunk, ragged end
        let p0 = uniform(&mut rng, n, -1.0, 1.0);
        let mut p = flat(&dev, &p0);
        let (mut m, mut v) = (flat(&dev, &vec![0f32; n]), flat(&dev, &vec![0f32; n]));
        let (mut pr, mut mr, mut vr) =
            (p0.iter().map(|&x| x as f64).collect::<Vec<_>>(), vec![0f64; n], vec![0f64; n]);
        for step in 1..=3u64 {
            let g = uniform(&mut rng, n, -1.0, 1.0);
            let h = AdamStep { lr: 2e-4, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 1e-3, step };
            adam_step(
                &h,
                &mut p.view_mut().unwrap(),
                &flat(&dev, &g).view(),
                &mut m.view_mut().unwrap(),
                &mut v.view_mut().unwrap(),
            )
            .unwrap();
            for i in 0..n {
                let gi = g[i] as f64 + 1e-3 * pr[i];
                mr[i] = 0.9 * mr[i] + 0.1 * gi;
                vr[i] = 0.99 * vr[i] + 0.01 * gi * gi;
                let mhat = mr[i] / (1.0 - 0.9f64.powi(step as i32));
                let vhat = vr[i] / (1.0 - 0.99f64.powi(step as i32));
                pr[i] -= 2e-4 * mhat / (vhat.sqrt() + 1e-8);
            }
        }
        let p_host = host(&p);
        close(&format!("adam on {dev}"), &p_host, &pr, 1e-6);
        let e0 = uniform(&mut rng, n, -1.0, 1.0);
        let want: Vec<f64> =
            e0.iter().zip(&p_host).map(|(&e, &p)| 0.999 * e as f64 + 0.001 * p as f64).collect();
        let mut e = flat(&dev, &e0);
        ema(0.999, &p.view(), &mut e.view_mut().unwrap()).unwrap();
        let e_host = host(&e);
        close(&format!("ema on {dev}"), &e_host, &want, 1e-6);
        let mut out = flat(&dev, &vec![f32::NAN; n]);
        lerp(&p.view(), &e.view(), 0.25, &mut out.view_mut().unwrap()).unwrap();
        let want: Vec<f64> =
            p_host.iter().zip(&e_host).map(|(&a, &b)| a as f64 + 0.25 * (b as f64 - a as f64)).collect();
        close(&format!("lerp on {dev}"), &host(&out), &want, 1e-6);
    }
}
