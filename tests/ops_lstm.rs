//! The LSTM cell op (`ops::lstm`) on every device the suite covers: the forward against its
//! formulas in f64, the backward against central finite differences (tests/common/gradcheck.rs)
//! of both outputs, h and c, with respect to both inputs, the gates and c_prev, with and without
//! dL/dc; and the shape and device errors.

mod common;

use common::gradcheck::{check, dot};
use common::{cuda_devices, devices, uniform};
use ddr_engine::ops::lstm::{lstm_cell_bwd, lstm_cell_fwd};
use ddr_engine::{Device, Rng, Tensor};

fn t(dev: &Device, v: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_slice(v, shape, dev).unwrap()
}

fn host(x: &Tensor) -> Vec<f32> {
    x.to_vec().unwrap()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// (h, c) of one LSTM step in f64, PyTorch's gate order i | f | g | o.
fn reference(b: usize, hid: usize, gates: &[f32], c_prev: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let (mut h, mut c) = (Vec::new(), Vec::new());
    for r in 0..b {
        for j in 0..hid {
            let x = |q: usize| gates[r * 4 * hid + q * hid + j] as f64;
            let (i, f, g, o) = (sigmoid(x(0)), sigmoid(x(1)), x(2).tanh(), sigmoid(x(3)));
            let ce = f * c_prev[r * hid + j] as f64 + i * g;
            c.push(ce);
            h.push(o * ce.tanh());
        }
    }
    (h, c)
}

#[test]
fn lstm_cell_matches_formulas_and_finite_differences() {
    for dev in devices("lstm_cell_matches_formulas_and_finite_differences") {
        let mut rng = Rng::new(40);
        for (b, hid) in [(1, 1), (1, 50), (3, 5), (2, 13)] {
            let n = b * hid;
            let gates = uniform(&mut rng, 4 * n, -3.0, 3.0);
            let c_prev = uniform(&mut rng, n, -2.0, 2.0);
            let (rh, rc) = (uniform(&mut rng, n, -1.0, 1.0), uniform(&mut rng, n, -1.0, 1.0));
            let (gs, cs) = ([b, 4 * hid], [b, hid]);
            let what = format!("lstm cell B={b} H={hid} on {dev}");
            let fwd = |g: &[f32], cp: &[f32]| {
                let (h, c) = lstm_cell_fwd(&t(&dev, g, &gs), &t(&dev, cp, &cs)).unwrap();
                assert_eq!((h.shape(), c.shape()), (&cs[..], &cs[..]), "{what}: output shapes");
                (host(&h), host(&c))
            };
            let (h, c) = fwd(&gates, &c_prev);
            let (want_h, want_c) = reference(b, hid, &gates, &c_prev);
            for (name, got, want) in [("h", &h, &want_h), ("c", &c, &want_c)] {
                for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
                    assert!((g as f64 - w).abs() <= 1e-6 * (1.0 + w.abs()), "{what}: {name}[{i}] {g} vs {w}");
                }
            }
            // L = sum(h rh) (+ sum(c rc) when dL/dc is given): dL/dh = rh, dL/dc = rc.
            for with_dc in [false, true] {
                let loss = |g: &[f32], cp: &[f32]| {
                    let (h, c) = fwd(g, cp);
                    dot(&h, &rh) + if with_dc { dot(&c, &rc) } else { 0.0 }
                };
                let rc_t = t(&dev, &rc, &cs);
                let (dgates, dc_prev) = lstm_cell_bwd(
                    &t(&dev, &gates, &gs),
                    &t(&dev, &c_prev, &cs),
                    &t(&dev, &c, &cs),
                    &t(&dev, &rh, &cs),
                    with_dc.then_some(&rc_t),
                )
                .unwrap();
                assert_eq!((dgates.shape(), dc_prev.shape()), (&gs[..], &cs[..]), "{what}: gradient shapes");
                let what = format!("{what}, with dc: {with_dc}");
                check(&format!("{what} dgates"), &gates, &host(&dgates), 80, |g| loss(g, &c_prev));
                check(&format!("{what} dc_prev"), &c_prev, &host(&dc_prev), 40, |cp| loss(&gates, cp));
            }
        }
    }
}

#[test]
fn lstm_cell_refuses_bad_shapes_and_mixed_devices() {
    let cpu = Device::Cpu;
    let z = |shape: &[usize]| Tensor::zeros(shape, &cpu).unwrap();
    let err = |r: ddr_engine::Result<(Tensor, Tensor)>| r.expect_err("an error").to_string();
    let e = err(lstm_cell_fwd(&z(&[2, 6]), &z(&[2, 1])));
    assert!(e.contains("6 columns") && e.contains("4 * hidden"), "{e}");
    let e = err(lstm_cell_fwd(&z(&[2, 8, 1]), &z(&[2, 2])));
    assert!(e.contains("[2, 8, 1]") && e.contains("[batch, 4 * hidden]"), "{e}");
    let e = err(lstm_cell_fwd(&z(&[0, 8]), &z(&[0, 2])));
    assert!(e.contains("empty batch"), "{e}");
    let e = err(lstm_cell_fwd(&z(&[2, 8]), &z(&[2, 3])));
    assert!(e.contains("c_prev has shape [2, 3]") && e.contains("[2, 2]"), "{e}");
    let e = err(lstm_cell_fwd(&z(&[2, 8]), &z(&[3, 2])));
    assert!(e.contains("c_prev has shape [3, 2]"), "{e}");
    let (g, s) = (z(&[2, 8]), z(&[2, 2]));
    let e = err(lstm_cell_bwd(&g, &s, &s, &z(&[2, 4]), None));
    assert!(e.contains("dh has shape [2, 4]"), "{e}");
    let e = err(lstm_cell_bwd(&g, &s, &s, &s, Some(&z(&[1, 2]))));
    assert!(e.contains("dc has shape [1, 2]"), "{e}");
    assert!(lstm_cell_bwd(&g, &s, &s, &s, Some(&s)).is_ok());

    let emu = Device::Cuda(cuda_devices("lstm_cell_refuses_bad_shapes_and_mixed_devices").remove(0));
    let on_emu = Tensor::zeros(&[2, 2], &emu).unwrap();
    let e = err(lstm_cell_fwd(&g, &on_emu));
    assert!(e.contains("lstm_cell_fwd: operands are on different devices"), "{e}");
    let e = err(lstm_cell_bwd(&g, &s, &s, &s, Some(&on_emu)));
    assert!(e.contains("lstm_cell_bwd: operands are on different devices"), "{e}");
}
