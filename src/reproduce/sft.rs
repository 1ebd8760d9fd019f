//! `reproduce sft`: does an SFT generator use its condition? Three networks trained alike on
//! photos whose blur and noise vary across each crop: the SFT generator fed the true per-pixel
//! sigma maps, the same generator fed maps of zeros (SFT-GAN's ablation), and MSRResNet with as
//! many multiply-adds per pixel. All three are scored by PSNR-Y on held-out crops with varying
//! degradations; then the conditioned network's maps are swept at test time on uniformly
//! degraded crops, to measure how its restoration strength follows the condition.

use super::plan::Scale;
use super::runs::data_sources;
use super::sft_report::{write_report, RunsInfo, TrainedRun};
use crate::data::degrade_map::{degrade_with, Ramp, VaryingDegradation, MAP_CHANNELS};
use crate::data::image_io::save_png;
use crate::data::imresize::imresize;
use crate::data::testset::{load_photos, photos_at_least, random_crop};
use crate::data::Image;
use crate::device::Device;
use crate::infer::super_resolve_with;
use crate::metrics::image::{mean_gradient, psnr};
use crate::nn::checkpoint::{self, WeightSet};
use crate::nn::models::{Arch, SrNet};
use crate::nn::Params;
use crate::train::config::{DataConfig, OptimConfig, PixelLoss, RunConfig};
use crate::train::schedule::Schedule;
use crate::train::{train_or_reuse, RunSpec, TrainConfig};
use crate::{Result, Rng};
use anyhow::Context;
use image::RgbImage;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The study's degradations: blur up to sigma 4 (HR pixels), noise up to sigma 50 (0-255).
pub const VARYING: VaryingDegradation =
    VaryingDegradation { blur_max: 4.0, noise_max: 50.0, kernel: 21, blind: false };

/// Condition levels of the controllability sweep: 0, 1/8, ..., 1 of each map's maximum.
pub(super) const SWEEP_STEPS: usize = 8;

/// Random streams of the test crops, their degradations and the sweep's noise.
const CROP_STREAM: u64 = 0x5346_5443; // "SFTC"
const DEGRADE_STREAM: u64 = 0x5346_5444; // "SFTD"
const SWEEP_STREAM: u64 = 0x5346_5453; // "SFTS"

/// The sizes that differ between scales.
#[derive(Clone, Copy, Debug)]
pub struct SftSizes {
    pub nf: usize,
    pub nb: usize,
    pub cond_mid: usize,
    pub cond_nf: usize,
    pub iterations: u64,
    pub batch: usize,
    pub lr_patch: usize,
    /// Test crops (HR side) and how many.
    pub crop: usize,
    pub crops: usize,
}

pub fn sizes(scale: Scale) -> SftSizes {
    match scale {
        Scale::Smoke => SftSizes {
            nf: 4,
            nb: 1,
            cond_mid: 8,
            cond_nf: 4,
            iterations: 4,
            batch: 2,
            lr_patch: 8,
            crop: 32,
            crops: 3,
        },
        Scale::Demo => SftSizes {
            nf: 16,
            nb: 4,
            cond_mid: 32,
            cond_nf: 16,
            iterations: 300,
            batch: 4,
            lr_patch: 16,
            crop: 96,
            crops: 10,
        },
        Scale::Cpu => SftSizes {
            nf: 32,
            nb: 8,
            cond_mid: 64,
            cond_nf: 32,
            iterations: 1500,
            batch: 8,
            lr_patch: 24,
            crop: 128,
            crops: 20,
        },
        // SFT-GAN's generator sizes; the iteration count is ours (the paper trains on
        // segmentation priors, not degradation maps).
        Scale::Paper => SftSizes {
            nf: 64,
            nb: 16,
            cond_mid: 128,
            cond_nf: 32,
            iterations: 300_000,
            batch: 16,
            lr_patch: 24,
            crop: 192,
            crops: 100,
        },
    }
}

/// One network of the study.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    /// The SFT generator, fed the true sigma maps.
    Sft,
    /// The same generator trained and run on maps of zeros.
    SftBlind,
    /// MSRResNet (global residual) with the SFT generator's multiply-adds per LR pixel.
    Msrresnet,
}

impl Subject {
    pub const ALL: [Subject; 3] = [Subject::Sft, Subject::SftBlind, Subject::Msrresnet];

    pub fn name(self) -> &'static str {
        match self {
            Subject::Sft => "sft",
            Subject::SftBlind => "sft_blind",
            Subject::Msrresnet => "msrresnet",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Subject::Sft => "SFT, true maps",
            Subject::SftBlind => "SFT, zero maps (blind)",
            Subject::Msrresnet => "MSRResNet, equal compute",
        }
    }
}

fn sft_arch(s: &SftSizes) -> Arch {
    Arch::Sftgan {
        nf: s.nf,
        nb: s.nb,
        cond_in: MAP_CHANNELS,
        cond_mid: s.cond_mid,
        cond_nf: s.cond_nf,
        cond_down: 4,
    }
}

/// Weights of `arch`. Every layer but the shared upsampler runs on the LR grid (the condition
/// network's first convolution has stride 4 on the HR maps), so two of these networks with the
/// same upsampler and the same count do the same multiply-adds per pixel.
pub fn weight_count(arch: &Arch) -> Result<usize> {
    let (_, builder) = arch.declare()?;
    Ok(builder.specs().0.iter().map(|s| s.len()).sum())
}

/// MSRResNet of the SFT generator's width with the block count whose weight count comes closest.
pub fn equal_compute_msrresnet(s: &SftSizes) -> Result<Arch> {
    let target = weight_count(&sft_arch(s))? as i64;
    let mut best = None;
    for nb in 1..=4 * s.nb + 8 {
        let arch = Arch::Msrresnet { nf: s.nf, nb, scale: 4, global_residual: true };
        let d = (weight_count(&arch)? as i64 - target).abs();
        if best.as_ref().is_none_or(|(bd, _)| d < *bd) {
            best = Some((d, arch));
        }
    }
    Ok(best.context("no MSRResNet depth")?.1)
}

/// The training configuration of `subject` at `scale`.
pub fn train_config(subject: Subject, scale: Scale, train: &Path, heldout: &str) -> Result<TrainConfig> {
    let s = sizes(scale);
    let model = match subject {
        Subject::Sft | Subject::SftBlind => sft_arch(&s),
        Subject::Msrresnet => equal_compute_msrresnet(&s)?,
    };
    let every = (s.iterations / 3).max(1);
    Ok(TrainConfig {
        model,
        init_from: None,
        data: DataConfig {
            train: train.to_owned(),
            val: Some(heldout.to_owned()),
            lr_patch: s.lr_patch,
            batch: s.batch,
            augment: true,
            degradations: String::new(),
            workers: DataConfig::DEFAULT_WORKERS,
            val_degradations: String::new(),
            val_crop: 2 * s.crop,
            val_images: 5,
            varying: Some(VaryingDegradation { blind: subject == Subject::SftBlind, ..VARYING }),
            maps: None,
            val_maps: None,
        },
        optim: OptimConfig { loss: PixelLoss::L1, lr: 2e-4, ..OptimConfig::default() },
        schedule: Schedule::CosineRestarts {
            periods: vec![s.iterations],
            restart_weights: vec![1.0],
            eta_min: 1e-7,
        },
        run: RunConfig {
            iterations: s.iterations,
            seed: 0,
            val_every: every,
            ckpt_every: every,
            log_every: RunConfig::DEFAULT_LOG_EVERY,
        },
        gan: None,
    })
}

/// A held-out HR crop with its varying degradation, 8-bit LR and true maps.
pub struct TestCrop {
    pub hr: Image,
    pub lr: Image,
    pub maps: Image,
    pub blur: Ramp,
    pub noise: Ramp,
}

/// `count` crops of `side` from the photos in turn, each with its own blur and noise ramps.
pub fn test_crops(photos: &[RgbImage], side: usize, count: usize, seed: u64) -> Result<Vec<TestCrop>> {
    let usable = photos_at_least(photos, side)?;
    (0..count)
        .map(|k| {
            let photo = &photos[usable[k % usable.len()]];
            let (_, _, hr) = random_crop(photo, side, &mut Rng::derive(seed, &[CROP_STREAM, k as u64]))?;
            let mut rng = Rng::derive(seed, &[DEGRADE_STREAM, k as u64]);
            let blur = Ramp::draw(VARYING.blur_max, &mut rng);
            let noise = Ramp::draw(VARYING.noise_max, &mut rng);
            let d = degrade_with(&hr, 4, &VARYING, blur, noise, &mut rng)?;
            let mut lr = d.lr;
            lr.quantize();
            let maps = Image::new(MAP_CHANNELS, hr.h, hr.w, d.maps)?;
            Ok(TestCrop { hr, lr, maps, blur, noise })
        })
        .collect()
}

/// Condition maps of constant levels (fractions of each map's maximum).
fn constant_maps(h: usize, w: usize, blur: f32, noise: f32) -> Result<Image> {
    let mut data = vec![blur; h * w];
    data.extend(std::iter::repeat_n(noise, h * w));
    Image::new(MAP_CHANNELS, h, w, data)
}

/// A trained network of the study, ready to run.
struct Loaded {
    net: Box<dyn SrNet>,
    p: Params,
}

impl Loaded {
    fn open(run: &Path, dev: &Device) -> Result<Loaded> {
        let ck = checkpoint::load(&run.join("model.safetensors"), None)?;
        let (net, p) = ck.instantiate(dev, WeightSet::Ema)?;
        Ok(Loaded { net, p })
    }

    fn run(&mut self, lr: &Image, maps: Option<&Image>) -> Result<Image> {
        let maps = if self.net.condition().is_some() { maps } else { None };
        super_resolve_with(self.net.as_mut(), &mut self.p, lr, maps, None)
    }
}

/// One row of the PSNR table: a method and its PSNR-Y on every test crop.
pub struct Scored {
    pub method: String,
    pub psnr_y: Vec<f64>,
}

impl Scored {
    pub fn mean(&self) -> f64 {
        mean(self.psnr_y.iter().copied())
    }
}

/// One point of a controllability sweep.
#[derive(Clone, Copy, Debug)]
pub struct SweepPoint {
    /// The condition's sigma (blur in HR pixels or noise on 0-255).
    pub level: f64,
    pub mean_gradient: f64,
    pub psnr_y: f64,
}

/// A sweep of one condition map on crops with one uniform degradation.
pub struct Sweep {
    pub degradation: &'static str,
    /// The crops' true sigma.
    pub truth: f64,
    /// The HR crops' mean gradient: the sharpness a perfect restoration has.
    pub hr_gradient: f64,
    pub points: Vec<SweepPoint>,
    /// The sign mean gradient should follow as the level rises: -1 for noise (stronger
    /// denoising smooths), +1 for blur (stronger deblurring sharpens).
    pub expected: f64,
}

impl Sweep {
    /// Steps between neighbouring levels that move the mean gradient the expected way.
    pub fn steps_expected(&self) -> usize {
        self.points
            .windows(2)
            .filter(|w| (w[1].mean_gradient - w[0].mean_gradient) * self.expected > 0.0)
            .count()
    }

    /// The change of mean gradient from the first level to the last, relative to the first: how
    /// much the condition moves the output at all.
    pub fn relative_change(&self) -> f64 {
        match (self.points.first(), self.points.last()) {
            (Some(a), Some(b)) if a.mean_gradient != 0.0 => {
                (b.mean_gradient - a.mean_gradient) / a.mean_gradient
            }
            _ => 0.0,
        }
    }

    /// The level whose output scores the best PSNR-Y.
    pub fn best_level(&self) -> f64 {
        self.points.iter().max_by(|a, b| a.psnr_y.total_cmp(&b.psnr_y)).map_or(f64::NAN, |p| p.level)
    }
}

pub(super) fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    s / n.max(1) as f64
}

/// Sweeps one map of the conditioned network from 0 to its maximum on `crops` degraded
/// uniformly at half the maximum of that degradation (and none of the other).
fn sweep(net: &mut Loaded, crops: &[TestCrop], noise: bool, seed: u64) -> Result<Sweep> {
    let (max, name, expected) =
        if noise { (VARYING.noise_max, "noise", -1.0) } else { (VARYING.blur_max, "blur", 1.0) };
    let truth = max / 2.0;
    let (blur, noise_ramp) = if noise {
        (Ramp::constant(0.0), Ramp::constant(truth))
    } else {
        (Ramp::constant(truth), Ramp::constant(0.0))
    };
    let lrs: Vec<Image> = crops
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let mut rng = Rng::derive(seed, &[SWEEP_STREAM, noise as u64, k as u64]);
            let mut lr = degrade_with(&c.hr, 4, &VARYING, blur, noise_ramp, &mut rng)?.lr;
            lr.quantize();
            Ok(lr)
        })
        .collect::<Result<_>>()?;
    let mut points = Vec::new();
    for step in 0..=SWEEP_STEPS {
        let f = step as f32 / SWEEP_STEPS as f32;
        let (mut grads, mut psnrs) = (Vec::new(), Vec::new());
        for (c, lr) in crops.iter().zip(&lrs) {
            let maps = if noise {
                constant_maps(c.hr.h, c.hr.w, 0.0, f)?
            } else {
                constant_maps(c.hr.h, c.hr.w, f, 0.0)?
            };
            let out = net.run(lr, Some(&maps))?;
            grads.push(mean_gradient(&out, 4));
            psnrs.push(psnr(&out, &c.hr, 4, true));
        }
        points.push(SweepPoint {
            level: f as f64 * max,
            mean_gradient: mean(grads.into_iter()),
            psnr_y: mean(psnrs.into_iter()),
        });
    }
    let hr_gradient = mean(crops.iter().map(|c| mean_gradient(&c.hr, 4)));
    Ok(Sweep { degradation: name, truth, hr_gradient, points, expected })
}

/// What `reproduce sft` runs on.
#[derive(Clone, Debug)]
pub struct SftOptions {
    pub scale: Scale,
    /// Output folder (configs/, runs/, samples/, report.md, CSVs and curves).
    pub out: PathBuf,
    /// Pack of HR training photos; None: the demo's built-in photos (demo and smoke only).
    pub train: Option<PathBuf>,
    /// Held-out HR photos (a folder or "builtin"); only with `train`.
    pub photos: Option<String>,
    /// Seed of the test crops and their degradations.
    pub seed: u64,
    /// No training progress bars.
    pub quiet: bool,
}

/// Trains the three networks (reusing finished runs), scores them, sweeps the condition, and
/// writes OUT/report.md. Returns the report's path.
pub fn sft(dev: &Device, a: &SftOptions) -> Result<PathBuf> {
    let t0 = Instant::now();
    let (train_pack, heldout) = data_sources(a.scale, &a.out, a.train.as_deref(), a.photos.as_deref())?;
    let s = sizes(a.scale);
    let crops = test_crops(&load_photos(&heldout)?, s.crop, s.crops, a.seed)?;
    let mut trained = Vec::new();
    for subject in Subject::ALL {
        let cfg = train_config(subject, a.scale, &train_pack, &heldout)?;
        let note = format!("{:?} scale", a.scale);
        let spec =
            RunSpec { name: subject.name(), title: subject.title(), study: "reproduce sft", note: &note };
        let seconds = train_or_reuse(&spec, &a.out, &cfg, dev, a.quiet)?;
        trained.push(TrainedRun { subject, arch: cfg.model, seconds });
    }
    eprintln!("scoring {} held-out crops", crops.len());
    let samples = a.out.join("samples");
    std::fs::create_dir_all(&samples).with_context(|| format!("cannot create {}", samples.display()))?;
    let mut rows = vec![Scored {
        method: "bicubic".into(),
        psnr_y: crops
            .iter()
            .map(|c| Ok(psnr(&imresize(&c.lr, 4.0)?, &c.hr, 4, true)))
            .collect::<Result<_>>()?,
    }];
    save_png(&samples.join("hr.png"), &crops[0].hr.to_rgb8()?)?;
    save_png(&samples.join("bicubic.png"), &imresize(&crops[0].lr, 4.0)?.to_rgb8()?)?;
    let mut sweeps = Vec::new();
    for subject in Subject::ALL {
        let mut net = Loaded::open(&a.out.join("runs").join(subject.name()), dev)?;
        let mut scores = Vec::new();
        for (k, c) in crops.iter().enumerate() {
            let zeros = constant_maps(c.hr.h, c.hr.w, 0.0, 0.0)?;
            let maps = if subject == Subject::Sft { &c.maps } else { &zeros };
            let out = net.run(&c.lr, Some(maps))?;
            if k == 0 {
                save_png(&samples.join(format!("{}.png", subject.name())), &out.to_rgb8()?)?;
            }
            scores.push(psnr(&out, &c.hr, 4, true));
        }
        rows.push(Scored { method: subject.title().into(), psnr_y: scores });
        if subject == Subject::Sft {
            let blinded = crops
                .iter()
                .map(|c| {
                    Ok(psnr(
                        &net.run(&c.lr, Some(&constant_maps(c.hr.h, c.hr.w, 0.0, 0.0)?))?,
                        &c.hr,
                        4,
                        true,
                    ))
                })
                .collect::<Result<_>>()?;
            rows.push(Scored { method: "SFT trained with maps, run on zero maps".into(), psnr_y: blinded });
            eprintln!("sweeping the condition maps");
            sweeps.push(sweep(&mut net, &crops, true, a.seed)?);
            sweeps.push(sweep(&mut net, &crops, false, a.seed)?);
        }
    }
    let runs = RunsInfo {
        scale: a.scale,
        seed: a.seed,
        sizes: s,
        trained: &trained,
        device: dev.to_string(),
        out: &a.out,
    };
    write_report(&a.out, &runs, &crops, &rows, &sweeps, t0.elapsed().as_secs_f64())?;
    Ok(a.out.join("report.md"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_msrresnet_baseline_has_the_closest_weight_count() {
        for scale in [Scale::Demo, Scale::Cpu, Scale::Paper] {
            let s = sizes(scale);
            let target = weight_count(&sft_arch(&s)).unwrap() as i64;
            let Arch::Msrresnet { nb, .. } = equal_compute_msrresnet(&s).unwrap() else {
                panic!("not msrresnet")
            };
            let off = |nb: usize| {
                (weight_count(&Arch::Msrresnet { nf: s.nf, nb, scale: 4, global_residual: true }).unwrap()
                    as i64
                    - target)
                    .abs()
            };
            assert!(off(nb) <= off(nb - 1) && off(nb) <= off(nb + 1), "{scale:?}: nb {nb}");
            // SFT layers cost extra: the plain network needs more blocks for the same budget.
            assert!(nb > s.nb, "{scale:?}: nb {nb}");
        }
    }

    #[test]
    fn sweep_steps_count_moves_in_the_expected_direction() {
        let point = |level: f64, g: f64, psnr_y: f64| SweepPoint { level, mean_gradient: g, psnr_y };
        let sw = Sweep {
            degradation: "noise",
            truth: 1.0,
            hr_gradient: 0.1,
            points: vec![
                point(0.0, 0.3, 20.0),
                point(1.0, 0.2, 25.0),
                point(2.0, 0.2, 24.0),
                point(3.0, 0.1, 22.0),
            ],
            expected: -1.0,
        };
        // 0.3 -> 0.2 falls, 0.2 -> 0.2 does not move, 0.2 -> 0.1 falls.
        assert_eq!(sw.steps_expected(), 2);
        assert_eq!(sw.best_level(), 1.0);
        assert!((sw.relative_change() + 2.0 / 3.0).abs() < 1e-12);
        let rising = Sweep { expected: 1.0, ..sw };
        assert_eq!(rising.steps_expected(), 0);
    }
}
