//! `ddr-engine train`: fit an SR network as a configuration file says.

use super::GlobalArgs;
use crate::train::curves::write_curves;
use crate::train::{train, TrainConfig, TrainOptions};
use crate::Result;
use anyhow::bail;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
#[command(after_help = "Examples:
  ddr-engine train --config docs/configs/msrresnet_cpu.toml --out runs/msr_wgr
  ddr-engine train --config docs/configs/msrresnet_cpu.toml --out runs/msr_wogr --set model.global_residual=false
  ddr-engine train --config docs/configs/msrresnet_cpu.toml --out runs/msr_wgr --resume
  ddr-engine train --config docs/configs/srgan_cpu.toml --out runs/srgan --vgg19 vgg19.safetensors

The run folder gets config.toml (the resolved configuration), metrics.jsonl (loss, learning rate,
validation PSNR of the EMA and raw weights against bicubic), curves.png (those validations drawn,
redrawn after each; --redraw redraws it alone), ckpt/latest.safetensors (with optimiser state, for --resume),
ckpt/step_N.safetensors every run.ckpt_every iterations, and model.safetensors at the end (the
network for `sr`, `probe` and `faig`). A GAN run (a [gan] section) also logs each loss term of G
and D, keeps D inside its checkpoints and writes model_d.safetensors. See docs/configs/ for
annotated examples.")]
pub struct TrainArgs {
    /// The run's configuration (TOML).
    #[arg(long, value_name = "FILE", required_unless_present = "redraw")]
    config: Option<PathBuf>,
    /// The run folder.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Override a configuration value, e.g. --set run.iterations=5000 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Continue the run in --out from its latest checkpoint, bit for bit.
    #[arg(long)]
    resume: bool,
    /// Only redraw curves.png of the run in --out from its metrics.jsonl, then exit.
    #[arg(long)]
    redraw: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// VGG19 weights for a GAN run's perceptual loss: safetensors with torchvision key names
    /// (docs/INTEROP.md shows the export). Sets gan.vgg19.
    #[arg(long, value_name = "FILE")]
    vgg19: Option<PathBuf>,
    /// Seeded random VGG19 weights for the perceptual loss: ONLY for tests and smoke runs (the
    /// loss then measures nothing useful). Sets gan.vgg19_random.
    #[arg(long, conflicts_with = "vgg19")]
    vgg19_random: bool,
    /// Stop after this iteration as if killed (for testing --resume).
    #[arg(long, hide = true)]
    stop_after: Option<u64>,
}

pub fn run(global: &GlobalArgs, a: &TrainArgs) -> Result<()> {
    if a.redraw {
        let metrics = a.out.join("metrics.jsonl");
        anyhow::ensure!(metrics.exists(), "--redraw: {} does not exist", metrics.display());
        let png = a.out.join("curves.png");
        write_curves(&metrics, &png)?;
        eprintln!("wrote {}", png.display());
        return Ok(());
    }
    let config = a.config.as_ref().expect("clap requires --config");
    let mut cfg = TrainConfig::load(config, &a.overrides)?;
    if a.vgg19.is_some() || a.vgg19_random {
        let Some(g) = cfg.gan.as_mut() else {
            bail!(
                "--vgg19 and --vgg19-random are for GAN training; {} has no [gan] section",
                config.display()
            )
        };
        if let Some(f) = &a.vgg19 {
            (g.vgg19, g.vgg19_random) = (Some(f.clone()), false);
        }
        if a.vgg19_random {
            (g.vgg19, g.vgg19_random) = (None, true);
        }
        cfg.validate()?;
    }
    let dev = global.open_device()?;
    eprintln!(
        "training {} on {dev} for {} iterations into {}",
        cfg.model.describe(),
        cfg.run.iterations,
        a.out.display()
    );
    if cfg.gan.as_ref().is_some_and(|g| g.vgg19_random && g.perceptual_weight > 0.0) {
        eprintln!("warning: random VGG19 weights (--vgg19-random): the perceptual loss is for tests and smoke runs only");
    }
    let opts = TrainOptions { resume: a.resume, stop_after: a.stop_after, quiet: a.quiet };
    let s = train(&cfg, &a.out, &dev, &opts)?;
    let val = match (s.val_psnr_y, s.bicubic_psnr_y) {
        (Some(v), Some(b)) => format!(", validation PSNR-Y {v:.3} dB (bicubic {b:.3} dB, {:+.3} dB)", v - b),
        _ => String::new(),
    };
    let loss = match s.final_loss {
        Some(l) => format!("final loss {l:.5}"),
        None => "no iteration was left to run; the final model is written".to_string(),
    };
    eprintln!("done: {} iterations in {:.1} s, {loss}{val}", s.iterations, s.seconds);
    Ok(())
}
