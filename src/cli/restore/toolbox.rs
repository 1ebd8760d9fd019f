use super::GlobalArgs;
use crate::restore::toolbox::{train_toolbox, ToolTraining, TOOLS};
use crate::Result;
use clap::Args;
use std::path::PathBuf;

/// Train RL-Restore's twelve tools: residual CNNs that each undo one degradation at one strength.
///
/// Tools 1-4 deblur (Gaussian sigma 0.5-1.5, 1.5-2.5, 2.5-3.75, 3.75-5), 5-8 denoise (sigma
/// 2-12, 12-24, 24-37, 37-50 on 0-255), 9-12 remove JPEG artifacts (quality 50-80, 35-50,
/// 20-35, 10-20); the two weaker tools of each group are small (3 layers), the two stronger
/// large (8 layers). Each trains with MSE on random patches of the pack, degraded on the fly by
/// its own degradation in its range and, half of the time each, light amounts of the other two.
/// Runs go to OUT/runs/tool01 .. tool12 (train's run folders); a finished run with the same
/// configuration is reused and an interrupted one resumed.
///
/// Example:  ddr-engine restore toolbox --train photos.pack --out rl --iterations 300
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub struct ToolboxArgs {
    /// HR photos to train on (`ddr-engine data pack`).
    #[arg(long, value_name = "PACK")]
    train: PathBuf,
    /// The toolbox folder.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Iterations per tool.
    #[arg(long, default_value_t = 300)]
    iterations: u64,
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Patch side in pixels.
    #[arg(long, default_value_t = 48)]
    patch: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Tool i trains with seed + i - 1.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

pub fn run(global: &GlobalArgs, a: &ToolboxArgs) -> Result<()> {
    let dev = global.open_device()?;
    let t = ToolTraining { iterations: a.iterations, batch: a.batch, patch: a.patch, lr: a.lr, seed: a.seed };
    let seconds = train_toolbox(&a.train, &a.out, &t, &dev, a.quiet)?;
    for (i, (spec, s)) in TOOLS.iter().zip(seconds).enumerate() {
        let how = s.map_or("reused".to_string(), |s| format!("{s:.0} s"));
        println!("tool {:2}  {:<40} {how}", i + 1, spec.describe());
    }
    println!("toolbox in {}", a.out.display());
    Ok(())
}
