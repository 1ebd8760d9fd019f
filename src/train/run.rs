//! `train`: a [`Trainer`] driven from iteration to iteration with a progress bar, validation
//! and checkpoints at the configured intervals, a JSONL metrics log, learning curves, and
//! `--resume` from the run folder's latest checkpoint.

use super::config::TrainConfig;
use super::curves::write_curves;
use super::trainer::{NonFiniteLoss, Trainer};
use crate::device::Device;
use crate::io::write_atomic;
use crate::Result;
use anyhow::{bail, ensure, Context};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How this invocation runs (not part of the run's configuration).
#[derive(Clone, Debug, Default)]
pub struct TrainOptions {
    /// Continue the run in the output folder from its latest checkpoint.
    pub resume: bool,
    /// Stop after this iteration as if killed (checkpoints already written stay; nothing else is
    /// written). For testing resumption.
    pub stop_after: Option<u64>,
    /// No progress bar.
    pub quiet: bool,
}

/// Where a run keeps its files.
pub struct RunDir {
    pub root: PathBuf,
}

impl RunDir {
    pub fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    pub fn metrics(&self) -> PathBuf {
        self.root.join("metrics.jsonl")
    }
    /// The latest checkpoint, with optimiser state (what --resume reads).
    pub fn latest(&self) -> PathBuf {
        self.root.join("ckpt").join("latest.safetensors")
    }
    pub fn numbered(&self, step: u64) -> PathBuf {
        self.root.join("ckpt").join(format!("step_{step:08}.safetensors"))
    }
    /// The final network, without optimiser state: what `sr`, `probe` and `faig` take.
    pub fn model(&self) -> PathBuf {
        self.root.join("model.safetensors")
    }
    /// Held by the process training into this folder.
    pub fn lock(&self) -> PathBuf {
        self.root.join(".lock")
    }
    /// A GAN run's final discriminator, as a plain BasicSR state dict.
    pub fn model_d(&self) -> PathBuf {
        self.root.join("model_d.safetensors")
    }
}

/// What a finished run reports.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Summary {
    pub iterations: u64,
    /// The loss of the last iteration this call ran (None when none was left to run).
    pub final_loss: Option<f64>,
    pub val_psnr_y: Option<f64>,
    pub bicubic_psnr_y: Option<f64>,
    /// Seconds of this call.
    pub seconds: f64,
    /// Seconds of the whole run, earlier calls resumed from included.
    pub run_seconds: f64,
}

/// Trains as `cfg` says, writing into `out`.
pub fn train(cfg: &TrainConfig, out: &Path, dev: &Device, opts: &TrainOptions) -> Result<Summary> {
    let run = RunDir { root: out.to_path_buf() };
    let check_folder = || -> Result<()> {
        if opts.resume {
            let latest = run.latest();
            ensure!(latest.exists(), "--resume: {} has no checkpoint to resume from", latest.display());
        } else if run.latest().exists() {
            bail!(
                "{} already holds a run; pass --resume to continue it, or choose another --out",
                out.display()
            );
        }
        Ok(())
    };
    // The lock is held until this function returns (or the process dies): a second `train` into
    // the same folder, fresh or --resume, stops at it instead of mixing two runs' files. A folder
    // that does not exist yet is only created once everything that can be refused before
    // writing has been checked (a GAN run without VGG19 weights, a missing pack, bad
    // degradations), and checked again under the lock: another run may have started meanwhile.
    let mut lock = if out.is_dir() { Some(lock_run(&run)?) } else { None };
    check_folder()?;
    let mut trainer = Trainer::new(cfg, dev)?;
    if lock.is_none() {
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        lock = Some(lock_run(&run)?);
        check_folder()?;
    }
    let _lock = lock;
    // A resumed run's clock continues from its metrics, so `seconds` is the run's training time.
    let mut earlier_seconds = 0.0;
    if opts.resume {
        trainer.resume(&run.latest())?;
        ensure!(
            trainer.iteration() < cfg.run.iterations || !run.model().exists(),
            "{} has finished its {} iterations already (its model.safetensors is written); raise \
             run.iterations to train it further",
            out.display(),
            cfg.run.iterations
        );
        truncate_metrics(&run.metrics(), trainer.iteration())?;
        earlier_seconds = logged_seconds(&run.metrics()).unwrap_or(0.0);
    } else {
        let _ = std::fs::remove_file(run.metrics());
    }
    let ckpt = run.root.join("ckpt");
    std::fs::create_dir_all(&ckpt).with_context(|| format!("cannot create {}", ckpt.display()))?;
    // A folder the checkpoints cannot be written into is found now, not at the first checkpoint.
    write_atomic(&ckpt.join(".writable"), |_| Ok(()))?;
    let _ = std::fs::remove_file(ckpt.join(".writable"));
    write_atomic(&run.config(), |w| Ok(w.write_all(toml::to_string(cfg)?.as_bytes())?))?;

    let pb = if opts.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(cfg.run.iterations)
    };
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} {msg} [{elapsed_precise} < {eta_precise}, {per_sec}]",
        )
        .unwrap(),
    );
    pb.set_position(trainer.iteration());
    let t0 = Instant::now();
    let bicubic_y = trainer.bicubic_psnr_y();
    let (mut last_loss, mut last_val) = (None, None);
    let summary = |iterations, last_loss, last_val| Summary {
        iterations,
        final_loss: last_loss,
        val_psnr_y: last_val,
        bicubic_psnr_y: bicubic_y,
        seconds: t0.elapsed().as_secs_f64(),
        run_seconds: earlier_seconds + t0.elapsed().as_secs_f64(),
    };
    for step in trainer.iteration() + 1..=cfg.run.iterations {
        let r = trainer.step().map_err(|e| match e.downcast_ref::<NonFiniteLoss>() {
            Some(_) => {
                let last = if run.latest().exists() {
                    format!("the last checkpoint, {}, is intact", run.latest().display())
                } else {
                    "no checkpoint had been written yet".to_string()
                };
                anyhow::anyhow!("training stopped: {e}; {last}. Try a lower optim.lr.")
            }
            None => e,
        })?;
        last_loss = Some(r.loss);
        pb.set_position(step);
        let shown: String =
            r.terms.iter().map(|(k, v)| format!(" {}={v:.4}", k.trim_start_matches("l_"))).collect();
        pb.set_message(format!("loss {:.5}{shown} lr {:.2e}", r.loss, r.lr));
        if cfg.run.log_every > 0 && step % cfg.run.log_every == 0 {
            let mut line = serde_json::json!({"step": step, "loss": r.loss, "lr": r.lr, "seconds": earlier_seconds + t0.elapsed().as_secs_f64()});
            for (k, v) in &r.terms {
                line[*k] = serde_json::json!(v);
            }
            append_metrics(&run.metrics(), line)?;
        }
        let last = step == cfg.run.iterations;
        if last || (cfg.run.val_every > 0 && step % cfg.run.val_every == 0) {
            if let Some(v) = trainer.validate()? {
                let b = bicubic_y.expect("a validation set has a bicubic baseline");
                let mut line = serde_json::json!({"step": step, "val_psnr": v.psnr, "val_psnr_y": v.psnr_y, "bicubic_psnr_y": b});
                let mut msg =
                    format!("iteration {step}: validation PSNR {:.3} dB, PSNR-Y {:.3} dB", v.psnr, v.psnr_y);
                if let Some((rgb_raw, y_raw)) = v.raw {
                    line["val_psnr_raw"] = rgb_raw.into();
                    line["val_psnr_y_raw"] = y_raw.into();
                    msg = format!("{msg} (EMA weights; raw weights {y_raw:.3} dB)");
                }
                pb.println(format!("{msg}, bicubic {b:.3} dB"));
                append_metrics(&run.metrics(), line)?;
                write_curves(&run.metrics(), &run.root.join("curves.png"))?;
                last_val = Some(v.psnr_y);
            }
        }
        if last || (cfg.run.ckpt_every > 0 && step % cfg.run.ckpt_every == 0) {
            trainer.checkpoint(&run.latest(), true)?;
            if !last {
                let latest = std::fs::read(run.latest())
                    .with_context(|| format!("cannot read {}", run.latest().display()))?;
                write_atomic(&run.numbered(step), |w| Ok(w.write_all(&latest)?))?;
            }
        }
        if opts.stop_after == Some(step) && !last {
            pb.abandon_with_message(format!("stopped after iteration {step} (--stop-after)"));
            return Ok(summary(step, last_loss, last_val));
        }
    }
    pb.finish();
    trainer.checkpoint(&run.model(), false)?;
    trainer.save_discriminator(&run.model_d())?;
    Ok(summary(cfg.run.iterations, last_loss, last_val))
}

/// An exclusive lock on the run folder (`<out>/.lock`, an advisory file lock that the operating
/// system releases when the process exits, also after kill -9).
fn lock_run(run: &RunDir) -> Result<std::fs::File> {
    let path = run.lock();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "another ddr-engine train is writing into {} (it holds {}); wait for it to finish or \
             choose another --out",
            run.root.display(),
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// The last `seconds` logged in a metrics file (None without one).
pub fn logged_seconds(path: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .rev()
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?.get("seconds")?.as_f64())
}

fn append_metrics(path: &Path, line: serde_json::Value) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(f, "{line}")?;
    Ok(())
}

/// Keeps only the metrics lines of steps up to `step` (a resumed run rewrites what follows).
fn truncate_metrics(path: &Path, step: u64) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else { return Ok(()) };
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .and_then(|v| v["step"].as_u64())
                .is_some_and(|s| s <= step)
        })
        .collect();
    write_atomic(path, |w| {
        for l in kept {
            writeln!(w, "{l}")?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_trainer_cannot_take_a_locked_run_folder() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir { root: dir.path().to_path_buf() };
        let first = lock_run(&run).unwrap();
        let e = lock_run(&run).unwrap_err();
        assert!(format!("{e:#}").contains("another ddr-engine train is writing into"), "{e:#}");
        drop(first);
        lock_run(&run).unwrap();
    }
}
