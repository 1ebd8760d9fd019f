//! `ddr-engine faig`: which filters make a fine-tuned network deblur or denoise.

use super::GlobalArgs;
use crate::faig::score::ScoreOptions;
use crate::faig::study::{Study, StudyInputs};
use crate::faig::{mask, modulate, score, PathRule};
use crate::nn::checkpoint::WeightSet;
use crate::Result;
use anyhow::Context;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Args)]
pub struct FaigArgs {
    #[command(subcommand)]
    cmd: FaigCommand,
}

#[derive(Subcommand)]
enum FaigCommand {
    /// Score every filter by integrated gradients along the baseline -> target path.
    Score(ScoreArgs),
    /// Mask the top filters of each ranking and measure what the network loses.
    Mask(MaskArgs),
    /// Blend the top filters between baseline and target to control restoration strength.
    Modulate(ModulateArgs),
}

/// The two networks and the test data, shared by the three subcommands.
#[derive(Args, Clone)]
struct Common {
    /// The baseline network (trained on clean LR).
    #[arg(long, value_name = "FILE")]
    baseline: PathBuf,
    /// The target network (fine-tuned from the baseline on blurry and noisy LR).
    #[arg(long, value_name = "FILE")]
    target: PathBuf,
    /// HR photos for the test images, or "builtin".
    #[arg(long, default_value = "builtin", value_name = "DIR")]
    photos: String,
    /// The two degradations: blur:SIGMA (21x21 Gaussian before the bilinear downscale) and
    /// noise:SIGMA (0-255 scale, after it), as FAIG's test data.
    #[arg(long, default_value = "blur:2,noise:25.5", value_name = "SPEC")]
    degradations: String,
    /// Test images (HR crops).
    #[arg(long, default_value_t = 10)]
    count: usize,
    /// HR crop side: a multiple of the networks' scale, at least 16 LR pixels.
    #[arg(long, default_value_t = 128)]
    crop: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Which weights of each checkpoint.
    #[arg(long, value_enum, default_value = "ema")]
    weights: WeightSet,
    /// Output folder.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

#[derive(Args)]
#[command(after_help = "Example:
  ddr-engine faig score --baseline out/runs/faig_baseline/model.safetensors \\
      --target out/runs/faig_target/model.safetensors --steps 100 --out out/faig

Writes scores_{blur,noise}.npy (discriminative FAIG scores per filter, state-dict order: every
k x k slice W[out, in] of every conv weight), ranking_{blur,noise}.txt (filter indices, best
first), the comparison rankings (input-space IG, weight change, random), filters.json (which
layer each index is in) and top_filters.md (where the top 1% sit, layer by layer).")]
struct ScoreArgs {
    #[command(flatten)]
    common: Common,
    /// Riemann steps along the path (the reference uses 100).
    #[arg(long, default_value_t = 100)]
    steps: usize,
    #[arg(long, value_enum, default_value = "reference")]
    rule: PathRule,
    /// Skip the input-space integrated-gradients comparison (it costs as much as FAIG).
    #[arg(long)]
    no_ig: bool,
}

#[derive(Args)]
#[command(
    after_help = "Run `faig score` first with the same --out. Writes masking.md and masking.json: for the
top 1/3/5/10% filters of each ranking (FAIG, input IG, weight change, random), replaced by the
baseline's, the change on blurry and on noisy inputs against the unmasked target (gradient-map
MSE x 1000 on luma; higher = more of that restoration lost) and the PSNR against ground truth."
)]
struct MaskArgs {
    #[command(flatten)]
    common: Common,
    /// Percentages of filters to mask, each in (0, 100].
    #[arg(long, default_value = "1,3,5,10", value_delimiter = ',', value_parser = percent)]
    percents: Vec<f64>,
}

#[derive(Args)]
#[command(
    after_help = "Run `faig score` first with the same --out. For lambda in the range, the top filters are set
to lambda * target + (1 - lambda) * baseline (biases stay the target's). Writes one image per
lambda and degradation, modulation.md/.csv (PSNR and output sharpness, the mean gradient
magnitude, against lambda) and modulation.png (the strength curves)."
)]
struct ModulateArgs {
    #[command(flatten)]
    common: Common,
    /// start:stop:step
    #[arg(long, default_value = "0:1.5:0.1")]
    lambda: String,
    /// Percentage of top filters to blend, in (0, 100].
    #[arg(long, default_value_t = 1.0, value_parser = percent)]
    percent: f64,
}

/// A share of the filters: more than none, at most all.
fn percent(s: &str) -> std::result::Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(p) if p > 0.0 && p <= 100.0 => Ok(p),
        Ok(_) => Err(format!("{s}% is not a share of the filters: use a percentage in (0, 100]")),
        Err(_) => Err(format!("'{s}' is not a number")),
    }
}

fn open(global: &GlobalArgs, c: &Common) -> Result<Study> {
    let inputs = StudyInputs {
        baseline: c.baseline.clone(),
        target: c.target.clone(),
        photos: c.photos.clone(),
        degradations: c.degradations.clone(),
        count: c.count,
        crop: c.crop,
        seed: c.seed,
        weights: c.weights,
    };
    let study = Study::load(&global.open_device()?, &inputs)?;
    std::fs::create_dir_all(&c.out).with_context(|| format!("cannot create {}", c.out.display()))?;
    Ok(study)
}

fn run_score(global: &GlobalArgs, a: &ScoreArgs) -> Result<()> {
    let mut study = open(global, &a.common)?;
    let opt = ScoreOptions { steps: a.steps, rule: a.rule, input_ig: !a.no_ig };
    let pb = indicatif::ProgressBar::new(opt.integrals(a.common.count) as u64);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} path integrals [{elapsed_precise} < {eta_precise}]",
        )
        .unwrap(),
    );
    let summary = score::score(&mut study, &a.common.out, opt, &|n| pb.inc(n))?;
    pb.finish_and_clear();
    eprintln!(
        "scored {} filters on {} images x 2 degradations x {} steps in {:.1} s (FAIG); rankings in {}",
        summary.filters,
        summary.images,
        a.steps,
        summary.faig_seconds,
        a.common.out.display()
    );
    Ok(())
}

fn run_mask(global: &GlobalArgs, a: &MaskArgs) -> Result<()> {
    let mut study = open(global, &a.common)?;
    print!("{}", mask::mask(&mut study, &a.common.out, &a.percents, a.common.seed)?);
    Ok(())
}

fn run_modulate(global: &GlobalArgs, a: &ModulateArgs) -> Result<()> {
    let lambdas = modulate::parse_lambdas(&a.lambda)?;
    let mut study = open(global, &a.common)?;
    print!("{}", modulate::modulate(&mut study, &a.common.out, &lambdas, a.percent)?);
    Ok(())
}

pub fn run(global: &GlobalArgs, a: &FaigArgs) -> Result<()> {
    match &a.cmd {
        FaigCommand::Score(x) => run_score(global, x),
        FaigCommand::Mask(x) => run_mask(global, x),
        FaigCommand::Modulate(x) => run_modulate(global, x),
    }
}
