//! The LSTM cell kernels (kernels/lstm.cu) against the CPU reference (src/device/cpu/lstm.rs) on
//! random inputs of several shapes: one unit, one row of H = 50, ragged sizes, and a large one
//! past the CPU's parallel chunk. Gate pre-activations mix in saturating values (+-40), exact
//! zeros, values below 2^-12 (tanh's series branch) and a NaN; outputs are poisoned (NaN) before
//! each launch; the backward runs without and with dL/dc.
//!
//! Tolerance: none, bit-identical. Both sides compute each sigmoid and tanh in double on the
//! engine's own exp (src/device/cpu/fastmath.rs, kernels/fastmath.cuh), every step one IEEE
//! operation (explicit _rn intrinsics in the kernel, so nvcc cannot contract into FMAs), round
//! once to f32, and then do the cell's f32 arithmetic in the same order. Two runs of a kernel
//! give the same bytes.

mod common;

use common::{assert_bits_equal, cuda_devices, poisoned, uniform};
use ddr_engine::device::cpu::lstm as cpu;
use ddr_engine::device::cuda::{lstm as cuda, CudaBuf, CudaDevice};
use ddr_engine::Rng;

/// (batch, hidden): the last has 99,000 units (396,000 gates).
const SHAPES: [(usize, usize); 6] = [(1, 1), (1, 50), (3, 7), (5, 33), (32, 257), (96, 1031)];

/// Pre-activations uniform in [-6, 6], every 97th from element 5 on replaced by an edge value.
fn gate_inputs(rng: &mut Rng, n: usize) -> Vec<f32> {
    const EDGES: [f32; 6] = [0.0, 40.0, -40.0, 1e-5, -3e-9, f32::NAN];
    let mut v = uniform(rng, n, -6.0, 6.0);
    for (k, i) in (5..n).step_by(97).enumerate() {
        v[i] = EDGES[k % EDGES.len()];
    }
    v
}

/// Runs `launch` twice on outputs of `lens` poisoned with NaN; checks that the second run gives
/// the first's bytes and returns them.
fn run_twice(
    dev: &CudaDevice,
    what: &str,
    lens: [usize; 2],
    launch: impl Fn(&mut CudaBuf, &mut CudaBuf),
) -> [Vec<f32>; 2] {
    let once = || {
        let (mut a, mut b) = (poisoned(dev, lens[0]), poisoned(dev, lens[1]));
        launch(&mut a, &mut b);
        [dev.download(&a).unwrap(), dev.download(&b).unwrap()]
    };
    let first = once();
    let again = once();
    for k in 0..2 {
        assert_bits_equal(&format!("{what} output {k}, second run"), &again[k], &first[k]);
    }
    first
}

#[test]
fn lstm_cell_kernels_match_cpu_reference_and_repeat_exactly() {
    for dev in cuda_devices("lstm_cell_kernels_match_cpu_reference_and_repeat_exactly") {
        let mut rng = Rng::new(0x157);
        for (b, h) in SHAPES {
            let n = b * h;
            let gates = gate_inputs(&mut rng, 4 * n);
            let c_prev = uniform(&mut rng, n, -3.0, 3.0);
            let (dh, dc) = (uniform(&mut rng, n, -1.0, 1.0), uniform(&mut rng, n, -1.0, 1.0));
            let up = |v: &[f32]| dev.upload(v).unwrap();
            let (gates_d, c_prev_d, dh_d, dc_d) = (up(&gates), up(&c_prev), up(&dh), up(&dc));

            let what = format!("lstm_cell_fwd_f32 B={b} H={h}");
            let (mut want_h, mut want_c) = (vec![0f32; n], vec![0f32; n]);
            cpu::lstm_cell_fwd_f32(b, h, &gates, &c_prev, &mut want_h, &mut want_c);
            let [got_h, got_c] = run_twice(&dev, &what, [n, n], |hh, cc| {
                let (g, cp) = (gates_d.dev_view(), c_prev_d.dev_view());
                cuda::lstm_cell_fwd_f32(&dev, b, h, &g, &cp, &mut hh.dev_view_mut(), &mut cc.dev_view_mut())
                    .unwrap()
            });
            assert_bits_equal(&format!("{what} h"), &got_h, &want_h);
            assert_bits_equal(&format!("{what} c"), &got_c, &want_c);

            let c_d = up(&want_c);
            for with_dc in [false, true] {
                let what = format!("lstm_cell_bwd_f32 B={b} H={h} with dc: {with_dc}");
                let (mut want_dg, mut want_dcp) = (vec![0f32; 4 * n], vec![0f32; n]);
                let dc_cpu = with_dc.then_some(&dc[..]);
                cpu::lstm_cell_bwd_f32(
                    b,
                    h,
                    &gates,
                    &c_prev,
                    &want_c,
                    &dh,
                    dc_cpu,
                    &mut want_dg,
                    &mut want_dcp,
                );
                let [got_dg, got_dcp] = run_twice(&dev, &what, [4 * n, n], |dg, dcp| {
                    let (g, cp, c, dhv, dcv) = (
                        gates_d.dev_view(),
                        c_prev_d.dev_view(),
                        c_d.dev_view(),
                        dh_d.dev_view(),
                        dc_d.dev_view(),
                    );
                    let dcv = with_dc.then_some(&dcv);
                    let (mut dg, mut dcp) = (dg.dev_view_mut(), dcp.dev_view_mut());
                    cuda::lstm_cell_bwd_f32(&dev, b, h, &g, &cp, &c, &dhv, dcv, &mut dg, &mut dcp).unwrap()
                });
                assert_bits_equal(&format!("{what} dgates"), &got_dg, &want_dg);
                assert_bits_equal(&format!("{what} dc_prev"), &got_dcp, &want_dcp);
            }
        }
    }
}
