//! The probe end to end (test sets from the built-in photos, feature taps, PCA, t-SNE, scores and
//! their nulls) on a network whose answer is known before it runs: its first layer is a
//! Laplacian high-pass filter and its residual block adds the local energy of that response, so
//! noise raises the tapped feature's energy and blur lowers it, and the degradations must come
//! out visibly separated (above the permutation nulls); sets that differ only in their random
//! draws must not.

use ddr_engine::data::photos;
use ddr_engine::nn::models::Arch;
use ddr_engine::probe::run::{probe, ProbeSettings};
use ddr_engine::probe::testsets::parse_sets;
use ddr_engine::Device;

const COUNT: usize = 24;

/// MSRResNet x2 with 4 channels and one residual block: the first convolution is a Laplacian of
/// input channel `o % 3` for output channel o, the block smooths (below); every other weight and
/// bias is 0 (the probe taps conv1 and rb1 only).
fn high_pass_network() -> (Box<dyn ddr_engine::nn::models::SrNet>, ddr_engine::nn::Params) {
    let arch = Arch::Msrresnet { nf: 4, nb: 1, scale: 2, global_residual: true };
    let (net, mut p) = arch.build(&Device::Cpu, 0).unwrap();
    let mut values = vec![0.0f32; p.len()];
    let spec = p.specs().iter().find(|s| s.name == "conv_first.weight").expect("conv_first.weight").clone();
    assert_eq!(spec.shape, [4, 3, 3, 3]);
    let laplacian = [0.0, -1.0, 0.0, -1.0, 4.0, -1.0, 0.0, -1.0, 0.0];
    for o in 0..4 {
        let at = spec.offset + (o * 3 + o % 3) * 9;
        values[at..at + 9].copy_from_slice(&laplacian);
    }
    // The residual block smooths the rectified high-pass response twice (3x3 box filters) and
    // adds 20 times that local energy to its input: rb1 reads how much high frequency an area has.
    for (name, gain) in [("body.0.conv1.weight", 1.0f32), ("body.0.conv2.weight", 20.0)] {
        let spec = p.specs().iter().find(|s| s.name == name).expect(name).clone();
        for o in 0..4 {
            let at = spec.offset + (o * 4 + o) * 9;
            values[at..at + 9].fill(gain / 9.0);
        }
    }
    p.load_values(&values).unwrap();
    (net, p)
}

fn settings() -> ProbeSettings {
    let sets = parse_sets("clean,blur:2-4,noise:5-30").unwrap();
    ProbeSettings {
        set_names: sets.iter().map(|s| s.name.clone()).collect(),
        sets,
        intra_groups: vec![vec!["noise:5".into(), "noise:30".into()]],
        layers: vec!["conv1".into(), "rb1".into()],
        lr_patch: 16,
        count: COUNT,
        runs: 2,
        pca_dims: 50,
        perplexity: 8.0,
        tsne_iters: 400,
        seed: 3,
        batch: 8,
    }
}

#[test]
fn a_high_pass_feature_separates_blur_and_noise_visibly() {
    let photos: Vec<_> = photos::builtin().unwrap().into_iter().map(|(_, img)| img).collect();
    let (mut net, mut p) = high_pass_network();
    let res = probe(net.as_mut(), &mut p, &photos, &settings(), &|| ()).unwrap();
    let m = &res.features[1];
    // Rows are set by set (clean, blur, noise first): energy of each set's features away from
    // the border, where zero padding makes the Laplacian respond to the image's level.
    let (c, h, w) = m.map_shape;
    let energy = |s: usize| {
        let mut sum = 0.0;
        for row in m.data[s * COUNT * m.dim..(s + 1) * COUNT * m.dim].chunks(m.dim) {
            for (ch, y, x) in
                (0..c).flat_map(|ch| (1..h - 1).flat_map(move |y| (1..w - 1).map(move |x| (ch, y, x))))
            {
                sum += (row[(ch * h + y) * w + x] as f64).powi(2);
            }
        }
        sum / (COUNT * c * (h - 2) * (w - 2)) as f64
    };
    let (clean, blur, noise) = (energy(0), energy(1), energy(2));
    assert!(noise > 2.0 * clean && clean > 1.3 * blur, "energy: clean {clean}, blur {blur}, noise {noise}");

    let g = &res.layers[1].main;
    assert!(g.pca.chi > g.pca_chi_null.p99, "PCA CHI {} vs its null {:?}", g.pca.chi, g.pca_chi_null);
    assert!(g.tsne_chi.mean > g.tsne_chi_null.p99, "t-SNE CHI {:?} vs {:?}", g.tsne_chi, g.tsne_chi_null);
    assert!(g.pca_knn > g.pca_knn_null.p99, "k-NN {} vs {:?}", g.pca_knn, g.pca_knn_null);
    assert!(g.tsne_knn.mean > g.tsne_knn_null.p99, "k-NN {:?} vs {:?}", g.tsne_knn, g.tsne_knn_null);
    // Noise of sigma 5 against 30: the stronger noise has 36x the energy.
    let i = &res.layers[0].intra[0];
    assert_eq!(i.sets, ["noise:5", "noise:30"]);
    assert!(i.pca.chi > i.pca_chi_null.p99, "noise 5 vs 30: {} vs {:?}", i.pca.chi, i.pca_chi_null);
}

#[test]
fn sets_that_differ_only_in_their_noise_draws_score_at_the_null() {
    // Three sets with the same degradation (sigma 20 noise), drawn independently: the set labels
    // carry no information the features could hold, so every score must sit within its null.
    let photos: Vec<_> = photos::builtin().unwrap().into_iter().map(|(_, img)| img).collect();
    let (mut net, mut p) = high_pass_network();
    let mut st = settings();
    st.sets = parse_sets("a=noise:20,b=noise:20,c=noise:20").unwrap();
    st.set_names = st.sets.iter().map(|s| s.name.clone()).collect();
    st.intra_groups.clear();
    let res = probe(net.as_mut(), &mut p, &photos, &st, &|| ()).unwrap();
    for l in &res.layers {
        let g = &l.main;
        assert!(g.pca.chi <= g.pca_chi_null.p99, "{}: PCA {} vs {:?}", l.layer, g.pca.chi, g.pca_chi_null);
        assert!(
            g.tsne_chi.mean <= g.tsne_chi_null.p99,
            "{}: t-SNE {:?} vs {:?}",
            l.layer,
            g.tsne_chi,
            g.tsne_chi_null
        );
        assert!(g.pca_knn <= g.pca_knn_null.p99, "{}: k-NN {} vs {:?}", l.layer, g.pca_knn, g.pca_knn_null);
    }
}
