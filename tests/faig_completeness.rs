//! FAIG's completeness property: the integrated gradients of all parameters add up to the change
//! in loss between the baseline and the target network, up to the Riemann sum's error, and that
//! error shrinks as the number of steps grows (O(1/N) for the reference rule, O(1/N^2) for
//! midpoints) until it meets the floor of f32 arithmetic: gradients accumulated in f32 over
//! hundreds of passes and thousands of pixels agree with the exact integral to about 1e-4
//! relative, so differences below 3e-4 are not resolvable and count as converged.

use ddr_engine::faig::integrate::loss_at;
use ddr_engine::faig::{integrated_gradients, ParamPath, PathRule};
use ddr_engine::nn::models::Arch;
use ddr_engine::{Device, Rng, Tensor};

#[test]
fn integrated_gradients_sum_to_the_loss_difference() {
    let dev = Device::Cpu;
    let arch = Arch::Msrresnet { nf: 8, nb: 1, scale: 2, global_residual: true };
    let (mut net, mut p) = arch.build(&dev, 1).unwrap();
    let base = p.values.deep_clone().unwrap();
    // A "fine-tuned" target: the baseline moved by a sizeable random step.
    let mut rng = Rng::new(2);
    let t: Vec<f32> = base.to_vec().unwrap().iter().map(|&v| v + 0.05 * rng.normal() as f32).collect();
    let target = Tensor::from_vec(t, &[p.len()], &dev).unwrap();
    let x = Tensor::from_vec((0..3 * 10 * 12).map(|_| rng.uniform_f32()).collect(), &[1, 3, 10, 12], &dev)
        .unwrap();
    let y = Tensor::from_vec((0..3 * 20 * 24).map(|_| rng.uniform_f32()).collect(), &[1, 3, 20, 24], &dev)
        .unwrap();

    let ends = ParamPath { base: &base, target: &target, steps: 1, rule: PathRule::Reference };
    let l1 = loss_at(net.as_mut(), &mut p, &ends, &x, &y, 1.0).unwrap();
    let l0 = loss_at(net.as_mut(), &mut p, &ends, &x, &y, 0.0).unwrap();
    let want = l1 - l0;
    assert!(want.abs() > 1.0, "the path must change the loss for the check to mean anything ({want})");
    let delta: Vec<f64> =
        target.to_vec().unwrap().iter().zip(base.to_vec().unwrap()).map(|(t, b)| (t - b) as f64).collect();

    for rule in [PathRule::Reference, PathRule::Midpoint] {
        let mut errors = Vec::new();
        for steps in [4, 16, 64, 256] {
            let path = ParamPath { base: &base, target: &target, steps, rule };
            let g = integrated_gradients(net.as_mut(), &mut p, &path, &x, &y).unwrap();
            let total: f64 = g.to_vec().unwrap().iter().zip(&delta).map(|(&g, d)| g as f64 * d).sum();
            errors.push(((total - want) / want).abs());
        }
        eprintln!("{rule:?}: relative errors for 4/16/64/256 steps: {errors:?}");
        const F32_FLOOR: f64 = 3e-4;
        assert!(
            errors.windows(2).all(|w| w[1] < w[0] || w[1] < F32_FLOOR),
            "{rule:?}: error does not shrink: {errors:?}"
        );
        assert!(errors[3] < 0.001, "{rule:?}: 256 steps still {:.3}% off", errors[3] * 100.0);
        if rule == PathRule::Reference {
            // First order: four times the steps, about a quarter of the error.
            assert!(errors.windows(2).all(|w| w[0] / w[1] > 3.0), "{errors:?}");
        }
    }
}
