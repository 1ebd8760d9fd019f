//! FAIG on inputs whose answers are known in advance: a target that differs from its baseline in
//! one chosen filter, masking all filters or none (both on every device the suite covers), and
//! the gradient-map MSE of a hand-made pair.

mod common;

use common::devices;
use ddr_engine::data::Image;
use ddr_engine::faig::filters::rank;
use ddr_engine::faig::mask::outputs;
use ddr_engine::faig::score::{faig_scores, weight_change_scores};
use ddr_engine::faig::study::TestImage;
use ddr_engine::faig::{FilterIndex, ParamPath, PathRule};
use ddr_engine::metrics::image::gradient_map_mse_x1000;
use ddr_engine::nn::models::Arch;
use ddr_engine::{Device, Rng, Tensor};

fn random_image(rng: &mut Rng, h: usize, w: usize) -> Image {
    Image::new(3, h, w, (0..3 * h * w).map(|_| rng.uniform_f32()).collect()).unwrap()
}

/// A small x2 network, its weights as baseline, and the baseline with filter `f` moved.
struct Pair {
    net: Box<dyn ddr_engine::nn::models::SrNet>,
    p: ddr_engine::nn::Params,
    index: FilterIndex,
    base: Tensor,
    target: Tensor,
    images: Vec<TestImage>,
}

fn pair(dev: &Device, f: usize) -> Pair {
    let dev = dev.clone();
    let arch = Arch::Msrresnet { nf: 4, nb: 1, scale: 2, global_residual: true };
    let (net, p) = arch.build(&dev, 7).unwrap();
    let index = FilterIndex::new(p.specs());
    let base = p.values.deep_clone().unwrap();
    let mut t = base.to_vec().unwrap();
    for i in index.range(f) {
        t[i] += 0.3;
    }
    let target = Tensor::from_vec(t, &[p.len()], &dev).unwrap();
    let mut rng = Rng::new(3);
    let images = (0..2)
        .map(|_| TestImage {
            hr: random_image(&mut rng, 16, 16),
            blur: random_image(&mut rng, 8, 8),
            noise: random_image(&mut rng, 8, 8),
        })
        .collect();
    Pair { net, p, index, base, target, images }
}

#[test]
fn the_one_changed_filter_ranks_first_and_every_other_scores_zero() {
    for dev in devices("the_one_changed_filter_ranks_first_and_every_other_scores_zero") {
        // A filter in the middle of the network (the residual block's first conv).
        let f = pair(&dev, 0).index.layers[1].first + 5;
        let mut pr = pair(&dev, f);
        let path = ParamPath { base: &pr.base, target: &pr.target, steps: 8, rule: PathRule::Reference };
        let s = faig_scores(pr.net.as_mut(), &mut pr.p, &pr.index, &path, &pr.images, || ()).unwrap();
        assert!(s.blur[f] != 0.0, "the changed filter has a score");
        assert!(s.blur.iter().enumerate().all(|(g, &v)| g == f || v == 0.0), "unchanged filters score 0");
        // Its discriminative score is positive in one of the two rankings: it leads that one.
        let leading = if s.blur[f] > 0.0 { rank(&s.blur) } else { rank(&s.noise) };
        assert_eq!(leading[0], f);
        let (b, t) = (pr.base.to_vec().unwrap(), pr.target.to_vec().unwrap());
        let change = weight_change_scores(&pr.index, &b, &t);
        assert_eq!(rank(&change)[0], f);
        let size: f64 = pr.index.range(f).map(|i| b[i].abs() as f64).sum();
        let want = 9.0 * 0.3 / size;
        assert!(
            (change[f] - want).abs() < 1e-4 * want,
            "|delta| / |theta| over a 3x3 kernel: {} vs {want}",
            change[f]
        );
    }
}

#[test]
fn masking_every_filter_gives_the_baseline_and_masking_none_the_target() {
    for dev in devices("masking_every_filter_gives_the_baseline_and_masking_none_the_target") {
        // Every conv weight differs; biases are shared, so the filters are the whole difference.
        let mut pr = pair(&dev, 0);
        let mut rng = Rng::new(9);
        let mut t = pr.base.to_vec().unwrap();
        for f in 0..pr.index.total {
            for i in pr.index.range(f) {
                t[i] += 0.05 * rng.normal() as f32;
            }
        }
        let target = Tensor::from_vec(t.clone(), &[t.len()], &dev).unwrap();
        let b = pr.base.to_vec().unwrap();
        let all: Vec<usize> = (0..pr.index.total).collect();
        let run = |pr: &mut Pair, values: Vec<f32>| {
            let v = Tensor::from_vec(values, &[t.len()], &dev).unwrap();
            outputs(pr.net.as_mut(), &mut pr.p, &v, &pr.images).unwrap()
        };
        let (all_masked, none_masked) =
            (pr.index.blend(&t, &b, &all, 0.0).unwrap(), pr.index.blend(&t, &b, &[], 0.0).unwrap());
        let masked_all = run(&mut pr, all_masked);
        let baseline = run(&mut pr, b.clone());
        let masked_none = run(&mut pr, none_masked);
        let target_out = run(&mut pr, target.to_vec().unwrap());
        let data = |o: &(Vec<Image>, Vec<Image>)| -> Vec<Vec<f32>> {
            o.0.iter().chain(&o.1).map(|i| i.data.clone()).collect()
        };
        assert_eq!(data(&masked_all), data(&baseline));
        assert_eq!(data(&masked_none), data(&target_out));
        assert_ne!(
            data(&baseline),
            data(&target_out),
            "the two networks must differ for this to mean anything"
        );
    }
}

#[test]
fn gradient_map_mse_of_a_ramp_against_a_flat_image_is_the_hand_computed_value() {
    // Grey ramp 0, 0.5, 1 (luma = the grey value): central differences 0.25, 0.5, 0.25 (edges
    // replicated); against a flat image (gradient 0): 1000 x (0.0625 + 0.25 + 0.0625) / 3 = 125.
    let ramp = Image::new(3, 1, 3, [0.0, 0.5, 1.0].repeat(3)).unwrap();
    let flat = Image::new(3, 1, 3, vec![0.5; 9]).unwrap();
    let v = gradient_map_mse_x1000(&ramp, &flat);
    assert!((v - 125.0).abs() < 1e-3, "{v}");
    assert_eq!(gradient_map_mse_x1000(&ramp, &ramp), 0.0);
}
