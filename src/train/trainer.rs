//! The training loop (L1 or MSE, Adam, LR schedule, EMA; with a `[gan]` section, SRGAN's losses
//! and discriminator from [`super::gan`]), with validation against bicubic, checkpoints, a JSONL
//! metrics log and exact resumption.
//!
//! Everything a step does is a function of (configuration, step): the batch comes from
//! `Loader::batch(step)`, the learning rate from the schedule, and the optimiser state is in the
//! checkpoint. A run resumed from a checkpoint therefore continues bit for bit on the CPU.

use super::config::TrainConfig;
use super::curves::write_curves;
use super::gan::{pixel_loss, Gan, Terms};
use crate::data::imresize::imresize;
use crate::data::loader::{Loader, LoaderConfig};
use crate::data::pack::Pack;
use crate::data::{image_io, photos, prepare::mod_crop, Image};
use crate::device::Device;
use crate::infer::super_resolve;
use crate::metrics::image::psnr;
use crate::nn::checkpoint::{self, AdamState, Checkpoint, Extra, WeightSet};
use crate::nn::models::SrNet;
use crate::nn::{Params, Pass, Want};
use crate::ops::optim::{ema, AdamStep};
use crate::tensor::Tensor;
use crate::Result;
use anyhow::{bail, ensure, Context};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
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
    /// A GAN run's final discriminator, as a plain BasicSR state dict.
    pub fn model_d(&self) -> PathBuf {
        self.root.join("model_d.safetensors")
    }
}

/// One validation image: HR, its 8-bit bicubic LR, and the bicubic upscaling's PSNR-Y.
struct ValImage {
    hr: Image,
    lr: Image,
    bicubic_psnr_y: f64,
}

/// What a finished run reports.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Summary {
    pub iterations: u64,
    pub final_loss: f64,
    pub val_psnr_y: Option<f64>,
    pub bicubic_psnr_y: Option<f64>,
    pub seconds: f64,
}

fn quantized(mut img: Image) -> Image {
    img.quantize();
    img
}

fn load_val(spec: &str, scale: usize, crop: usize, max: usize, resize: &str) -> Result<Vec<ValImage>> {
    let pipeline: crate::data::degrade::Pipeline = if resize.is_empty() {
        format!("bicubic:1/{scale}").parse()?
    } else {
        resize.parse().with_context(|| "data.val_degradations")?
    };
    let mut rng = crate::Rng::new(0);
    let photos: Vec<image::RgbImage> = if spec == "builtin" {
        photos::builtin()?.into_iter().map(|(_, p)| p).collect()
    } else {
        let (paths, _) = image_io::list_photos(&[PathBuf::from(spec)])?;
        ensure!(!paths.is_empty(), "no validation photos in {spec}");
        paths.iter().map(|p| image_io::load(p)).collect::<Result<_>>()?
    };
    photos
        .into_iter()
        .take(max)
        .map(|p| {
            let mut hr = Image::from_rgb8(&mod_crop(&p, scale));
            if crop > 0 && (hr.h > crop || hr.w > crop) {
                let (ch, cw) = (crop.min(hr.h) / scale * scale, crop.min(hr.w) / scale * scale);
                hr = hr.crop((hr.h - ch) / 2, (hr.w - cw) / 2, ch, cw)?;
            }
            let steps = pipeline.sample(&mut rng);
            let lr = quantized(crate::data::degrade::apply_all(&hr, &steps, &mut rng)?);
            ensure!(
                lr.h * scale == hr.h && lr.w * scale == hr.w,
                "data.val_degradations must shrink by exactly 1/{scale}"
            );
            let bicubic = imresize(&lr, scale as f64)?;
            let bicubic_psnr_y = psnr(&bicubic, &hr, scale, true);
            Ok(ValImage { hr, lr, bicubic_psnr_y })
        })
        .collect()
}

/// Mean PSNR-RGB and PSNR-Y of the network (with `weights`) over the validation set.
fn validate(
    net: &mut dyn SrNet,
    weights: &Tensor,
    p: &mut Params,
    val: &[ValImage],
    dev: &Device,
) -> Result<(f64, f64)> {
    let trained = std::mem::replace(&mut p.values, weights.clone());
    let mut sums = (0.0, 0.0);
    let result = (|| {
        for v in val {
            let sr = super_resolve(net, p, &v.lr, dev, None)?;
            let s = net.arch().scale();
            sums.0 += psnr(&sr, &v.hr, s, false);
            sums.1 += psnr(&sr, &v.hr, s, true);
        }
        Ok::<_, anyhow::Error>(())
    })();
    p.values = trained;
    result?;
    Ok((sums.0 / val.len() as f64, sums.1 / val.len() as f64))
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
    crate::io::write_atomic(path, |w| {
        for l in kept {
            writeln!(w, "{l}")?;
        }
        Ok(())
    })
}

/// The run's settings that a resumed run must share with the original.
fn resume_key(cfg: &TrainConfig) -> Result<String> {
    let mut c = cfg.clone();
    c.run.iterations = 0;
    c.run.val_every = 0;
    c.run.ckpt_every = 0;
    c.run.log_every = 0;
    Ok(toml::to_string(&c)?)
}

/// Trains as `cfg` says, writing into `out`.
pub fn train(cfg: &TrainConfig, out: &Path, dev: &Device, opts: &TrainOptions) -> Result<Summary> {
    let run = RunDir { root: out.to_path_buf() };
    // Before anything is written: a GAN run without its VGG19 weights stops here.
    let mut gan = Gan::new(cfg, dev)?;
    std::fs::create_dir_all(run.root.join("ckpt"))
        .with_context(|| format!("cannot create {}", out.display()))?;
    let scale = cfg.model.scale();

    // Network, optimiser state, EMA: fresh, from init_from, or from the run's latest checkpoint.
    let (mut net, mut p) = cfg.model.build(dev, cfg.run.seed)?;
    let n = p.len();
    let mut start = 0u64;
    let (mut m, mut v) = (Tensor::zeros(&[n], dev)?, Tensor::zeros(&[n], dev)?);
    let mut ema_w: Option<Tensor> = None;
    if opts.resume {
        let latest = run.latest();
        ensure!(latest.exists(), "--resume: {} has no checkpoint to resume from", latest.display());
        let ck = checkpoint::load(&latest, Some(&cfg.model))?;
        let stored = ck.meta.get("resume_key").cloned().unwrap_or_default();
        let key = resume_key(cfg)?;
        // Checkpoints written before optim.ema_warmup existed ran without it.
        let legacy = !cfg.optim.ema_warmup && stored == key.replace("ema_warmup = false\n", "");
        ensure!(
            stored == key || legacy,
            "--resume: the configuration differs from the run in {} (only run.iterations and the \
             logging intervals may change)",
            out.display()
        );
        start = ck.step;
        p.values = Tensor::from_slice(&ck.params, &[n], dev)?;
        p.buffers = Tensor::from_slice(&ck.buffers, &[ck.buffers.len()], dev)?;
        let o = ck.optim.context("--resume: the checkpoint has no optimiser state")?;
        m = Tensor::from_vec(o.m, &[n], dev)?;
        v = Tensor::from_vec(o.v, &[n], dev)?;
        ema_w = ck.params_ema.map(|e| Tensor::from_vec(e, &[n], dev)).transpose()?;
        if let Some(g) = &mut gan {
            g.restore(&latest)?;
        }
        truncate_metrics(&run.metrics(), start)?;
    } else {
        if run.latest().exists() {
            bail!(
                "{} already holds a run; pass --resume to continue it, or choose another --out",
                out.display()
            );
        }
        if let Some(init) = &cfg.init_from {
            let ck = checkpoint::load(init, Some(&cfg.model)).with_context(|| "init_from")?;
            p.values = Tensor::from_slice(ck.weights(WeightSet::Ema), &[n], dev)?;
        }
        let _ = std::fs::remove_file(run.metrics());
    }
    if cfg.optim.ema > 0.0 && ema_w.is_none() {
        ema_w = Some(p.values.deep_clone()?);
    }
    crate::io::write_atomic(&run.config(), |w| Ok(w.write_all(toml::to_string(cfg)?.as_bytes())?))?;

    let pack = Arc::new(Pack::open(&cfg.data.train)?);
    let degradations = cfg.data.degradations.parse().with_context(|| "data.degradations")?;
    let mut loader = Loader::new(
        pack,
        LoaderConfig {
            batch: cfg.data.batch,
            lr_patch: cfg.data.lr_patch,
            scale,
            augment: cfg.data.augment,
            degradations,
            round_lr: true,
            seed: cfg.run.seed,
            workers: cfg.data.workers,
            prefetch: 4,
        },
    )?;
    loader.seek(start + 1);
    let val = match cfg.data.val.as_deref() {
        None | Some("") => Vec::new(),
        Some(spec) => {
            load_val(spec, scale, cfg.data.val_crop, cfg.data.val_images, &cfg.data.val_degradations)?
        }
    };
    let bicubic_y =
        (!val.is_empty()).then(|| val.iter().map(|v| v.bicubic_psnr_y).sum::<f64>() / val.len() as f64);

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
    pb.set_position(start);
    let t0 = Instant::now();
    let mut last_loss = f64::NAN;
    let mut last_val = None;
    let save = |step: u64,
                p: &Params,
                m: &Tensor,
                v: &Tensor,
                ema_w: &Option<Tensor>,
                path: &Path,
                optim: bool,
                extra: &[Extra]|
     -> Result<()> {
        let ck = Checkpoint {
            arch: cfg.model.clone(),
            step,
            params: p.values.to_vec()?,
            params_ema: ema_w.as_ref().map(|e| e.to_vec()).transpose()?,
            buffers: p.buffers.to_vec()?,
            optim: optim
                .then(|| Ok::<_, anyhow::Error>(AdamState { m: m.to_vec()?, v: v.to_vec()? }))
                .transpose()?,
            meta: [
                ("config".to_string(), toml::to_string(cfg)?),
                ("resume_key".to_string(), resume_key(cfg)?),
            ]
            .into_iter()
            .collect(),
        };
        checkpoint::save_with(path, &ck, extra)
    };

    for step in start + 1..=cfg.run.iterations {
        let batch = loader.next()?;
        debug_assert_eq!(batch.step, step);
        let (lr, hr) = (batch.lr.to_device(dev)?, batch.hr.to_device(dev)?);
        let y = net.forward(&mut p, &lr, Pass::TRAIN)?;
        let (loss, mut terms, dy) = match &mut gan {
            None => {
                let (l, d) = pixel_loss(cfg.optim.loss, &y, &hr, 1.0)?;
                (l, Terms::new(), d)
            }
            Some(g) => g.generator_loss(cfg.optim.loss, &y, &hr)?,
        };
        if !loss.is_finite() {
            let last = if run.latest().exists() {
                format!("the last checkpoint, {}, is intact", run.latest().display())
            } else {
                "no checkpoint had been written yet".to_string()
            };
            bail!(
                "training stopped: the loss became {loss} at iteration {step}; {last}. Try a lower optim.lr."
            );
        }
        p.zero_grads()?;
        net.backward(&mut p, &dy, Want::PARAMS)?;
        let rate = cfg.schedule.lr(cfg.optim.lr, step);
        let h = AdamStep {
            lr: rate as f32,
            beta1: cfg.optim.beta1,
            beta2: cfg.optim.beta2,
            eps: cfg.optim.eps,
            weight_decay: cfg.optim.weight_decay,
            step,
        };
        p.adam_step(&h, &mut m, &mut v)?;
        if let Some(g) = &mut gan {
            let d_rate = cfg.schedule.lr(cfg.gan.as_ref().unwrap().d_lr, step);
            terms.extend(g.discriminator_step(
                &y,
                &hr,
                &AdamStep { lr: d_rate as f32, weight_decay: 0.0, ..h },
            )?);
        }
        if let Some(e) = &mut ema_w {
            let decay = if cfg.optim.ema_warmup {
                cfg.optim.ema.min((1.0 + step as f32) / (10.0 + step as f32))
            } else {
                cfg.optim.ema
            };
            ema(decay, &p.values.view(), &mut e.view_mut()?)?;
        }
        last_loss = loss;
        pb.set_position(step);
        let shown: String =
            terms.iter().map(|(k, v)| format!(" {}={v:.4}", k.trim_start_matches("l_"))).collect();
        pb.set_message(format!("loss {loss:.5}{shown} lr {rate:.2e}"));
        if cfg.run.log_every > 0 && step % cfg.run.log_every == 0 {
            let mut line = serde_json::json!({"step": step, "loss": loss, "lr": rate, "seconds": t0.elapsed().as_secs_f64()});
            for (k, v) in &terms {
                line[*k] = serde_json::json!(v);
            }
            append_metrics(&run.metrics(), line)?;
        }
        let last = step == cfg.run.iterations;
        if !val.is_empty() && (last || (cfg.run.val_every > 0 && step % cfg.run.val_every == 0)) {
            let weights = ema_w.as_ref().unwrap_or(&p.values).clone();
            let (rgb, y) = validate(net.as_mut(), &weights, &mut p, &val, dev)?;
            let b = bicubic_y.unwrap();
            let mut line =
                serde_json::json!({"step": step, "val_psnr": rgb, "val_psnr_y": y, "bicubic_psnr_y": b});
            let mut msg = format!("iteration {step}: validation PSNR {rgb:.3} dB, PSNR-Y {y:.3} dB");
            // The EMA lags the raw weights early on; both tell whether the run is healthy.
            if ema_w.is_some() {
                let raw = p.values.clone();
                let (rgb_raw, y_raw) = validate(net.as_mut(), &raw, &mut p, &val, dev)?;
                line["val_psnr_raw"] = rgb_raw.into();
                line["val_psnr_y_raw"] = y_raw.into();
                msg = format!("{msg} (EMA weights; raw weights {y_raw:.3} dB)");
            }
            pb.println(format!("{msg}, bicubic {b:.3} dB"));
            append_metrics(&run.metrics(), line)?;
            write_curves(&run.metrics(), &run.root.join("curves.png"))?;
            last_val = Some(y);
        }
        if last || (cfg.run.ckpt_every > 0 && step % cfg.run.ckpt_every == 0) {
            let extra = gan.as_ref().map(|g| g.to_extra(true)).transpose()?.unwrap_or_default();
            save(step, &p, &m, &v, &ema_w, &run.latest(), true, &extra)?;
            if !last {
                std::fs::copy(run.latest(), run.numbered(step))?;
            }
        }
        if opts.stop_after == Some(step) && !last {
            pb.abandon_with_message(format!("stopped after iteration {step} (--stop-after)"));
            return Ok(Summary {
                iterations: step,
                final_loss: last_loss,
                val_psnr_y: last_val,
                bicubic_psnr_y: bicubic_y,
                seconds: t0.elapsed().as_secs_f64(),
            });
        }
    }
    pb.finish();
    save(cfg.run.iterations, &p, &m, &v, &ema_w, &run.model(), false, &[])?;
    if let Some(g) = &gan {
        g.save_model(&run.model_d())?;
    }
    Ok(Summary {
        iterations: cfg.run.iterations,
        final_loss: last_loss,
        val_psnr_y: last_val,
        bicubic_psnr_y: bicubic_y,
        seconds: t0.elapsed().as_secs_f64(),
    })
}
