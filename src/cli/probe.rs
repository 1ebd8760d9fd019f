//! `ddr-engine probe`: deep degradation representations of a trained network.

use super::GlobalArgs;
use crate::data::testset::load_photos;
use crate::nn::checkpoint::{self, WeightSet};
use crate::nn::models::Arch;
use crate::probe::report::Subject;
use crate::probe::run::ProbeSettings;
use crate::probe::study::{layers_at_quarters, probe_network, ReportTo, EVERY_QUARTER};
use crate::probe::testsets::parse_sets;
use crate::Result;
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args)]
#[command(after_help = "Example (the paper's analysis of one network):
  ddr-engine probe --ckpt out/runs/msr_wgr/model.safetensors --out out/probe/msr_wgr --intra

Builds test sets that share their content and differ only in the degradation, taps the network's
features at each layer, reduces them (PCA to 50, t-SNE to 2 for each of --runs seeds) and scores
how well the degradations separate (WD, BD, Calinski-Harabasz, and leave-one-out 10-NN accuracy;
the labels only score, they never steer the embedding). Each score comes with its
label-permutation null: 200 seeded shuffles of the set labels among the versions of each crop,
scored on the same features or map; a score above the null's 99th percentile is 'visible'.
Writes report.md, report.json, t-SNE scatter plots, feature-map images and the features, labels
and embeddings as .npy.")]
pub struct ProbeArgs {
    /// The network (a checkpoint from `ddr-engine train`).
    #[arg(long, value_name = "FILE")]
    ckpt: PathBuf,
    /// Output folder.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Folder of HR photos to cut test images from, or "builtin" for the photos that ship with
    /// ddr-engine.
    #[arg(long, default_value = "builtin", value_name = "DIR")]
    photos: String,
    /// Test sets: clean, blur:SIGMA[-SIGMA] (15x15 Gaussian on the LR), noise:SIGMA[-SIGMA]
    /// (0-255 scale), or NAME=PIPELINE.
    #[arg(long, default_value = "clean,blur:2-4,noise:5-30", value_name = "SETS")]
    sets: String,
    /// Layers to tap (comma-separated); "auto" = conv1 and the residual blocks at 1/4, 1/2, 3/4
    /// and all of the depth (the paper's Conv1, RB4, RB8, RB12, RB16).
    #[arg(long, default_value = "auto", value_name = "LAYERS")]
    layers: String,
    /// Also score the paper's intra-degradation groups: noise {5,10,30}, {10,30}, {10,20}, blur {1,4}.
    #[arg(long)]
    intra: bool,
    /// LR patch side.
    #[arg(long, default_value_t = 32)]
    patch: usize,
    /// Images per set.
    #[arg(long, default_value_t = 100)]
    count: usize,
    /// t-SNE runs (seeds seed, seed+1, ...); scores are reported as mean and std over runs.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    #[arg(long, default_value_t = 50)]
    pca_dims: usize,
    #[arg(long, default_value_t = 30.0)]
    perplexity: f64,
    #[arg(long, default_value_t = 1000)]
    tsne_iters: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Images per forward pass.
    #[arg(long, default_value_t = 50)]
    batch: usize,
    #[arg(long, value_enum, default_value = "ema")]
    weights: WeightSet,
    /// Do not write the (large) feature matrices as .npy.
    #[arg(long)]
    no_features: bool,
    /// Architecture for checkpoints that do not record one.
    #[arg(long, value_name = "SPEC")]
    arch: Option<Arch>,
}

pub fn run(global: &GlobalArgs, a: &ProbeArgs) -> Result<()> {
    let dev = global.open_device()?;
    let sets = parse_sets(&a.sets)?;
    let mut st = ProbeSettings {
        set_names: sets.iter().map(|s| s.name.clone()).collect(),
        sets,
        intra_groups: if a.intra { ProbeSettings::paper_intra_groups() } else { Vec::new() },
        layers: Vec::new(),
        lr_patch: a.patch,
        count: a.count,
        runs: a.runs,
        pca_dims: a.pca_dims,
        perplexity: a.perplexity,
        tsne_iters: a.tsne_iters,
        seed: a.seed,
        batch: a.batch,
    };
    let photos = load_photos(&a.photos)?;
    let ck = checkpoint::load(&a.ckpt, a.arch.as_ref())?;
    let (mut net, mut p) = ck.instantiate(&dev, a.weights)?;
    st.layers = match a.layers.as_str() {
        "auto" => layers_at_quarters(&net.tap_names(), &EVERY_QUARTER),
        list => list.split(',').map(|s| s.trim().to_string()).collect(),
    };
    let to = ReportTo {
        dir: &a.out,
        subject: Subject {
            network: ck.arch.describe(),
            checkpoint: a.ckpt.display().to_string(),
            weights: format!("{:?}", a.weights).to_lowercase(),
            device: dev.to_string(),
        },
        npy_features: !a.no_features,
    };
    let (res, _) = probe_network(net.as_mut(), &mut p, &photos, &st, &to)?;
    for l in &res.layers {
        let g = &l.main;
        eprintln!(
            "{:>6}: CHI {:>9.2} ± {:<7.2} (t-SNE; null p99 {:.2})  {:>9.2} (PCA-{}; null p99 {:.2})",
            l.layer,
            g.tsne_chi.mean,
            g.tsne_chi.std,
            g.tsne_chi_null.p99,
            g.pca.chi,
            g.pca_dims,
            g.pca_chi_null.p99
        );
    }
    eprintln!("report: {}", Path::new(&a.out).join("report.md").display());
    Ok(())
}
