//! `ddr-engine data ...`: packs, degraded test sets, built-in photos, loader speed.

mod bench_loader;
mod degrade;
mod pack;

use super::GlobalArgs;
use crate::data::pack::Pack;
use crate::data::photos;
use crate::device::cpu;
use crate::Result;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

#[derive(Args)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Subcommand)]
enum DataCommand {
    Pack(pack::PackArgs),
    Degrade(degrade::DegradeArgs),
    Verify(VerifyArgs),
    ExportPhotos(ExportArgs),
    BenchLoader(bench_loader::BenchArgs),
}

/// Check a pack: its header, and every image's checksum.
///
/// Example:  ddr-engine data verify train.pack
#[derive(Args)]
#[command(verbatim_doc_comment)]
struct VerifyArgs {
    #[arg(value_name = "PACK")]
    pack: PathBuf,
}

/// Write the built-in public-domain / CC0 photos and their LICENSES.md into a folder.
///
/// Example:  ddr-engine data export-photos photos/builtin
#[derive(Args)]
#[command(verbatim_doc_comment)]
struct ExportArgs {
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

pub fn run(global: &GlobalArgs, args: DataArgs) -> Result<()> {
    cpu::set_threads(global.threads)?;
    match args.command {
        DataCommand::Pack(a) => pack::pack(a),
        DataCommand::Degrade(a) => degrade::degrade(a),
        DataCommand::Verify(a) => verify(a),
        DataCommand::ExportPhotos(a) => {
            for p in photos::export(&a.dir)? {
                println!("{}", p.display());
            }
            Ok(())
        }
        DataCommand::BenchLoader(a) => bench_loader::bench_loader(a),
    }
}

fn progress(len: usize, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len as u64);
    let style = ProgressStyle::with_template(&format!(
        "{what} {{bar:40}} {{pos}}/{{len}} [{{elapsed_precise}}, {{eta}} left] {{msg}}"
    ))
    .expect("a valid template");
    pb.set_style(style);
    pb
}

fn verify(a: VerifyArgs) -> Result<()> {
    let pack = Pack::open(&a.pack)?;
    let pb = progress(pack.len(), "verifying");
    for i in 0..pack.len() {
        pack.image(i)?;
        pb.inc(1);
    }
    pb.finish_and_clear();
    let pixels: usize = pack.entries().iter().map(|e| e.len).sum();
    println!(
        "{}: {} images, {:.1} MiB of pixels, every checksum good",
        a.pack.display(),
        pack.len(),
        pixels as f64 / (1 << 20) as f64
    );
    Ok(())
}
