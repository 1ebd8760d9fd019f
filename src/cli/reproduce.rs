//! `ddr-engine reproduce ddr`: the DDR paper end to end: train its networks, probe them, report.

use super::GlobalArgs;
use crate::reproduce::ddr::{ddr, DdrOptions};
use crate::reproduce::plan::Scale;
use crate::reproduce::sft::{sft, SftOptions};
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
    /// SFT conditions: an SFT generator with true sigma maps vs zero maps vs MSRResNet of equal
    /// compute on spatially varying blur and noise, and a sweep of the maps at test time.
    Sft(SftArgs),
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
    #[command(flatten)]
    study: StudyArgs,
    /// VGG19 weights for the perceptual loss (scripts/fetch-vgg19.sh makes them).
    #[arg(long, value_name = "FILE")]
    vgg19: Option<PathBuf>,
    /// Small seeded random VGG19 weights instead (smoke runs; the demo's default).
    #[arg(long, conflicts_with = "vgg19")]
    vgg19_random: bool,
}

/// What every study takes: its scale, output folder, data and seed.
#[derive(Args)]
struct StudyArgs {
    #[arg(long, value_enum, default_value = "demo")]
    scale: Scale,
    /// Output folder (configs/, runs/, report.md and what the study writes beside it).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Pack of HR training photos (`ddr-engine data pack`). Required for cpu and paper; the demo
    /// packs three of the built-in photos.
    #[arg(long, value_name = "PACK")]
    train: Option<PathBuf>,
    /// Held-out HR photos for validation and the tests: a folder, or "builtin". Default:
    /// builtin (the demo: the two built-in photos it does not train on).
    #[arg(long, value_name = "DIR")]
    photos: Option<String>,
    /// Seed of the test images (and of the first t-SNE run).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// No training progress bars.
    #[arg(long)]
    quiet: bool,
}

pub fn run(global: &GlobalArgs, a: &ReproduceArgs) -> Result<()> {
    match &a.study {
        Study::Ddr(d) => run_ddr(global, d),
        Study::Sft(s) => run_sft(global, s),
    }
}

fn run_ddr(global: &GlobalArgs, a: &DdrArgs) -> Result<()> {
    let t0 = Instant::now();
    let dev = global.open_device()?;
    let s = &a.study;
    let options = DdrOptions {
        scale: s.scale,
        out: s.out.clone(),
        train: s.train.clone(),
        photos: s.photos.clone(),
        vgg19: a.vgg19.clone(),
        vgg19_random: a.vgg19_random,
        seed: s.seed,
        quiet: s.quiet,
    };
    let report = ddr(&dev, &options)?;
    eprintln!(
        "done in {:.0} s. Report: {} (figures next to it; each network's probe in {})",
        t0.elapsed().as_secs_f64(),
        report.display(),
        s.out.join("probe").display()
    );
    Ok(())
}

#[derive(Args)]
#[command(after_help = "Examples:
  ddr-engine reproduce sft --scale demo --out out/sft_demo
  scripts/fetch-photos.sh out/photos
  ddr-engine data pack out/photos/wallpapers --downscale 2 -o out/photos/wallpapers_half.pack
  ddr-engine reproduce sft --scale cpu --out out/sft_cpu --train out/photos/wallpapers_half.pack

Trains three networks alike (L1, on HR photos whose Gaussian blur, sigma 0-4, and noise, sigma
0-50, ramp across each patch before bicubic x4 down): the SFT generator fed the true per-pixel
sigma maps, the same generator fed maps of zeros, and MSRResNet with as many weights (and so
multiply-adds per pixel). Scores them by PSNR-Y on held-out crops with their own ramps, then
sweeps the conditioned network's noise map and blur map at test time on uniformly degraded
crops and measures how its restoration strength (output mean gradient) follows. Writes
OUT/report.md, psnr.csv, controllability.csv and controllability_{noise,blur}.png.

Scales: demo (minutes: nf 16, 4 blocks, 300 iterations on three built-in photos, tested on the
other two), cpu (nf 32, 8 blocks, 1500 iterations of batch 8), paper (SFT-GAN's generator sizes,
300k iterations: for a GPU).

Runs already in OUT/runs with the same configuration are reused; an interrupted run resumes.")]
pub struct SftArgs {
    #[command(flatten)]
    study: StudyArgs,
}

fn run_sft(global: &GlobalArgs, a: &SftArgs) -> Result<()> {
    let t0 = Instant::now();
    let dev = global.open_device()?;
    let s = &a.study;
    let options = SftOptions {
        scale: s.scale,
        out: s.out.clone(),
        train: s.train.clone(),
        photos: s.photos.clone(),
        seed: s.seed,
        quiet: s.quiet,
    };
    let report = sft(&dev, &options)?;
    eprintln!(
        "done in {:.0} s. Report: {} (curves and per-crop scores next to it)",
        t0.elapsed().as_secs_f64(),
        report.display()
    );
    Ok(())
}
