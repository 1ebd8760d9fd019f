//! The `ddr-engine` command line: one subcommand per stage of the pipeline.

mod data;
mod faig;
mod info;
mod probe;
mod reproduce;
mod restore;
mod sr;
mod train;
mod tsne;

use crate::device::{cpu, Device, DeviceSpec};
use crate::Result;
use clap::{Args, Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "ddr-engine",
    version,
    about = "Train super-resolution networks and look inside them",
    long_about = "Train super-resolution networks and look inside them.\n\n\
        ddr-engine trains SR networks (MSRResNet with and without global residual, SRGAN), finds \
        their deep degradation representations (features -> PCA -> t-SNE -> cluster scores), and \
        attributes restoration abilities to individual filters (FAIG). Every step runs on a CUDA \
        GPU through the engine's own kernels or on the CPU, chosen with --device."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Clone)]
pub struct GlobalArgs {
    /// Where to compute: auto (a usable CUDA GPU, else the CPU), cpu, cuda or cuda:N.
    ///
    /// cuda-emu is the emulated CUDA device: the CUDA kernels compiled for the host and run on
    /// the CPU thread by thread, behind the same launchers as on a GPU. It exists to test the
    /// kernels without a GPU; it is far slower than the CPU backend and auto never picks it.
    #[arg(long, global = true, default_value = "auto", value_name = "DEVICE")]
    pub device: DeviceSpec,
    /// CPU worker threads; 0 = one per core. Results are identical for a given thread count.
    #[arg(long, global = true, default_value_t = 0, value_name = "N")]
    pub threads: usize,
}

impl GlobalArgs {
    /// Sets up the CPU thread pool and opens the chosen device.
    pub fn open_device(&self) -> Result<Device> {
        cpu::set_threads(self.threads)?;
        Device::open(self.device)
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Turn folders of photos into memory-mapped packs; make degraded test sets.
    Data(data::DataArgs),
    /// Train an SR network (MSRResNet with/without global residual, SRCNN-style).
    Train(train::TrainArgs),
    /// Run a trained SR network on images.
    Sr(sr::SrArgs),
    /// Deep degradation representations: features -> PCA -> t-SNE -> WD/BD/CHI, plots, report.
    Probe(probe::ProbeArgs),
    /// A paper end to end: train its networks, probe them, report next to its numbers.
    Reproduce(reproduce::ReproduceArgs),
    /// RL-Restore: train a toolbox of restoration CNNs and an agent that chains them; restore.
    Restore(restore::RestoreArgs),
    /// Exact t-SNE of any .npy matrix (scikit-learn's method, fast and deterministic).
    Tsne(tsne::TsneArgs),
    /// Filter attribution by integrated gradients: scores, masking, modulation.
    Faig(faig::FaigArgs),
    /// Show the version, CPU threads, compiled CUDA kernels and the GPUs found.
    Info(info::InfoArgs),
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Data(a) => data::run(&cli.global, a),
        Command::Train(a) => train::run(&cli.global, &a),
        Command::Sr(a) => sr::run(&cli.global, &a),
        Command::Probe(a) => probe::run(&cli.global, &a),
        Command::Reproduce(a) => reproduce::run(&cli.global, &a),
        Command::Restore(a) => restore::run(&cli.global, a),
        Command::Tsne(a) => tsne::run(&cli.global, &a),
        Command::Faig(a) => faig::run(&cli.global, &a),
        Command::Info(a) => info::run(&cli.global, &a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
