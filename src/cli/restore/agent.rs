use super::{photo_source, GlobalArgs};
use crate::io::write_atomic;
use crate::restore::dqn::{train_agent, DqnConfig};
use crate::restore::toolbox::Toolbox;
use crate::Result;
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

/// Train the agent that chains the tools, by deep Q-learning on moderately degraded patches.
///
/// Each episode takes a 63x63 patch (blur, then noise, then JPEG, levels summing to 12-17 as in
/// RL-Restore's training data); the agent sees the patch and its last action and picks one of the
/// 12 tools or "stop", at most 3 tools; the reward of a step is its PSNR gain, and an episode also
/// ends when the PSNR falls below the input's. Experience replay, a target network, the Huber
/// loss, Adam, epsilon-greedy exploration annealed linearly. Same seed, machine, thread count and
/// device: the same agent, byte for byte.
///
/// Writes OUT/agent.safetensors, OUT/metrics.jsonl (every 1000 steps: epsilon, mean PSNR gain per
/// episode, loss, mean Q) and OUT/dqn.json (these settings).
///
/// Example:  ddr-engine restore agent --toolbox rl --train photos.pack --out rl/agent
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub struct AgentArgs {
    /// The toolbox folder (`restore toolbox --out`).
    #[arg(long, value_name = "DIR")]
    toolbox: PathBuf,
    /// Photos to cut training patches from: a pack, a folder of PNG/JPEG, or "builtin".
    #[arg(long, value_name = "PHOTOS")]
    train: String,
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Environment steps (RL-Restore: 2,000,000).
    #[arg(long, default_value_t = 6000)]
    steps: u64,
    /// Training patches, drawn once and cycled through.
    #[arg(long, default_value_t = 1000)]
    patches: usize,
    /// Transitions kept for replay.
    #[arg(long, default_value_t = 6000)]
    memory: usize,
    /// Steps of pure exploration before learning starts.
    #[arg(long, default_value_t = 500)]
    learn_start: u64,
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// One update every this many steps.
    #[arg(long, default_value_t = 4)]
    train_every: u64,
    /// Copy the online network into the target every this many steps.
    #[arg(long, default_value_t = 500)]
    target_every: u64,
    #[arg(long, default_value_t = 0.99)]
    discount: f32,
    #[arg(long, default_value_t = 1e-4)]
    lr: f64,
    /// Final exploration rate (from 1).
    #[arg(long, default_value_t = 0.1)]
    eps_end: f64,
    /// Steps after learning starts over which exploration falls to --eps-end (default: half the
    /// steps).
    #[arg(long)]
    eps_steps: Option<u64>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

pub fn run(global: &GlobalArgs, a: &AgentArgs) -> Result<()> {
    let dev = global.open_device()?;
    let cfg = DqnConfig {
        steps: a.steps,
        patches: a.patches,
        memory: a.memory,
        learn_start: a.learn_start,
        batch: a.batch,
        train_every: a.train_every,
        target_every: a.target_every,
        discount: a.discount,
        lr: a.lr,
        eps_start: 1.0,
        eps_end: a.eps_end,
        eps_steps: a.eps_steps.unwrap_or(a.steps / 2),
        seed: a.seed,
    };
    cfg.validate()?;
    let mut tools = Toolbox::load(&a.toolbox, &dev)?;
    let src = photo_source(&a.train)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("cannot create {}", a.out.display()))?;
    write_atomic(&a.out.join("dqn.json"), |w| Ok(serde_json::to_writer_pretty(w, &cfg)?))?;
    let last = train_agent(&cfg, &src, &mut tools, &a.out, a.quiet)?;
    println!(
        "{} steps, {} episodes: mean PSNR gain {:.3} dB per episode, loss {:.4}, mean Q {:.3}",
        last.step, last.episodes, last.mean_episode_gain, last.mean_loss, last.mean_q
    );
    println!("agent in {}", a.out.join("agent.safetensors").display());
    Ok(())
}
