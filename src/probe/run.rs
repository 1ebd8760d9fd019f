//! A whole DDR probe of one network: features of the paired test sets at each tapped layer, PCA
//! to 50 dimensions, t-SNE to 2 for several seeds, cluster scores with the degradation labels
//! (the labels only score, they never steer), plus the paper's intra-degradation groups.

use super::features::{extract, FeatureMatrix};
use super::testsets::{build, intra_sets, SetSpec, TestSets};
use crate::device::Device;
use crate::metrics::neighbours::{knn_accuracy, nearest_neighbours, KNN_K};
use crate::metrics::permutation::{permutation_null, Null, NULL_PERMUTATIONS};
use crate::metrics::{cluster_scores, ClusterScores};
use crate::nn::models::SrNet;
use crate::nn::Params;
use crate::reduce::{pca, tsne, Init, TsneConfig};
use crate::Result;
use anyhow::ensure;
use image::RgbImage;
use serde::Serialize;
use std::time::Instant;

/// What to probe and how.
#[derive(Clone, Debug, Serialize)]
pub struct ProbeSettings {
    /// The main sets (the paper's clean, blur:2-4, noise:5-30).
    #[serde(skip)]
    pub sets: Vec<SetSpec>,
    pub set_names: Vec<String>,
    /// Groups of intra-degradation sets to score on their own (e.g. noise:5+noise:10+noise:30).
    pub intra_groups: Vec<Vec<String>>,
    pub layers: Vec<String>,
    pub lr_patch: usize,
    pub count: usize,
    pub runs: usize,
    pub pca_dims: usize,
    pub perplexity: f64,
    pub tsne_iters: usize,
    pub seed: u64,
    pub batch: usize,
}

impl ProbeSettings {
    /// The paper's Table 3 groups.
    pub fn paper_intra_groups() -> Vec<Vec<String>> {
        [
            vec!["noise:5", "noise:10", "noise:30"],
            vec!["noise:10", "noise:30"],
            vec!["noise:10", "noise:20"],
            vec!["blur:1", "blur:4"],
        ]
        .into_iter()
        .map(|g| g.into_iter().map(String::from).collect())
        .collect()
    }
}

/// "PCA-50" for groups reduced to 50 dimensions, "PCA-16..50" when they differ (a group with
/// fewer points than --pca-dims keeps fewer).
pub fn pca_label<'a>(groups: impl IntoIterator<Item = &'a GroupScores>) -> String {
    let dims: Vec<usize> = groups.into_iter().map(|g| g.pca_dims).collect();
    match (dims.iter().min(), dims.iter().max()) {
        (Some(lo), Some(hi)) if lo != hi => format!("PCA-{lo}..{hi}"),
        (Some(k), _) => format!("PCA-{k}"),
        _ => "PCA".to_string(),
    }
}

/// Mean and (population) standard deviation over t-SNE runs.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct MeanStd {
    pub mean: f64,
    pub std: f64,
}

impl MeanStd {
    pub fn of(v: &[f64]) -> MeanStd {
        let n = v.len().max(1) as f64;
        let mean = v.iter().sum::<f64>() / n;
        MeanStd { mean, std: (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt() }
    }
}

/// The scores of one point set (a layer's features for some sets).
#[derive(Clone, Debug, Serialize)]
pub struct GroupScores {
    pub sets: Vec<String>,
    pub points: usize,
    pub feature_dim: usize,
    /// PCA dimensions kept: --pca-dims, fewer when the group has fewer points or features.
    pub pca_dims: usize,
    /// On the PCA features: stable, no embedding noise.
    pub pca: ClusterScores,
    /// On the t-SNE embeddings, over the runs.
    pub tsne_chi: MeanStd,
    pub tsne_wd: MeanStd,
    pub tsne_bd: MeanStd,
    pub tsne_kl: MeanStd,
    /// Label-permutation nulls of CHI (within-crop shuffles; see `metrics::permutation`): on the
    /// PCA features, and pooled over the t-SNE runs' maps.
    pub pca_chi_null: Null,
    pub tsne_chi_null: Null,
    /// Leave-one-out k-NN accuracy of the labels, with its null (same shuffles).
    pub pca_knn: f64,
    pub pca_knn_null: Null,
    pub tsne_knn: MeanStd,
    pub tsne_knn_null: Null,
    /// What the nulls and k-NN scores cost next to the t-SNE runs, in seconds (not in
    /// report.json, which a rerun with the same seed reproduces).
    #[serde(skip)]
    pub null_seconds: f64,
    #[serde(skip)]
    pub tsne_seconds: f64,
    pub runs: Vec<ClusterScores>,
    /// Per run, the N x 2 embedding (row-major); written as .npy.
    #[serde(skip)]
    pub embeddings: Vec<Vec<f32>>,
    #[serde(skip)]
    pub labels: Vec<i64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct LayerReport {
    pub layer: String,
    pub map_shape: (usize, usize, usize),
    pub main: GroupScores,
    pub intra: Vec<GroupScores>,
}

/// Everything a probe computed.
pub struct ProbeResult {
    pub layers: Vec<LayerReport>,
    pub testsets: TestSets,
    /// Per layer, the features of every set in order (rows: set by set, image by image).
    pub features: Vec<FeatureMatrix>,
}

/// A map's k-NN accuracy and the permutation nulls of its CHI and k-NN accuracy.
struct MapNulls {
    chi_null: Vec<f64>,
    knn: f64,
    knn_null: Vec<f64>,
}

/// Scores `n` points of `d` dims (`x`) against [`NULL_PERMUTATIONS`] shuffles of `labels`
/// within `blocks`, drawn from `seed`.
fn map_nulls<T: Copy + Into<f64> + Sync>(
    x: &[T],
    n: usize,
    d: usize,
    labels: &[i64],
    blocks: &[usize],
    seed: u64,
) -> Result<MapNulls> {
    let k = KNN_K.min(n - 1);
    let neighbours = nearest_neighbours(x, n, d, k)?;
    let chi = |l: &[i64]| Ok(cluster_scores(x, n, d, l)?.chi);
    Ok(MapNulls {
        chi_null: permutation_null(labels, blocks, NULL_PERMUTATIONS, seed, chi)?,
        knn: knn_accuracy(&neighbours, k, labels),
        knn_null: permutation_null(labels, blocks, NULL_PERMUTATIONS, seed, |l| {
            Ok(knn_accuracy(&neighbours, k, l))
        })?,
    })
}

/// The seed of the null of t-SNE run `run` (`None`: the PCA features) of a probe seeded `seed`.
fn null_seed(seed: u64, run: Option<usize>) -> u64 {
    const NULL_KEY: u64 = 0x6e75_6c6c;
    crate::Rng::derive(seed, &[NULL_KEY, run.map_or(0, |r| r as u64 + 1)]).next_u64()
}

/// Rows of `m` for the sets named in `group` (in the group's order), with labels = set index.
/// Row r of the result is crop `r % count` of its set: the block it is shuffled in by the nulls.
fn select(m: &FeatureMatrix, all: &[String], group: &[String], count: usize) -> Result<(Vec<f32>, Vec<i64>)> {
    let mut rows = Vec::with_capacity(group.len() * count * m.dim);
    let mut labels = Vec::with_capacity(group.len() * count);
    for name in group {
        let s = all.iter().position(|a| a == name).ok_or_else(|| anyhow::anyhow!("no test set '{name}'"))?;
        rows.extend_from_slice(&m.data[s * count * m.dim..(s + 1) * count * m.dim]);
        labels.extend(std::iter::repeat_n(s as i64, count));
    }
    Ok((rows, labels))
}

/// PCA, t-SNE runs and scores of one group of sets at one layer.
fn score_group(
    m: &FeatureMatrix,
    all: &[String],
    group: &[String],
    st: &ProbeSettings,
    dev: &Device,
    progress: &(dyn Fn() + Sync),
) -> Result<GroupScores> {
    let (x, labels) = select(m, all, group, st.count)?;
    let n = labels.len();
    ensure!(
        x.iter().all(|v| v.is_finite()),
        "layer {}: the network's features contain NaN or infinity",
        m.layer
    );
    let k = st.pca_dims.min(n).min(m.dim);
    let p = pca(&x, n, m.dim, k)?;
    let pca_scores = cluster_scores(&p.scores, n, k, &labels)?;
    // Paired sets: the versions of one crop are what a shuffle may exchange.
    let blocks: Vec<usize> = (0..n).map(|r| r % st.count).collect();
    let mut null_seconds = 0.0;
    let mut tsne_seconds = 0.0;
    let t = Instant::now();
    let pca_nulls = map_nulls(&p.scores, n, k, &labels, &blocks, null_seed(st.seed, None))?;
    null_seconds += t.elapsed().as_secs_f64();
    let (mut tsne_chi_null, mut tsne_knn, mut tsne_knn_null) = (Vec::new(), Vec::new(), Vec::new());
    let mut runs = Vec::new();
    let mut kls = Vec::new();
    let mut embeddings = Vec::new();
    for r in 0..st.runs {
        let cfg = TsneConfig {
            perplexity: st.perplexity,
            max_iter: st.tsne_iters,
            seed: st.seed + r as u64,
            // Seeded random starts, as in the paper: from the (deterministic) PCA start every run
            // would give the same map, and the std over runs would say nothing.
            init: Init::Random,
            ..Default::default()
        };
        let t = Instant::now();
        let res = tsne(&p.scores, n, k, &cfg, dev, &|_| {})?;
        tsne_seconds += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let nulls = map_nulls(&res.embedding, n, 2, &labels, &blocks, null_seed(st.seed, Some(r)))?;
        null_seconds += t.elapsed().as_secs_f64();
        tsne_chi_null.extend(nulls.chi_null);
        tsne_knn.push(nulls.knn);
        tsne_knn_null.extend(nulls.knn_null);
        runs.push(cluster_scores(&res.embedding, n, 2, &labels)?);
        kls.push(res.kl);
        embeddings.push(res.embedding);
        progress();
    }
    let pick = |f: fn(&ClusterScores) -> f64| MeanStd::of(&runs.iter().map(f).collect::<Vec<_>>());
    Ok(GroupScores {
        pca_dims: k,
        sets: group.to_vec(),
        points: n,
        feature_dim: m.dim,
        pca: pca_scores,
        tsne_chi: pick(|s| s.chi),
        tsne_wd: pick(|s| s.wd),
        tsne_bd: pick(|s| s.bd),
        tsne_kl: MeanStd::of(&kls),
        pca_chi_null: Null::of(&pca_nulls.chi_null),
        tsne_chi_null: Null::of(&tsne_chi_null),
        pca_knn: pca_nulls.knn,
        pca_knn_null: Null::of(&pca_nulls.knn_null),
        tsne_knn: MeanStd::of(&tsne_knn),
        tsne_knn_null: Null::of(&tsne_knn_null),
        null_seconds,
        tsne_seconds,
        runs,
        embeddings,
        labels,
    })
}

/// CHI of a group's t-SNE maps with the source photo of each crop as the label: content, where
/// the probe's labels are degradations.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ContentScores {
    pub chi: MeanStd,
    /// Photos shuffled among the crops of each set, pooled over the maps.
    pub null: Null,
}

/// The content scores of `g` (rows set by set, `count` crops each; crop i cut from photo
/// `crop_photos[i]`); None when every crop comes from one photo.
pub fn content_scores(
    g: &GroupScores,
    crop_photos: &[usize],
    count: usize,
    seed: u64,
) -> Result<Option<ContentScores>> {
    ensure!(crop_photos.len() == count, "{} crop origins for {count} crops", crop_photos.len());
    let labels: Vec<i64> = (0..g.points).map(|r| crop_photos[r % count] as i64).collect();
    let mut distinct = labels.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 2 {
        return Ok(None);
    }
    // Under "the features ignore content", the crops of one set are exchangeable.
    let blocks: Vec<usize> = (0..g.points).map(|r| r / count).collect();
    let (mut chi, mut null) = (Vec::new(), Vec::new());
    for (r, e) in g.embeddings.iter().enumerate() {
        chi.push(cluster_scores(e, g.points, 2, &labels)?.chi);
        let score = |l: &[i64]| Ok(cluster_scores(e, g.points, 2, l)?.chi);
        const CONTENT_KEY: u64 = 0x636f_6e74;
        let seed = crate::Rng::derive(seed, &[CONTENT_KEY, r as u64]).next_u64();
        null.extend(permutation_null(&labels, &blocks, NULL_PERMUTATIONS, seed, score)?);
    }
    Ok(Some(ContentScores { chi: MeanStd::of(&chi), null: Null::of(&null) }))
}

/// Runs the probe on the network's device. `progress` is called after every t-SNE run.
pub fn probe(
    net: &mut dyn SrNet,
    p: &mut Params,
    photos: &[RgbImage],
    st: &ProbeSettings,
    progress: &(dyn Fn() + Sync),
) -> Result<ProbeResult> {
    // t-SNE runs where the network does.
    let dev = &p.device();
    let known = net.tap_names();
    for l in &st.layers {
        ensure!(
            known.contains(l),
            "{} has no layer '{l}'; it has: {}",
            net.arch().describe(),
            known.join(", ")
        );
    }
    ensure!(st.runs >= 1, "at least one t-SNE run is needed");
    // The scores measure how test sets separate: one set, or one image per set, has no clusters.
    ensure!(
        st.sets.len() >= 2,
        "--sets needs at least 2 test sets (got {}): CHI, WD and BD score how the sets' features separate",
        st.sets.len()
    );
    ensure!(st.count >= 2, "--count must be at least 2: each set needs 2 images to form a cluster");
    ensure!(st.pca_dims >= 1, "--pca-dims must be at least 1");
    let mut specs = st.sets.clone();
    for g in &st.intra_groups {
        for name in g {
            if !specs.iter().any(|s| &s.name == name) {
                let spec = intra_sets()
                    .into_iter()
                    .find(|s| &s.name == name)
                    .map_or_else(|| name.parse::<SetSpec>(), Ok)?;
                specs.push(spec);
            }
        }
    }
    let scale = net.arch().scale();
    let ts = build(photos, st.count, st.lr_patch, scale, &specs, st.seed)?;
    let names: Vec<String> = ts.sets.iter().map(|s| s.spec.name.clone()).collect();
    let images: Vec<&crate::data::Image> = ts.sets.iter().flat_map(|s| s.lr.iter()).collect();
    let features = extract(net, p, &images, &st.layers, st.batch)?;
    let main: Vec<String> = st.sets.iter().map(|s| s.name.clone()).collect();
    let mut layers = Vec::new();
    for m in &features {
        let main_scores = score_group(m, &names, &main, st, dev, progress)?;
        let intra = st
            .intra_groups
            .iter()
            .map(|g| score_group(m, &names, g, st, dev, progress))
            .collect::<Result<_>>()?;
        layers.push(LayerReport { layer: m.layer.clone(), map_shape: m.map_shape, main: main_scores, intra });
    }
    Ok(ProbeResult { layers, testsets: ts, features })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rng;

    const COUNT: usize = 10;
    const DIM: usize = 6;

    fn settings() -> ProbeSettings {
        ProbeSettings {
            sets: Vec::new(),
            set_names: ["a", "b", "c"].map(String::from).to_vec(),
            intra_groups: Vec::new(),
            layers: Vec::new(),
            lr_patch: 8,
            count: COUNT,
            runs: 1,
            pca_dims: 50,
            perplexity: 5.0,
            tsne_iters: 500,
            seed: 0,
            batch: 1,
        }
    }

    /// Three sets of COUNT rows (set by set, as the probe stores them); row r sits at offset 6
    /// along axis `cluster(r)`, plus unit noise.
    fn features(cluster: impl Fn(usize) -> usize) -> FeatureMatrix {
        let mut rng = Rng::new(4);
        let rows = 3 * COUNT;
        let mut data = Vec::with_capacity(rows * DIM);
        for r in 0..rows {
            data.extend((0..DIM).map(|j| rng.normal() as f32 + if j == cluster(r) { 6.0 } else { 0.0 }));
        }
        FeatureMatrix { layer: "x".into(), rows, dim: DIM, map_shape: (DIM, 1, 1), data }
    }

    fn score(m: &FeatureMatrix, group: &[&str]) -> GroupScores {
        let st = settings();
        let group: Vec<String> = group.iter().map(|s| s.to_string()).collect();
        score_group(m, &st.set_names, &group, &st, &Device::Cpu, &|| {}).unwrap()
    }

    #[test]
    fn pca_scores_of_clusters_by_set_equal_the_closed_form_on_the_raw_rows() {
        let m = features(|r| r / COUNT);
        // Group "c, a": rows 20..30 then 0..10, labelled by set. With every component kept, PCA is
        // a rotation and CHI is the same as on the raw rows.
        let g = score(&m, &["c", "a"]);
        let rows: Vec<f32> =
            m.data[2 * COUNT * DIM..].iter().chain(&m.data[..COUNT * DIM]).copied().collect();
        let labels: Vec<i64> = (0..2 * COUNT).map(|i| (i / COUNT) as i64).collect();
        let want = crate::metrics::cluster_scores(&rows, 2 * COUNT, DIM, &labels).unwrap().chi;
        assert_eq!(g.pca_dims, DIM);
        assert!((g.pca.chi - want).abs() < 1e-6 * want, "{} vs {want}", g.pca.chi);
        assert!(want > 50.0, "the sets are far apart: {want}");
        assert!(g.tsne_chi.mean > 10.0, "t-SNE separates them too: {}", g.tsne_chi.mean);
        // Above their nulls (which swap each crop's two rows between the sets, so at 10 crops
        // one shuffle in 2^10 relabels every row and reaches the observed CHI).
        assert!(g.pca.chi > 2.0 * g.pca_chi_null.p99, "{} vs {:?}", g.pca.chi, g.pca_chi_null);
        assert!(g.tsne_chi.mean > g.tsne_chi_null.p99, "{:?}", g.tsne_chi_null);
        assert_eq!(g.pca_chi_null.permutations, NULL_PERMUTATIONS);
        // Every point's neighbours are its set-mates; chance is a half.
        assert_eq!((g.pca_knn, g.tsne_knn.mean), (1.0, 1.0));
        assert!((0.3..0.7).contains(&g.pca_knn_null.mean), "{:?}", g.pca_knn_null);
    }

    #[test]
    fn clusters_unrelated_to_the_sets_score_at_the_null() {
        // The same geometry, but cluster membership cycles across the sets: every set holds all
        // three clusters, so labels by set carry no information.
        let m = features(|r| r % 3);
        let g = score(&m, &["a", "b", "c"]);
        assert!(g.pca.chi < 3.0, "PCA CHI {} under labels unrelated to the clusters", g.pca.chi);
        assert!(g.pca.chi <= g.pca_chi_null.p99, "{} vs {:?}", g.pca.chi, g.pca_chi_null);
        assert!(g.tsne_chi.mean <= g.tsne_chi_null.p99, "{} vs {:?}", g.tsne_chi.mean, g.tsne_chi_null);
        assert!(g.pca_knn <= g.pca_knn_null.p99, "{} vs {:?}", g.pca_knn, g.pca_knn_null);
        let by_set = score(&features(|r| r / COUNT), &["a", "b", "c"]);
        assert!(by_set.pca.chi > 20.0 * g.pca.chi, "{} vs {}", by_set.pca.chi, g.pca.chi);
    }

    /// Crop i comes from photo i % 2. Features depend on the photo (offset 6 along axis
    /// `photo`) and the crop (unit noise drawn once per crop), with a little noise per row.
    fn content_features() -> (FeatureMatrix, Vec<usize>) {
        let photos: Vec<usize> = (0..COUNT).map(|i| i % 2).collect();
        let mut rng = Rng::new(5);
        let crop: Vec<Vec<f32>> = (0..COUNT)
            .map(|i| (0..DIM).map(|j| rng.normal() as f32 + if j == photos[i] { 6.0 } else { 0.0 }).collect())
            .collect();
        let rows = 3 * COUNT;
        let data =
            (0..rows).flat_map(|r| crop[r % COUNT].clone()).map(|v| v + 0.1 * rng.normal() as f32).collect();
        (FeatureMatrix { layer: "x".into(), rows, dim: DIM, map_shape: (DIM, 1, 1), data }, photos)
    }

    #[test]
    fn features_of_content_alone_score_content_and_not_degradation() {
        let (m, photos) = content_features();
        let g = score(&m, &["a", "b", "c"]);
        assert!(g.pca.chi <= g.pca_chi_null.p99, "degradation on PCA: {} vs {:?}", g.pca.chi, g.pca_chi_null);
        assert!(g.tsne_chi.mean <= g.tsne_chi_null.p99, "{} vs {:?}", g.tsne_chi.mean, g.tsne_chi_null);
        let c = content_scores(&g, &photos, COUNT, 0).unwrap().unwrap();
        assert!(c.chi.mean > 10.0 && c.chi.mean > c.null.p99, "content: {:?}", c);
        // A single photo has no content labels.
        assert!(content_scores(&g, &[0; COUNT], COUNT, 0).unwrap().is_none());
        assert!(content_scores(&g, &[0; 3], COUNT, 0).is_err());
    }
}
