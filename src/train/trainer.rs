//! A training run's state as one object, in the shape BasicSR's model classes give it: build it
//! from a configuration, [`Trainer::resume`] it from a checkpoint, then [`Trainer::step`],
//! [`Trainer::validate`] and [`Trainer::checkpoint`] as the loop in [`super::run`] decides.
//!
//! Everything a step does is a function of (configuration, step): the batch comes from
//! `Loader::batch(step)`, the learning rate from the schedule, and the optimiser state is in the
//! checkpoint. A run resumed from a checkpoint therefore continues bit for bit on the CPU.

use super::config::TrainConfig;
use super::gan::{pixel_loss, Gan, Terms};
use crate::data::cond_maps;
use crate::data::degrade::Pipeline;
use crate::data::degrade_map::{degrade_varying, MAP_CHANNELS};
use crate::data::imresize::imresize;
use crate::data::loader::{Loader, LoaderConfig};
use crate::data::pack::Pack;
use crate::data::testset::{degrade_rounded, load_named_photos};
use crate::data::{prepare::mod_crop, Image};
use crate::device::memory::ensure_fits;
use crate::device::Device;
use crate::infer::super_resolve_with;
use crate::metrics::image::psnr;
use crate::nn::checkpoint::{self, AdamState, Checkpoint, WeightSet};
use crate::nn::models::SrNet;
use crate::nn::{Params, Pass, Want};
use crate::ops::optim::{ema, AdamStep};
use crate::tensor::Tensor;
use crate::{Result, Rng};
use anyhow::{bail, ensure, Context};
use std::path::Path;
use std::sync::Arc;

/// One validation image: HR, its 8-bit degraded LR (with the degradation maps when they vary
/// across the frame), and the bicubic upscaling's PSNR-Y.
struct ValImage {
    hr: Image,
    lr: Image,
    maps: Option<Image>,
    bicubic_psnr_y: f64,
}

/// First key of the validation set's random stream (varying degradations).
const VAL_STREAM: u64 = 0x0056_414C; // "VAL"

/// What a conditioned network reads of maps that are there anyway: unconditioned networks
/// trained on the same data (SFT-GAN's comparisons) ignore them.
fn maps_for<'a, T>(net: &dyn SrNet, maps: Option<&'a T>) -> Option<&'a T> {
    net.condition().and(maps)
}

/// What one iteration did.
pub struct StepReport {
    pub loss: f64,
    /// Every loss term of a GAN run (pixel, perceptual, adversarial, the discriminator's).
    pub terms: Terms,
    pub lr: f64,
}

/// Mean PSNR-RGB and PSNR-Y over the validation set, of the EMA weights when the run keeps them
/// (then `raw` holds the raw weights' pair: the EMA lags them early on, and both tell whether the
/// run is healthy).
pub struct Validation {
    pub psnr: f64,
    pub psnr_y: f64,
    pub raw: Option<(f64, f64)>,
}

/// The error of a step whose loss was NaN or infinite (nothing was updated).
#[derive(Debug)]
pub struct NonFiniteLoss {
    pub loss: f64,
    pub step: u64,
}

impl std::fmt::Display for NonFiniteLoss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the loss became {} at iteration {}", self.loss, self.step)
    }
}

impl std::error::Error for NonFiniteLoss {}

/// A network in training with its optimiser, EMA, discriminator (GAN runs), data and validation
/// set.
pub struct Trainer {
    cfg: TrainConfig,
    dev: Device,
    net: Box<dyn SrNet>,
    p: Params,
    adam_m: Tensor,
    adam_v: Tensor,
    ema: Option<Tensor>,
    gan: Option<Gan>,
    loader: Loader,
    val: Vec<ValImage>,
    /// Iterations done.
    step: u64,
}

impl Trainer {
    /// A fresh run: the network from the seed or `init_from`, the data, the validation set. A GAN
    /// run without its VGG19 weights fails here, before anything is written.
    pub fn new(cfg: &TrainConfig, dev: &Device) -> Result<Trainer> {
        const PREFETCH: usize = 4;
        let in_flight =
            cfg.data.batch_bytes(cfg.model.scale()).and_then(|b| b.checked_mul(PREFETCH as u64 + 1));
        let what = format!("data.batch = {} with data.lr_patch = {}", cfg.data.batch, cfg.data.lr_patch);
        ensure_fits(&Device::Cpu, in_flight, &format!("{what} ({} batches in flight)", PREFETCH + 1))?;
        let gan = Gan::new(cfg, dev)?;
        let (net, mut p) = cfg.model.build(dev, cfg.run.seed)?;
        let state = (p.len() as u64).checked_mul(if cfg.optim.ema > 0.0 { 12 } else { 8 });
        ensure_fits(dev, state, &format!("Adam's moments and the EMA of {} parameters", p.len()))?;
        if let Some(init) = &cfg.init_from {
            let ck = checkpoint::load(init, Some(&cfg.model)).with_context(|| "init_from")?;
            p.load_values(ck.weights(WeightSet::Ema))?;
        }
        let n = p.len();
        let ema = (cfg.optim.ema > 0.0).then(|| p.values.deep_clone()).transpose()?;
        let pack = Arc::new(Pack::open(&cfg.data.train)?);
        let maps = cfg.data.maps.as_deref().map(Pack::open).transpose().with_context(|| "data.maps")?;
        if let (Some(m), Some(c)) = (&maps, net.condition()) {
            let k = m.entries().first().map_or(0, |e| e.c);
            ensure!(
                k == c.channels,
                "data.maps: {} holds {k} maps per photo; {} reads {} (set model.cond_in = {k})",
                m.path().display(),
                cfg.model.describe(),
                c.channels
            );
        }
        let degradations = cfg.data.degradations.parse().with_context(|| "data.degradations")?;
        let mut loader = Loader::with_maps(
            pack,
            maps.map(Arc::new),
            LoaderConfig {
                batch: cfg.data.batch,
                lr_patch: cfg.data.lr_patch,
                scale: cfg.model.scale(),
                augment: cfg.data.augment,
                degradations,
                round_lr: true,
                varying: cfg.data.varying,
                seed: cfg.run.seed,
                workers: cfg.data.workers,
                prefetch: PREFETCH,
            },
        )?;
        loader.seek(1);
        let val = match cfg.data.val.as_deref() {
            None | Some("") => Vec::new(),
            Some(spec) => load_val(spec, cfg)?,
        };
        // Maps the network cannot read would fail at the first validation, after training began.
        if let Some(c) = net.condition() {
            if let Some(m) = val.iter().filter_map(|v| v.maps.as_ref()).find(|m| m.c != c.channels) {
                bail!("data.val_maps: {} maps per photo; {} reads {}", m.c, cfg.model.describe(), c.channels);
            }
        }
        Ok(Trainer {
            cfg: cfg.clone(),
            dev: dev.clone(),
            net,
            p,
            adam_m: Tensor::zeros(&[n], dev)?,
            adam_v: Tensor::zeros(&[n], dev)?,
            ema,
            gan,
            loader,
            val,
            step: 0,
        })
    }

    /// Continues from a checkpoint that [`Trainer::checkpoint`] wrote with the optimiser state;
    /// the configuration must be the original's, up to `run.iterations` and logging intervals.
    pub fn resume(&mut self, latest: &Path) -> Result<()> {
        let ck = checkpoint::load(latest, Some(&self.cfg.model))?;
        let stored = ck.meta.get("resume_key").cloned().unwrap_or_default();
        let key = resume_key(&self.cfg)?;
        // Checkpoints written before optim.ema_warmup existed ran without it.
        let legacy = !self.cfg.optim.ema_warmup && stored == key.replace("ema_warmup = false\n", "");
        ensure!(
            stored == key || legacy,
            "--resume: the configuration differs from the run in {} (only run.iterations and the \
             logging intervals may change)",
            latest.parent().and_then(Path::parent).unwrap_or(latest).display()
        );
        let n = self.p.len();
        self.p.load_values(&ck.params)?;
        self.p.load_buffers(&ck.buffers)?;
        let o = ck.optim.context("--resume: the checkpoint has no optimiser state")?;
        self.adam_m = Tensor::from_vec(o.m, &[n], &self.dev)?;
        self.adam_v = Tensor::from_vec(o.v, &[n], &self.dev)?;
        self.ema = match ck.params_ema {
            Some(e) => Some(Tensor::from_vec(e, &[n], &self.dev)?),
            None if self.cfg.optim.ema > 0.0 => Some(self.p.values.deep_clone()?),
            None => None,
        };
        if let Some(g) = &mut self.gan {
            g.restore(latest)?;
        }
        self.step = ck.step;
        self.loader.seek(self.step + 1);
        Ok(())
    }

    /// Iterations done.
    pub fn iteration(&self) -> u64 {
        self.step
    }

    /// One iteration: a batch, the forward and backward passes, Adam (and the discriminator's
    /// step in a GAN run), the EMA. A loss that is not finite stops the run before any update.
    pub fn step(&mut self) -> Result<StepReport> {
        let (cfg, dev) = (&self.cfg, &self.dev);
        let step = self.step + 1;
        let batch = self.loader.next()?;
        debug_assert_eq!(batch.step, step);
        let (lr, hr) = (batch.lr.to_device(dev)?, batch.hr.to_device(dev)?);
        if let Some(maps) = maps_for(self.net.as_ref(), batch.cond.as_ref()) {
            self.net.set_condition(maps.to_device(dev)?)?;
        }
        let y = self.net.forward(&mut self.p, &lr, Pass::TRAIN)?;
        let (loss, mut terms, dy) = match &mut self.gan {
            None => {
                let (l, d) = pixel_loss(cfg.optim.loss, &y, &hr, 1.0)?;
                (l, Terms::new(), d)
            }
            Some(g) => g.generator_loss(cfg.optim.loss, &y, &hr)?,
        };
        if !loss.is_finite() {
            return Err(NonFiniteLoss { loss, step }.into());
        }
        self.p.zero_grads()?;
        self.net.backward(&mut self.p, &dy, Want::PARAMS)?;
        let rate = cfg.schedule.lr(cfg.optim.lr, step);
        let h = AdamStep {
            lr: rate as f32,
            beta1: cfg.optim.beta1,
            beta2: cfg.optim.beta2,
            eps: cfg.optim.eps,
            weight_decay: cfg.optim.weight_decay,
            step,
        };
        self.p.adam_step(&h, &mut self.adam_m, &mut self.adam_v)?;
        if let Some(g) = &mut self.gan {
            let d_rate = cfg.schedule.lr(cfg.gan.as_ref().expect("a GAN run has [gan]").d_lr, step);
            let d_step = AdamStep { lr: d_rate as f32, weight_decay: 0.0, ..h };
            terms.extend(g.discriminator_step(&y, &hr, &d_step)?);
        }
        if let Some(e) = &mut self.ema {
            let decay = if cfg.optim.ema_warmup {
                cfg.optim.ema.min((1.0 + step as f32) / (10.0 + step as f32))
            } else {
                cfg.optim.ema
            };
            ema(decay, &self.p.values.view(), &mut e.view_mut()?)?;
        }
        self.step = step;
        Ok(StepReport { loss, terms, lr: rate })
    }

    /// The validation scores now; `None` when the run has no validation set.
    pub fn validate(&mut self) -> Result<Option<Validation>> {
        if self.val.is_empty() {
            return Ok(None);
        }
        let (net, val) = (self.net.as_mut(), &self.val);
        let mut scores = |p: &mut Params| -> Result<(f64, f64)> {
            let mut sums = (0.0, 0.0);
            for v in val {
                let maps = maps_for(net, v.maps.as_ref());
                let sr = super_resolve_with(net, p, &v.lr, maps, None)?;
                let s = net.arch().scale();
                sums.0 += psnr(&sr, &v.hr, s, false);
                sums.1 += psnr(&sr, &v.hr, s, true);
            }
            Ok((sums.0 / val.len() as f64, sums.1 / val.len() as f64))
        };
        Ok(Some(match &self.ema {
            Some(e) => {
                let (psnr, psnr_y) = self.p.with_values(e, &mut scores)?;
                let raw = scores(&mut self.p)?;
                Validation { psnr, psnr_y, raw: Some(raw) }
            }
            None => {
                let (psnr, psnr_y) = scores(&mut self.p)?;
                Validation { psnr, psnr_y, raw: None }
            }
        }))
    }

    /// Bicubic upscaling's mean PSNR-Y on the validation set (what the network has to beat).
    pub fn bicubic_psnr_y(&self) -> Option<f64> {
        let n = self.val.len();
        (n > 0).then(|| self.val.iter().map(|v| v.bicubic_psnr_y).sum::<f64>() / n as f64)
    }

    /// Writes the network (raw and EMA weights, buffers) at the current iteration; `with_optim`
    /// adds what [`Trainer::resume`] needs (Adam's moments and, in a GAN run, the discriminator).
    pub fn checkpoint(&self, path: &Path, with_optim: bool) -> Result<()> {
        let cfg = &self.cfg;
        let optim = with_optim
            .then(|| Ok::<_, anyhow::Error>(AdamState { m: self.adam_m.to_vec()?, v: self.adam_v.to_vec()? }))
            .transpose()?;
        let ck = Checkpoint {
            arch: cfg.model.clone(),
            step: self.step,
            params: self.p.values.to_vec()?,
            params_ema: self.ema.as_ref().map(|e| e.to_vec()).transpose()?,
            buffers: self.p.buffers.to_vec()?,
            optim,
            meta: [
                ("config".to_string(), toml::to_string(cfg)?),
                ("resume_key".to_string(), resume_key(cfg)?),
            ]
            .into_iter()
            .collect(),
        };
        let extra = match (&self.gan, with_optim) {
            (Some(g), true) => g.to_extra(true)?,
            _ => Vec::new(),
        };
        checkpoint::save_with(path, &ck, &extra)
    }

    /// A GAN run's discriminator as a plain BasicSR state dict (nothing for other runs).
    pub fn save_discriminator(&self, path: &Path) -> Result<()> {
        match &self.gan {
            Some(g) => g.save_model(path),
            None => Ok(()),
        }
    }
}

/// The validation images: the photos of `spec` ("builtin" or a folder), mod-cropped to the scale,
/// centre-cropped to `data.val_crop`, degraded by `data.val_degradations` (default: bicubic
/// 1/scale) or by `data.varying` (drawn from a fixed stream, per image), and rounded to 8 bits.
fn load_val(spec: &str, cfg: &TrainConfig) -> Result<Vec<ValImage>> {
    let (scale, crop) = (cfg.model.scale(), cfg.data.val_crop);
    let pipeline: Pipeline = if cfg.data.val_degradations.is_empty() {
        format!("bicubic:1/{scale}").parse()?
    } else {
        cfg.data.val_degradations.parse().with_context(|| "data.val_degradations")?
    };
    let mut rng = Rng::new(0);
    load_named_photos(spec)
        .with_context(|| "data.val")?
        .into_iter()
        .take(cfg.data.val_images)
        .enumerate()
        .map(|(i, (name, p))| {
            let user_maps = match &cfg.data.val_maps {
                Some(dir) => Some(
                    cond_maps::read_for(dir, &name, p.height() as usize, p.width() as usize)
                        .with_context(|| "data.val_maps")?,
                ),
                None => None,
            };
            let mut hr = Image::from_rgb8(&mod_crop(&p, scale));
            // mod_crop keeps the top-left corner; the centre crop is the same for the maps.
            let (mut y0, mut x0) = (0, 0);
            if crop > 0 && (hr.h > crop || hr.w > crop) {
                let (ch, cw) = (crop.min(hr.h) / scale * scale, crop.min(hr.w) / scale * scale);
                (y0, x0) = ((hr.h - ch) / 2, (hr.w - cw) / 2);
                hr = hr.crop(y0, x0, ch, cw)?;
            }
            let (lr, maps) = match &cfg.data.varying {
                Some(v) => {
                    let d = degrade_varying(&hr, scale, v, &mut Rng::derive(0, &[VAL_STREAM, i as u64]))?;
                    let mut lr = d.lr;
                    lr.quantize();
                    (lr, Some(Image::new(MAP_CHANNELS, hr.h, hr.w, d.maps)?))
                }
                None => {
                    let maps = user_maps.map(|m| m.crop(y0, x0, hr.h, hr.w)).transpose()?;
                    (degrade_rounded(&hr, &pipeline, &mut rng)?.0, maps)
                }
            };
            ensure!(
                lr.h * scale == hr.h && lr.w * scale == hr.w,
                "data.val_degradations must shrink by exactly 1/{scale}"
            );
            let bicubic = imresize(&lr, scale as f64)?;
            let bicubic_psnr_y = psnr(&bicubic, &hr, scale, true);
            Ok(ValImage { hr, lr, maps, bicubic_psnr_y })
        })
        .collect()
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
