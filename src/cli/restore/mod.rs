//! `ddr-engine restore ...`: RL-Restore's toolbox, its agent, restoring images and the
//! evaluation table.

mod agent;
mod eval;
mod run;
mod toolbox;

use super::GlobalArgs;
use crate::data::pack::Pack;
use crate::data::testset::load_photos;
use crate::restore::levels::PhotoSource;
use crate::Result;
use clap::{Args, Subcommand};
use std::path::Path;
use std::sync::Arc;

#[derive(Args)]
pub struct RestoreArgs {
    #[command(subcommand)]
    command: RestoreCommand,
}

#[derive(Subcommand)]
enum RestoreCommand {
    Toolbox(toolbox::ToolboxArgs),
    Agent(agent::AgentArgs),
    Run(run::RunArgs),
    Eval(eval::EvalArgs),
}

pub fn run(global: &GlobalArgs, args: RestoreArgs) -> Result<()> {
    match args.command {
        RestoreCommand::Toolbox(a) => toolbox::run(global, &a),
        RestoreCommand::Agent(a) => agent::run(global, &a),
        RestoreCommand::Run(a) => run::run(global, &a),
        RestoreCommand::Eval(a) => eval::run(global, &a),
    }
}

/// Photos to cut patches from: a pack (`data pack`), a folder of PNG/JPEG, or "builtin".
fn photo_source(spec: &str) -> Result<PhotoSource> {
    let path = Path::new(spec);
    if path.is_file() && Pack::is_pack(path) {
        return Ok(PhotoSource::Pack(Arc::new(Pack::open(path)?)));
    }
    Ok(PhotoSource::Photos(load_photos(spec)?))
}
