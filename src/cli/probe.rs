//! `ddr-engine probe`: deep degradation representations of a trained network.

use super::GlobalArgs;
use crate::device::Device;
use crate::nn::checkpoint::{self, WeightSet};
use crate::nn::models::Arch;
use crate::nn::models::SrNet;
use crate::nn::Params;
use crate::probe::report::{self, Subject};
use crate::probe::run::{probe, ProbeResult, ProbeSettings};
use crate::probe::testsets::parse_sets;
use crate::Result;
use clap::Args;
use image::RgbImage;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Args)]
#[command(after_help = "Example (the paper's analysis of one network):
  ddr-engine probe --ckpt out/runs/msr_wgr/model.safetensors --out out/probe/msr_wgr --intra

Builds test sets that share their content and differ only in the degradation, taps the network's
features at each layer, reduces them (PCA to 50, t-SNE to 2 for each of --runs seeds) and scores
how well the degradations separate (WD, BD, Calinski-Harabasz; the labels only score, they
never steer the embedding). Writes report.md, report.json, t-SNE scatter plots, feature-map
images and the features, labels and embeddings as .npy.")]
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

/// The paper's layer choice for a network's taps.
pub fn auto_layers(taps: &[String]) -> Vec<String> {
    let blocks: Vec<&String> = taps.iter().filter(|t| t.starts_with("rb")).collect();
    let mut layers = vec![taps[0].clone()];
    if !blocks.is_empty() {
        for q in 1..=4 {
            let i = (blocks.len() * q / 4).max(1) - 1;
            if !layers.contains(blocks[i]) {
                layers.push(blocks[i].clone());
            }
        }
    }
    layers
}

use crate::data::testset::load_photos;

pub fn run(global: &GlobalArgs, a: &ProbeArgs) -> Result<()> {
    let dev = global.open_device()?;
    let sets = parse_sets(&a.sets)?;
    let st = ProbeSettings {
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
    let layers = (a.layers != "auto").then(|| a.layers.split(',').map(|s| s.trim().to_string()).collect());
    let photos = load_photos(&a.photos)?;
    let ck = checkpoint::load(&a.ckpt, a.arch.as_ref())?;
    let (mut net, mut p) = ck.instantiate(&dev, a.weights)?;
    let subject = Subject {
        network: ck.arch.describe(),
        checkpoint: a.ckpt.display().to_string(),
        weights: format!("{:?}", a.weights).to_lowercase(),
        device: dev.to_string(),
    };
    let (res, _) =
        probe_network(&dev, net.as_mut(), &mut p, &subject, st, layers, &photos, &a.out, !a.no_features)?;
    for l in &res.layers {
        eprintln!(
            "{:>6}: CHI {:>9.2} ± {:<7.2} (t-SNE)  {:>9.2} (PCA-{})",
            l.layer, l.main.tsne_chi.mean, l.main.tsne_chi.std, l.main.pca.chi, a.pca_dims
        );
    }
    eprintln!("report: {}", Path::new(&a.out).join("report.md").display());
    Ok(())
}

/// Probes a trained network with a progress bar and writes its report into `out`. `layers`: None
/// for the paper's choice ([`auto_layers`]). Returns the result and the seconds it took.
#[allow(clippy::too_many_arguments)]
pub fn probe_network(
    dev: &Device,
    net: &mut dyn SrNet,
    p: &mut Params,
    subject: &Subject,
    mut st: ProbeSettings,
    layers: Option<Vec<String>>,
    photos: &[RgbImage],
    out: &Path,
    npy_features: bool,
) -> Result<(ProbeResult, f64)> {
    st.layers = layers.unwrap_or_else(|| auto_layers(&net.tap_names()));
    let total = st.layers.len() * (1 + st.intra_groups.len()) * st.runs;
    let pb = indicatif::ProgressBar::new(total as u64);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} t-SNE runs [{elapsed_precise} < {eta_precise}]",
        )
        .unwrap(),
    );
    let t0 = Instant::now();
    let res = probe(net, p, photos, &st, dev, &|| pb.inc(1))?;
    pb.finish_and_clear();
    let secs = t0.elapsed().as_secs_f64();
    report::write(out, subject, &st, &res, secs, npy_features)?;
    Ok((res, secs))
}
