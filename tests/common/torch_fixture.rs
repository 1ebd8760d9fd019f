//! Reading PyTorch fixtures (f32 safetensors written by tests/fixtures/safetensors_f32.py) and
//! comparing a network's parameter gradients with PyTorch's.

use ddr_engine::nn::Params;
use safetensors::SafeTensors;

/// The values and shape of tensor `name`.
pub fn tensor(st: &SafeTensors, name: &str) -> (Vec<f32>, Vec<usize>) {
    let t = st.tensor(name).unwrap_or_else(|e| panic!("fixture tensor {name}: {e}"));
    let v = t.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    (v, t.shape().to_vec())
}

pub fn max_abs(v: &[f32]) -> f32 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Every parameter's gradient in `p.grads` against the fixture's `grad.<name>`:
/// |ours - torch| <= 1e-5 + 1e-3 * max|torch| per tensor. With an L1 loss the output gradient
/// is sign(y - hr) / N, exact on both sides unless an output sits within rounding of its target,
/// so differences come from the f32 summation order of the convolutions' reductions.
pub fn assert_grads_match(what: &str, p: &Params, io: &SafeTensors) {
    let grads = p.grads.to_vec().unwrap();
    for s in p.specs() {
        let (g_want, shape) = tensor(io, &format!("grad.{}", s.name));
        assert_eq!(shape, s.shape, "{what}: shape of {}", s.name);
        let scale = max_abs(&g_want);
        assert!(scale > 0.0, "{what}: PyTorch's gradient of {} is zero; the check would be vacuous", s.name);
        let d = max_abs_diff(&grads[s.range()], &g_want);
        assert!(
            d <= 1e-5 + 1e-3 * scale,
            "{what}: gradient of {} differs by {d:e} (max |g| {scale:e})",
            s.name
        );
    }
}

/// Loads the fixture's `weight.<name>` tensors into `p`, after checking that both sides have the
/// same key names and every shape matches: a network laid out unlike the reference fails here.
pub fn load_weights(p: &mut Params, io: &SafeTensors) {
    let mut torch: Vec<&str> = io.names().iter().filter_map(|n| n.strip_prefix("weight.")).collect();
    torch.sort();
    let mut ours: Vec<&str> = p.specs().iter().map(|s| s.name.as_str()).collect();
    ours.sort();
    assert_eq!(ours, torch, "key names");
    let mut values = Vec::new();
    for s in p.specs() {
        let (v, shape) = tensor(io, &format!("weight.{}", s.name));
        assert_eq!(shape, s.shape, "{}", s.name);
        values.extend(v);
    }
    p.load_values(&values).unwrap();
}
