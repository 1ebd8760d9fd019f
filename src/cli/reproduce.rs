//! `ddr-engine reproduce ddr`: the DDR paper end to end: train its networks, probe them, report.

use super::GlobalArgs;
use crate::reproduce::ddr::{ddr, DdrOptions};
use crate::reproduce::plan::Scale;
use crate::Result;
use clap::{Args, Subcommand};
use std::path::PathBuf;
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
        Study::Ddr(d) => run_ddr(global, d),
    }
}

fn run_ddr(global: &GlobalArgs, a: &DdrArgs) -> Result<()> {
    let t0 = Instant::now();
    let dev = global.open_device()?;
    let options = DdrOptions {
        scale: a.scale,
        out: a.out.clone(),
        train: a.train.clone(),
        photos: a.photos.clone(),
        vgg19: a.vgg19.clone(),
        vgg19_random: a.vgg19_random,
        seed: a.seed,
        quiet: a.quiet,
    };
    let report = ddr(&dev, &options)?;
    eprintln!(
        "done in {:.0} s. Report: {} (figures next to it; each network's probe in {})",
        t0.elapsed().as_secs_f64(),
        report.display(),
        a.out.join("probe").display()
    );
    Ok(())
}
