//! The toolbox: twelve residual CNNs, each trained with the engine's trainer to undo one
//! degradation at one range of strength, and the loaded toolbox that applies them to batches.
//!
//! Tools 1-4 deblur, 5-8 denoise, 9-12 remove JPEG artifacts, each group from weak to strong;
//! the two weaker tools of a group are small (3 layers), the two stronger large (8 layers). A
//! tool's training data is its own degradation drawn in its range, with each of the other two at
//! a light strength half of the time, because in a toolchain no degradation comes alone.

use super::levels::BLUR_KERNEL;
use crate::data::Image;
use crate::device::Device;
use crate::nn::checkpoint::{self, WeightSet};
use crate::nn::models::{Arch, SrNet};
use crate::nn::{Params, Pass};
use crate::tensor::Tensor;
use crate::train::config::{DataConfig, OptimConfig, PixelLoss, RunConfig};
use crate::train::schedule::Schedule;
use crate::train::{train_or_reuse, RunSpec, TrainConfig};
use crate::Result;
use anyhow::{ensure, Context};
use std::path::{Path, PathBuf};

/// What a tool undoes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Deblur,
    Denoise,
    Dejpeg,
}

/// One tool: its kind, its strength range (blur sigma in pixels, noise sigma on 0-255, JPEG
/// quality) and its size.
#[derive(Clone, Copy, Debug)]
pub struct ToolSpec {
    pub kind: Kind,
    pub lo: f64,
    pub hi: f64,
    pub large: bool,
}

pub const TOOLS: [ToolSpec; 12] = [
    ToolSpec { kind: Kind::Deblur, lo: 0.5, hi: 1.5, large: false },
    ToolSpec { kind: Kind::Deblur, lo: 1.5, hi: 2.5, large: false },
    ToolSpec { kind: Kind::Deblur, lo: 2.5, hi: 3.75, large: true },
    ToolSpec { kind: Kind::Deblur, lo: 3.75, hi: 5.0, large: true },
    ToolSpec { kind: Kind::Denoise, lo: 2.0, hi: 12.0, large: false },
    ToolSpec { kind: Kind::Denoise, lo: 12.0, hi: 24.0, large: false },
    ToolSpec { kind: Kind::Denoise, lo: 24.0, hi: 37.0, large: true },
    ToolSpec { kind: Kind::Denoise, lo: 37.0, hi: 50.0, large: true },
    ToolSpec { kind: Kind::Dejpeg, lo: 50.0, hi: 80.0, large: false },
    ToolSpec { kind: Kind::Dejpeg, lo: 35.0, hi: 50.0, large: false },
    ToolSpec { kind: Kind::Dejpeg, lo: 20.0, hi: 35.0, large: true },
    ToolSpec { kind: Kind::Dejpeg, lo: 10.0, hi: 20.0, large: true },
];

impl ToolSpec {
    /// The training degradations, blur then noise then JPEG, as a pipeline spec.
    pub fn degradations(&self) -> String {
        let (lo, hi) = (self.lo, self.hi);
        let blur = match self.kind {
            Kind::Deblur => format!("blur:{BLUR_KERNEL}:{lo}-{hi}"),
            _ => format!("blur:{BLUR_KERNEL}:0.2-1@0.5"),
        };
        let noise = match self.kind {
            Kind::Denoise => format!("noise:{lo}-{hi}"),
            _ => "noise:0-5@0.5".to_string(),
        };
        // Quality ranges run low-high in a spec; the table lists them weak (high) first.
        let jpeg = match self.kind {
            Kind::Dejpeg => format!("jpeg:{}-{}", lo.min(hi), lo.max(hi)),
            _ => "jpeg:80-100@0.5".to_string(),
        };
        format!("{blur},{noise},{jpeg}")
    }

    pub fn arch(&self) -> Arch {
        Arch::RestoreTool { large: self.large }
    }

    /// "deblur sigma 0.5-1.5 (small)".
    pub fn describe(&self) -> String {
        let what = match self.kind {
            Kind::Deblur => "deblur sigma",
            Kind::Denoise => "denoise sigma",
            Kind::Dejpeg => "de-JPEG quality",
        };
        format!("{what} {}-{} ({})", self.lo, self.hi, if self.large { "large" } else { "small" })
    }
}

/// The run folder of tool `i` (0-based) under a toolbox folder: `tool01` .. `tool12`.
pub fn tool_name(i: usize) -> String {
    format!("tool{:02}", i + 1)
}

/// How long and how the tools train.
#[derive(Clone, Debug)]
pub struct ToolTraining {
    pub iterations: u64,
    pub batch: usize,
    pub patch: usize,
    pub lr: f64,
    pub seed: u64,
}

/// The training configuration of tool `i` on the HR pack `train`.
pub fn tool_config(i: usize, train: &Path, t: &ToolTraining) -> TrainConfig {
    let spec = TOOLS[i];
    TrainConfig {
        model: spec.arch(),
        init_from: None,
        data: DataConfig {
            train: train.to_owned(),
            val: None,
            lr_patch: t.patch,
            batch: t.batch,
            augment: true,
            degradations: spec.degradations(),
            workers: DataConfig::DEFAULT_WORKERS,
            val_degradations: String::new(),
            val_crop: 0,
            val_images: 0,
            varying: None,
            maps: None,
            val_maps: None,
        },
        optim: OptimConfig { loss: PixelLoss::Mse, lr: t.lr, ema: 0.0, ..OptimConfig::default() },
        schedule: Schedule::Constant,
        run: RunConfig {
            iterations: t.iterations,
            seed: t.seed.wrapping_add(i as u64),
            val_every: 0,
            ckpt_every: 0,
            log_every: 10,
        },
        gan: None,
    }
}

/// Trains the twelve tools into `out/runs/tool01` .. `out/runs/tool12` (configurations in
/// `out/configs`), reusing finished runs of the same configuration and resuming interrupted
/// ones; returns each tool's seconds of training (None: reused).
pub fn train_toolbox(
    train: &Path,
    out: &Path,
    t: &ToolTraining,
    dev: &Device,
    quiet: bool,
) -> Result<Vec<Option<f64>>> {
    let mut seconds = Vec::with_capacity(TOOLS.len());
    for (i, spec) in TOOLS.iter().enumerate() {
        let (name, title) = (tool_name(i), format!("tool {} of 12, {}", i + 1, spec.describe()));
        let note = format!("{} iterations", t.iterations);
        let run = RunSpec { name: &name, title: &title, study: "restore toolbox", note: &note };
        seconds.push(train_or_reuse(&run, out, &tool_config(i, train, t), dev, quiet)?);
    }
    Ok(seconds)
}

/// The twelve trained tools, ready to apply.
pub struct Toolbox {
    nets: Vec<(Box<dyn SrNet>, Params)>,
    dev: Device,
}

impl Toolbox {
    /// Loads `DIR/runs/tool01/model.safetensors` .. `DIR/runs/tool12/model.safetensors`.
    pub fn load(dir: &Path, dev: &Device) -> Result<Toolbox> {
        let mut nets = Vec::with_capacity(TOOLS.len());
        for (i, spec) in TOOLS.iter().enumerate() {
            let path = Self::model_path(dir, i);
            ensure!(
                path.exists(),
                "{}: no trained tool {} here; train the toolbox first (`ddr-engine restore toolbox`)",
                path.display(),
                i + 1
            );
            let ck = checkpoint::load(&path, Some(&spec.arch()))
                .with_context(|| format!("tool {} ({})", i + 1, spec.describe()))?;
            nets.push(ck.instantiate(dev, WeightSet::Raw)?);
        }
        Ok(Toolbox { nets, dev: dev.clone() })
    }

    pub fn model_path(dir: &Path, i: usize) -> PathBuf {
        dir.join("runs").join(tool_name(i)).join("model.safetensors")
    }

    pub fn device(&self) -> &Device {
        &self.dev
    }

    /// Tool `i` applied to every image (all the same size), outputs clipped to [0, 1].
    pub fn apply(&mut self, i: usize, images: &[&Image]) -> Result<Vec<Image>> {
        let x = stack(images, &self.dev)?;
        let (net, p) = &mut self.nets[i];
        let y = net.forward(p, &x, Pass::EVAL)?;
        let mut out = unstack(&y)?;
        for img in &mut out {
            img.data.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0));
        }
        Ok(out)
    }
}

/// Images of one size as a `[n, c, h, w]` tensor on `dev`.
pub fn stack(images: &[&Image], dev: &Device) -> Result<Tensor> {
    ensure!(!images.is_empty(), "no image to stack");
    let (c, h, w) = (images[0].c, images[0].h, images[0].w);
    let mut data = Vec::with_capacity(images.len() * c * h * w);
    for img in images {
        ensure!((img.c, img.h, img.w) == (c, h, w), "images of different sizes in one batch");
        data.extend_from_slice(&img.data);
    }
    Tensor::from_vec(data, &[images.len(), c, h, w], dev)
}

/// A `[n, c, h, w]` tensor back to images.
pub fn unstack(t: &Tensor) -> Result<Vec<Image>> {
    let (n, c, h, w) = t.dims4()?;
    let data = t.to_vec()?;
    data.chunks_exact(c * h * w).take(n).map(|d| Image::new(c, h, w, d.to_vec())).collect()
}
