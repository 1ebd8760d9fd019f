//! Training a study's networks: each run into OUT/runs/NAME unless a finished run with the same
//! configuration is already there, resuming an interrupted one.

use super::config::TrainConfig;
use super::run::{train, TrainOptions};
use crate::device::Device;
use crate::io::write_atomic;
use crate::Result;
use anyhow::{ensure, Context};
use std::path::Path;

/// One training run of a study: OUT/runs/NAME, configured by OUT/configs/NAME.toml.
pub struct RunSpec<'a> {
    /// Folder and configuration file name.
    pub name: &'a str,
    /// How reports and progress lines name it.
    pub title: &'a str,
    /// The command that writes it, for the configuration file's header.
    pub study: &'a str,
    /// What the header adds in parentheses after the title ("Cpu scale").
    pub note: &'a str,
}

/// Trains `run` unless OUT/runs holds the same run finished; resumes an interrupted one.
/// Returns the run's seconds of training (earlier calls it resumed from included), None for a
/// reused run.
pub fn train_or_reuse(
    run: &RunSpec,
    out: &Path,
    cfg: &TrainConfig,
    dev: &Device,
    quiet: bool,
) -> Result<Option<f64>> {
    cfg.validate()?;
    let configs = out.join("configs");
    std::fs::create_dir_all(&configs).with_context(|| format!("cannot create {}", configs.display()))?;
    let cfg_path = configs.join(format!("{}.toml", run.name));
    let want = toml::to_string(cfg)?;
    let text = format!("# {} ({}), written by `ddr-engine {}`.\n{want}", run.title, run.note, run.study);
    write_atomic(&cfg_path, |w| Ok(std::io::Write::write_all(w, text.as_bytes())?))?;
    let dir = out.join("runs").join(run.name);
    if dir.join("model.safetensors").exists() {
        let stored = std::fs::read_to_string(dir.join("config.toml")).unwrap_or_default();
        ensure!(
            stored == want,
            "{} holds a finished run with another configuration than {}; remove it or choose another --out",
            dir.display(),
            cfg_path.display()
        );
        eprintln!("{}: reusing the finished run in {}", run.title, dir.display());
        return Ok(None);
    }
    let resume = dir.join("ckpt").join("latest.safetensors").exists();
    eprintln!(
        "{}: {} {} for {} iterations into {}",
        run.title,
        if resume { "resuming" } else { "training" },
        cfg.model.describe(),
        cfg.run.iterations,
        dir.display()
    );
    let s = train(cfg, &dir, dev, &TrainOptions { resume, stop_after: None, quiet })?;
    Ok(Some(s.run_seconds))
}
