use super::{photo_source, GlobalArgs};
use crate::io::write_atomic;
use crate::restore::eval::{csv, evaluate, markdown, EvalPlan};
use crate::restore::policy::load_agent;
use crate::restore::toolbox::Toolbox;
use crate::Result;
use anyhow::{ensure, Context};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

/// The RL-Restore comparison on held-out patches: single tools, chains, the agent, the oracle.
///
/// Draws --patches 63x63 patches at each severity (mild: levels summing to 6-11, moderate 12-17,
/// severe 18-23) from the photos, computes the PSNR of every chain of at most 3 tools on each
/// (1885 chains), and reports the mean PSNR of the input, each tool alone, the best fixed chain
/// (chosen on these patches: an upper bound for any fixed chain), a random chain, the agent and
/// the oracle (the best chain per patch). Writes OUT/eval.csv, OUT/eval.md and OUT/eval.json (with
/// the agent's chain and Q-values per patch).
///
/// Example:  ddr-engine restore eval --toolbox rl --agent rl/agent/agent.safetensors --photos heldout/ --out rl/eval
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub struct EvalArgs {
    #[arg(long, value_name = "DIR")]
    toolbox: PathBuf,
    /// The agent's weights; without it the table has no agent row.
    #[arg(long, value_name = "FILE")]
    agent: Option<PathBuf>,
    /// Held-out photos: a folder of PNG/JPEG, a pack, or "builtin".
    #[arg(long, value_name = "PHOTOS")]
    photos: String,
    /// Patches per severity.
    #[arg(long, default_value_t = 24)]
    patches: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The longest chain searched for the oracle and the best fixed chain, and drawn for the
    /// random chain (1-3; the search costs 12 + 144 + 1728 tool runs per patch at 3).
    #[arg(long, default_value_t = 3)]
    search_depth: usize,
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

pub fn run(global: &GlobalArgs, a: &EvalArgs) -> Result<()> {
    ensure!(a.patches > 0, "--patches must be at least 1");
    ensure!((1..=3).contains(&a.search_depth), "--search-depth must be 1, 2 or 3");
    let dev = global.open_device()?;
    let mut tools = Toolbox::load(&a.toolbox, &dev)?;
    let mut agent = a.agent.as_ref().map(|f| load_agent(f, &dev)).transpose()?;
    let src = photo_source(&a.photos)?;
    let progress = |s: &str| eprintln!("{s}");
    let plan = EvalPlan { patches: a.patches, seed: a.seed, depth: a.search_depth };
    let e = evaluate(&mut tools, agent.as_mut().map(|(n, p)| (n, p)), &src, plan, &progress)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("cannot create {}", a.out.display()))?;
    let table = markdown(&e);
    write_atomic(&a.out.join("eval.md"), |w| Ok(w.write_all(table.as_bytes())?))?;
    write_atomic(&a.out.join("eval.csv"), |w| Ok(w.write_all(csv(&e).as_bytes())?))?;
    write_atomic(&a.out.join("eval.json"), |w| Ok(serde_json::to_writer_pretty(w, &e)?))?;
    print!("{table}");
    Ok(())
}
