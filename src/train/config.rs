//! A training run's configuration: one TOML file (examples in `docs/configs/`), overridable from
//! the command line with `--set section.key=value`. Unknown keys are errors, so a typo never
//! silently leaves a default in place. Relative paths are relative to the working directory.

use super::schedule::Schedule;
use crate::data::degrade_map::{VaryingDegradation, MAP_CHANNELS};
use crate::nn::models::Arch;
use crate::Result;
use anyhow::{bail, ensure, Context};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// The network to train.
    pub model: Arch,
    /// Start from this checkpoint's weights (EMA if it has them) instead of a fresh init:
    /// FAIG's target is fine-tuned from the baseline, SRGAN's generator from an MSE model.
    #[serde(default)]
    pub init_from: Option<PathBuf>,
    pub data: DataConfig,
    #[serde(default)]
    pub optim: OptimConfig,
    #[serde(default)]
    pub schedule: Schedule,
    pub run: RunConfig,
    /// SRGAN training (BasicSR's SRGANModel) when present; absent: pixel-loss training.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gan: Option<GanConfig>,
}

/// The `[gan]` section: the generator's loss is `pixel_weight * pixel loss (optim.loss)
/// + perceptual_weight * mean|VGG19 conv5_4(sr) - conv5_4(hr)| + gan_weight * BCE(D(sr), real)`;
/// the discriminator's is `BCE(D(hr), real) + BCE(D(sr detached), fake)`. Defaults are SRGAN's
/// (BasicSR's train_MSRGAN_x4). G uses `optim` (set optim.lr = 1e-4), D its own rate with the
/// same betas and schedule. D judges HR patches of `data.lr_patch * scale` pixels (SRGAN: 128).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GanConfig {
    #[serde(default = "default_pixel_weight")]
    pub pixel_weight: f32,
    #[serde(default = "default_perceptual_weight")]
    pub perceptual_weight: f32,
    #[serde(default = "default_gan_weight")]
    pub gan_weight: f32,
    /// The discriminator's Adam learning rate.
    #[serde(default = "default_d_lr")]
    pub d_lr: f64,
    /// The discriminator's base width (BasicSR's num_feat).
    #[serde(default = "default_d_nf")]
    pub d_nf: usize,
    /// VGG19 weights for the perceptual loss: safetensors with torchvision key names
    /// (docs/INTEROP.md shows the export). `train --vgg19 FILE` sets it.
    #[serde(default)]
    pub vgg19: Option<PathBuf>,
    /// Seeded random VGG19 weights instead of a file: ONLY for tests and smoke runs (the
    /// perceptual loss then measures nothing useful). `train --vgg19-random` sets it.
    #[serde(default)]
    pub vgg19_random: bool,
    /// The five block widths of the random VGG19 (torchvision's by default; smaller is faster).
    #[serde(default = "default_vgg19_widths")]
    pub vgg19_random_widths: [usize; 5],
    /// Which discriminator: SRGAN's (`vgg`, BasicSR's VGGStyleDiscriminator, inputs a multiple
    /// of 32) or SFT-GAN's (`acd`, ACD_VGG_BN_96 with its category head, inputs a multiple of 16:
    /// 96 in the reference, i.e. data.lr_patch = 24 at x4).
    #[serde(default, skip_serializing_if = "DiscKind::is_vgg")]
    pub discriminator: DiscKind,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiscKind {
    #[default]
    Vgg,
    Acd,
}

impl DiscKind {
    fn is_vgg(&self) -> bool {
        *self == DiscKind::Vgg
    }
}

impl GanConfig {
    pub fn validate(&self, hr_patch: usize, batch: usize) -> Result<()> {
        let weights = [self.pixel_weight, self.perceptual_weight, self.gan_weight];
        ensure!(
            weights.iter().all(|w| w.is_finite() && *w >= 0.0),
            "gan.pixel_weight, gan.perceptual_weight and gan.gan_weight must be >= 0"
        );
        ensure!(self.d_lr > 0.0 && self.d_lr.is_finite(), "gan.d_lr must be a positive number");
        match self.discriminator {
            DiscKind::Vgg => {
                crate::nn::models::discriminator::DiscSpec { nf: self.d_nf, input: hr_patch }.validate()
            }
            DiscKind::Acd => {
                crate::nn::models::acd::AcdSpec { nf: self.d_nf, input: hr_patch, ..Default::default() }
                    .validate()
            }
        }
        .context("data.lr_patch * model.scale is the discriminator's input")?;
        ensure!(batch >= 2, "GAN training needs data.batch >= 2 (the discriminator's BatchNorm)");
        ensure!(
            !(self.vgg19.is_some() && self.vgg19_random),
            "gan.vgg19 and gan.vgg19_random (--vgg19, --vgg19-random) exclude each other"
        );
        Ok(())
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// A pack of HR training photos (`ddr-engine data pack`).
    pub train: PathBuf,
    /// Held-out HR photos for validation: a folder of PNG/JPEG, or "builtin" for the photos that
    /// ship with ddr-engine. Empty: no validation.
    #[serde(default)]
    pub val: Option<String>,
    /// LR patch side (the HR patch is lr_patch * scale).
    #[serde(default = "default_lr_patch")]
    pub lr_patch: usize,
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// Random flips and transposes.
    #[serde(default = "yes")]
    pub augment: bool,
    /// On-the-fly degradations from HR to LR, e.g. "blur:21:2@0.5,bilinear:1/4,noise:25.5@0.5"
    /// (FAIG's target); empty means clean bicubic LR.
    #[serde(default)]
    pub degradations: String,
    /// Loader worker threads.
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// How validation LR is made from HR (a pipeline of resize steps, no randomness); empty means
    /// MATLAB bicubic x1/scale. Set it to match the training data's resize, e.g. "bilinear:1/2".
    #[serde(default)]
    pub val_degradations: String,
    /// Validation images are centre-cropped to this HR size (0: whole images).
    #[serde(default = "default_val_crop")]
    pub val_crop: usize,
    /// At most this many validation images.
    #[serde(default = "default_val_images")]
    pub val_images: usize,
    /// Blur and noise that vary across each patch, with their per-pixel maps (what an SFT network
    /// is conditioned on), instead of `degradations`: `{ blur_max = 4.0, noise_max = 50.0,
    /// kernel = 21 }` (blur sigma in HR pixels, noise sigma on the 0-255 scale; `blind = true`
    /// hands over maps of zeros). Validation images get such degradations too, drawn from a
    /// fixed seed.
    #[serde(default)]
    pub varying: Option<VaryingDegradation>,
    /// User-supplied condition maps of the training photos (SFT-GAN's segmentation
    /// probabilities): the pack `data pack --maps` wrote beside `train`, entry for entry. An
    /// SFT network reads the HR patch's maps; other networks ignore them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maps: Option<PathBuf>,
    /// The validation photos' maps: a folder of `<name>.npy` or `<name>/` PNG maps (as for
    /// `sr --cond`); required with `maps` when `val` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_maps: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PixelLoss {
    L1,
    Mse,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimConfig {
    #[serde(default = "default_loss")]
    pub loss: PixelLoss,
    #[serde(default = "default_lr")]
    pub lr: f64,
    #[serde(default = "default_beta1")]
    pub beta1: f32,
    #[serde(default = "default_beta2")]
    pub beta2: f32,
    #[serde(default = "default_eps")]
    pub eps: f32,
    #[serde(default)]
    pub weight_decay: f32,
    /// Decay of the parameters' exponential moving average (0 disables it).
    #[serde(default = "default_ema")]
    pub ema: f32,
    /// Warm the average up: at iteration t use min(ema, (1 + t) / (10 + t)), so the random
    /// initial weights do not linger in short runs (at 0.999 from the start they still make up
    /// 22% of the average after 1500 iterations). Identical to a constant decay after ~9000
    /// iterations; false reproduces BasicSR exactly.
    #[serde(default = "yes")]
    pub ema_warmup: bool,
}

impl Default for OptimConfig {
    fn default() -> Self {
        OptimConfig {
            loss: default_loss(),
            lr: default_lr(),
            beta1: default_beta1(),
            beta2: default_beta2(),
            eps: default_eps(),
            weight_decay: 0.0,
            ema: default_ema(),
            ema_warmup: true,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    pub iterations: u64,
    #[serde(default)]
    pub seed: u64,
    /// Validate every this many iterations (0: only at the end).
    #[serde(default)]
    pub val_every: u64,
    /// Write a checkpoint every this many iterations (0: only at the end).
    #[serde(default)]
    pub ckpt_every: u64,
    /// Append the training loss to metrics.jsonl every this many iterations.
    #[serde(default = "default_log_every")]
    pub log_every: u64,
}

fn yes() -> bool {
    true
}
fn default_lr_patch() -> usize {
    32
}
impl DataConfig {
    /// Bytes of one batch of f32 LR and HR patches (None if that overflows).
    pub fn batch_bytes(&self, scale: usize) -> Option<u64> {
        let lr = (self.lr_patch as u64).checked_mul(self.lr_patch as u64)?;
        let hr = lr.checked_mul((scale as u64).checked_mul(scale as u64)?)?;
        (self.batch as u64).checked_mul(12)?.checked_mul(lr.checked_add(hr)?)
    }
}

fn default_batch() -> usize {
    16
}
fn default_workers() -> usize {
    DataConfig::DEFAULT_WORKERS
}
fn default_val_crop() -> usize {
    256
}
fn default_val_images() -> usize {
    10
}
fn default_loss() -> PixelLoss {
    PixelLoss::L1
}
fn default_lr() -> f64 {
    2e-4
}
fn default_beta1() -> f32 {
    0.9
}
fn default_beta2() -> f32 {
    0.99
}
fn default_eps() -> f32 {
    1e-8
}
fn default_ema() -> f32 {
    0.999
}
fn default_log_every() -> u64 {
    RunConfig::DEFAULT_LOG_EVERY
}
fn default_pixel_weight() -> f32 {
    1e-2
}
fn default_perceptual_weight() -> f32 {
    1.0
}
fn default_gan_weight() -> f32 {
    5e-3
}
fn default_d_lr() -> f64 {
    1e-4
}
fn default_d_nf() -> usize {
    64
}
fn default_vgg19_widths() -> [usize; 5] {
    crate::nn::models::vgg19::FULL_WIDTHS
}

impl DataConfig {
    /// Loader threads when the file does not say.
    pub const DEFAULT_WORKERS: usize = 2;
}

impl RunConfig {
    /// Log the loss every this many iterations when the file does not say.
    pub const DEFAULT_LOG_EVERY: u64 = 10;
}

impl TrainConfig {
    /// Reads `path`, applies `key=value` overrides and checks the values.
    pub fn load(path: &Path, overrides: &[String]) -> Result<TrainConfig> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let file: toml::Table =
            toml::from_str(&text).with_context(|| format!("{} is not valid TOML", path.display()))?;
        let mut value = file.clone();
        for o in overrides {
            apply_override(&mut value, o)?;
        }
        let parse = |t: toml::Table| -> Result<TrainConfig> {
            if let Some(toml::Value::Table(m)) = t.get("model") {
                check_model_fields(m)?;
            }
            Ok(toml::Value::Table(t).try_into()?)
        };
        let cfg = parse(value).map_err(|e| {
            // Blame the file only if the file alone is wrong too.
            let culprit = match parse(file) {
                Ok(_) => format!("--set {}", overrides.join(" --set ")),
                Err(_) => path.display().to_string(),
            };
            e.context(format!("{culprit}: invalid training configuration"))
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        if let Some(v) = &self.data.varying {
            v.validate().context("data.varying")?;
            ensure!(
                self.data.degradations.is_empty() && self.data.val_degradations.is_empty(),
                "data.varying replaces data.degradations and data.val_degradations: leave them empty"
            );
        }
        ensure!(
            !(self.data.varying.is_some() && self.data.maps.is_some()),
            "data.varying and data.maps are two kinds of condition: choose one"
        );
        ensure!(
            self.data.val_maps.is_none() || self.data.maps.is_some(),
            "data.val_maps goes with data.maps (the training photos' maps)"
        );
        if self.data.maps.is_some() {
            ensure!(
                self.data.val_maps.is_some() || matches!(self.data.val.as_deref(), None | Some("")),
                "data.maps: the validation photos need maps too; set data.val_maps (a folder of \
                 <name>.npy or <name>/ PNG maps) or leave data.val empty"
            );
        }
        if let Some(sft) = self.model.sft_spec() {
            ensure!(
                self.data.varying.is_some() || self.data.maps.is_some(),
                "model.kind = \"sftgan\" reads condition maps: set data.varying (blur and noise that vary \
                 across each patch, whose maps the network reads) or data.maps (a pack of maps beside \
                 the photos, from `data pack --maps`)"
            );
            ensure!(
                sft.cond_down == self.model.scale(),
                "model: condition maps come at HR size; set cond_down = {} (got {})",
                self.model.scale(),
                sft.cond_down
            );
        }
        if let (Some(sft), Some(_)) = (self.model.sft_spec(), &self.data.varying) {
            ensure!(
                sft.cond_in == MAP_CHANNELS && sft.cond_down == self.model.scale(),
                "model: data.varying gives {MAP_CHANNELS} maps at HR size; set cond_in = {MAP_CHANNELS} and \
                 cond_down = {} (got {} and {})",
                self.model.scale(),
                sft.cond_in,
                sft.cond_down
            );
        }
        self.schedule.validate()?;
        ensure!(self.run.iterations > 0, "run.iterations must be > 0");
        ensure!(self.data.batch > 0 && self.data.lr_patch > 0, "data.batch and data.lr_patch must be > 0");
        let max_workers = crate::device::cpu::max_threads();
        ensure!(
            self.data.workers <= max_workers,
            "data.workers must be at most {max_workers} (8 per core, and never fewer than 64), not {}",
            self.data.workers
        );
        ensure!(self.optim.lr > 0.0 && self.optim.lr.is_finite(), "optim.lr must be a positive number");
        ensure!((0.0..1.0).contains(&self.optim.ema), "optim.ema must be in [0, 1)");
        if let Some(g) = &self.gan {
            g.validate(self.data.lr_patch * self.model.scale(), self.data.batch)?;
        }
        ensure!(
            (0.0..1.0).contains(&self.optim.beta1) && (0.0..1.0).contains(&self.optim.beta2),
            "optim.beta1 and optim.beta2 must be in [0, 1)"
        );
        Ok(())
    }
}

/// Names the `[model]` field of the wrong type: serde reports a mistyped field of an internally
/// tagged enum (`Arch`) only as "in `model`".
fn check_model_fields(model: &toml::Table) -> Result<()> {
    for (key, v) in model {
        match key.as_str() {
            "nf" | "nb" | "scale" | "cond_in" | "cond_mid" | "cond_nf" | "cond_down" => {
                ensure!(
                    v.as_integer().is_some_and(|n| n >= 0),
                    "model.{key} = {v} is not a whole number >= 0"
                )
            }
            "global_residual" => ensure!(v.is_bool(), "model.{key} = {v} is not true or false"),
            _ => {}
        }
    }
    Ok(())
}

/// `a.b.c=value`: value parsed as TOML if it can be (numbers, booleans, arrays), else a string.
fn apply_override(root: &mut toml::Table, o: &str) -> Result<()> {
    let Some((key, raw)) = o.split_once('=') else { bail!("--set {o}: expected key=value") };
    let value: toml::Value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => t.remove("v").unwrap(),
        Err(_) => toml::Value::String(raw.to_string()),
    };
    let parts: Vec<&str> = key.trim().split('.').collect();
    let mut table = root;
    for part in &parts[..parts.len() - 1] {
        table = table
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .with_context(|| format!("--set {o}: '{part}' is not a section"))?;
    }
    table.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = r#"
[model]
kind = "msrresnet"
nf = 16
nb = 2
scale = 4
global_residual = true

[data]
train = "photos.pack"

[run]
iterations = 10
"#;

    fn load(text: &str, overrides: &[&str]) -> Result<TrainConfig> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("run.toml");
        std::fs::write(&p, text).unwrap();
        let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        TrainConfig::load(&p, &o)
    }

    #[test]
    fn defaults_overrides_and_relative_paths() {
        let c = load(MIN, &["run.iterations=50", "optim.lr=1e-4", "schedule.kind=constant"]).unwrap();
        assert_eq!(c.run.iterations, 50);
        assert_eq!(c.optim.lr, 1e-4);
        assert_eq!(c.data.batch, 16);
        assert_eq!(c.data.train, PathBuf::from("photos.pack"));
    }

    #[test]
    fn typos_and_bad_values_are_errors() {
        let e = load(&MIN.replace("iterations", "iteratons"), &[]).unwrap_err();
        assert!(format!("{e:#}").contains("iteratons"), "{e:#}");
        assert!(load(MIN, &["optim.lr=-1"]).is_err());
        assert!(load(MIN, &["model.scale=5"]).is_err());
        assert!(load(MIN, &["noequals"]).is_err());
        // Inside [model] too: a misspelt key must not leave the default in place.
        let e = load(MIN, &["model.global_residul=false"]).unwrap_err();
        assert!(format!("{e:#}").contains("global_residul"), "{e:#}");
    }

    #[test]
    fn a_gan_section_takes_srgans_defaults_and_checks_the_patch_size() {
        let c = load(MIN, &["gan.d_nf=64"]).unwrap();
        let g = c.gan.unwrap();
        assert_eq!((g.pixel_weight, g.perceptual_weight, g.gan_weight, g.d_lr), (1e-2, 1.0, 5e-3, 1e-4));
        assert!(load(MIN, &[]).unwrap().gan.is_none());
        // HR patch 30 x 4 = 120 is not a multiple of 32.
        let e = load(MIN, &["gan.d_nf=8", "data.lr_patch=30"]).unwrap_err();
        assert!(format!("{e:#}").contains("multiple of 32"), "{e:#}");
        assert!(load(MIN, &["gan.vgg19=x.safetensors", "gan.vgg19_random=true"]).is_err());
    }
}
