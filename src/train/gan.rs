//! SRGAN training (BasicSR's SRGANModel): what a `[gan]` section adds to the training loop.
//!
//! Per iteration, as BasicSR orders it: the generator's output `sr` gets the loss
//! `pixel + perceptual (VGG19 conv5_4, L1) + gan_weight * BCE(D(sr), real)` with D frozen (its
//! parameters get no gradient, its BatchNorm still runs on batch statistics and updates its
//! running averages, as PyTorch's train mode does); the trainer steps G; then D steps on
//! `BCE(D(hr), real) + BCE(D(sr), fake)`, real and fake as separate batches, `sr` being the
//! pre-update output (detached: nothing flows back into G).
//!
//! Checkpoints: D's weights, running statistics and Adam moments ride in the generator's
//! checkpoint under `disc.params.<BasicSR name>`, `disc.buffers.<name>`, `disc.optim.adam_m|v`,
//! so one atomic write covers both networks and `--resume` continues exactly. The finished run
//! also gets `model_d.safetensors`: D alone as a plain BasicSR state dict.

use super::config::{DiscKind, GanConfig, PixelLoss, TrainConfig};
use crate::device::Device;
use crate::nn::checkpoint::{self, Extra};
use crate::nn::models::acd::{AcdDiscriminator, AcdSpec};
use crate::nn::models::discriminator::{DiscSpec, VggDiscriminator};
use crate::nn::models::vgg19::Vgg19Features;
use crate::nn::{Layer, Params, Pass, Want};
use crate::ops::optim::AdamStep;
use crate::ops::{self, elementwise::add};
use crate::tensor::Tensor;
use crate::Result;
use anyhow::{bail, ensure, Context};
use std::path::Path;

/// Loss terms for the metrics log and the progress bar, in a fixed order.
pub type Terms = Vec<(&'static str, f64)>;

/// The discriminator a `[gan]` section chose.
enum Disc {
    Vgg(VggDiscriminator),
    Acd(AcdDiscriminator),
}

impl Disc {
    fn layer(&mut self) -> &mut dyn Layer {
        match self {
            Disc::Vgg(d) => d,
            Disc::Acd(d) => d,
        }
    }

    /// Its sizes as JSON, for the metadata of `model_d.safetensors`.
    fn spec_json(&self) -> Result<String> {
        Ok(match self {
            Disc::Vgg(d) => serde_json::to_string(&d.spec)?,
            Disc::Acd(d) => serde_json::to_string(&serde_json::json!({ "acd": d.spec }))?,
        })
    }
}

pub struct Gan {
    cfg: GanConfig,
    d: Disc,
    dp: Params,
    dm: Tensor,
    dv: Tensor,
    /// None when the perceptual weight is 0 (then no VGG19 is needed).
    vgg: Option<(Vgg19Features, Params)>,
}

/// `pixel` loss of `y` against `hr`, times `weight`, and its gradient.
pub fn pixel_loss(kind: PixelLoss, y: &Tensor, hr: &Tensor, weight: f32) -> Result<(f64, Tensor)> {
    match kind {
        PixelLoss::L1 => ops::loss::l1_mean(y, hr, weight),
        PixelLoss::Mse => ops::loss::mse_mean(y, hr, weight),
    }
}

impl Gan {
    /// The GAN state of a run with a `[gan]` section, freshly initialised; None without one.
    /// Refuses a perceptual loss without VGG19 weights before anything is written.
    pub fn new(cfg: &TrainConfig, dev: &Device) -> Result<Option<Gan>> {
        let Some(g) = cfg.gan.clone() else { return Ok(None) };
        let vgg = if g.perceptual_weight == 0.0 {
            None
        } else if let Some(path) = &g.vgg19 {
            Some(Vgg19Features::load(path, dev).context("gan.vgg19 (--vgg19)")?)
        } else if g.vgg19_random {
            Some(Vgg19Features::random(g.vgg19_random_widths, dev, cfg.run.seed ^ 0x7667_1900)?)
        } else {
            bail!(
                "the perceptual loss (gan.perceptual_weight = {}) needs VGG19 weights: pass --vgg19 FILE \
                 (safetensors with torchvision key names; docs/INTEROP.md shows the export) or set \
                 gan.vgg19. --vgg19-random exists only for tests and smoke runs.",
                g.perceptual_weight
            )
        };
        let (input, seed) = (cfg.data.lr_patch * cfg.model.scale(), cfg.run.seed ^ 0xD15C);
        let (d, dp) = match g.discriminator {
            DiscKind::Vgg => {
                let (d, dp) = DiscSpec { nf: g.d_nf, input }.build(dev, seed)?;
                (Disc::Vgg(d), dp)
            }
            DiscKind::Acd => {
                let (d, dp) = AcdSpec { nf: g.d_nf, input, ..AcdSpec::REFERENCE }.build(dev, seed)?;
                (Disc::Acd(d), dp)
            }
        };
        let n = dp.len();
        Ok(Some(Gan { cfg: g, d, dp, dm: Tensor::zeros(&[n], dev)?, dv: Tensor::zeros(&[n], dev)?, vgg }))
    }

    /// The generator's total loss, its terms and dL/d(sr).
    pub fn generator_loss(
        &mut self,
        pixel: PixelLoss,
        sr: &Tensor,
        hr: &Tensor,
    ) -> Result<(f64, Terms, Tensor)> {
        let c = &self.cfg;
        let (l_pix, mut dsr) = pixel_loss(pixel, sr, hr, c.pixel_weight)?;
        let mut terms = vec![("l_g_pix", l_pix)];
        if let Some((vgg, vp)) = &mut self.vgg {
            let (l, d) = vgg.perceptual_l1(vp, sr, hr, c.perceptual_weight)?;
            dsr = add(&dsr, &d)?;
            terms.push(("l_g_percep", l));
        }
        let logits = self.d.layer().forward(&mut self.dp, sr, Pass::TRAIN)?;
        let (l_gan, dlogits) = ops::loss::bce_logits_mean_label(&logits, 1.0, c.gan_weight)?;
        let d = self
            .d
            .layer()
            .backward(&mut self.dp, &dlogits, Want::INPUT)?
            .context("discriminator: no input gradient")?;
        dsr = add(&dsr, &d)?;
        terms.push(("l_g_gan", l_gan));
        let total = terms.iter().map(|t| t.1).sum();
        Ok((total, terms, dsr))
    }

    /// One discriminator step on real `hr` and fake `sr` at learning rate `lr`; `h` carries
    /// Adam's other settings and the step number.
    pub fn discriminator_step(&mut self, sr: &Tensor, hr: &Tensor, h: &AdamStep) -> Result<Terms> {
        self.dp.zero_grads()?;
        let mut terms = Terms::new();
        for (x, label, name, out) in
            [(hr, 1.0, "l_d_real", "out_d_real"), (sr, 0.0, "l_d_fake", "out_d_fake")]
        {
            let logits = self.d.layer().forward(&mut self.dp, x, Pass::TRAIN)?;
            let (l, dlogits) = ops::loss::bce_logits_mean_label(&logits, label, 1.0)?;
            self.d.layer().backward(&mut self.dp, &dlogits, Want::PARAMS)?;
            let v = logits.to_vec()?;
            terms.push((name, l));
            terms.push((out, v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64));
        }
        ensure!(terms.iter().all(|t| t.1.is_finite()), "the discriminator's loss became non-finite");
        let (dp, dm, dv) = (&mut self.dp, &mut self.dm, &mut self.dv);
        dp.adam_step(h, dm, dv)?;
        Ok(terms)
    }

    /// D's state as `disc.*` tensors for the generator's checkpoint (`optim`: with Adam's moments).
    pub fn to_extra(&self, optim: bool) -> Result<Vec<Extra>> {
        let mut out = Vec::new();
        let (values, buffers) = (self.dp.values.to_vec()?, self.dp.buffers.to_vec()?);
        for s in self.dp.specs() {
            out.push(Extra {
                name: format!("disc.params.{}", s.name),
                shape: s.shape.clone(),
                data: values[s.range()].to_vec(),
            });
        }
        for s in self.dp.buffer_specs() {
            out.push(Extra {
                name: format!("disc.buffers.{}", s.name),
                shape: s.shape.clone(),
                data: buffers[s.range()].to_vec(),
            });
        }
        if optim {
            let n = self.dp.len();
            out.push(Extra { name: "disc.optim.adam_m".into(), shape: vec![n], data: self.dm.to_vec()? });
            out.push(Extra { name: "disc.optim.adam_v".into(), shape: vec![n], data: self.dv.to_vec()? });
        }
        Ok(out)
    }

    /// Restores D (weights, running statistics, Adam) from a checkpoint written with [`Gan::to_extra`].
    pub fn restore(&mut self, path: &Path) -> Result<()> {
        let stored = checkpoint::load_extra(path, "disc.")?;
        let dev = self.dp.device();
        let fill = |group: &str, specs: &[crate::nn::params::ParamSpec], len: usize| -> Result<Vec<f32>> {
            let mut v = vec![0f32; len];
            for s in specs {
                let key = format!("{group}.{}", s.name);
                let e = stored.get(&key).with_context(|| {
                    format!("{}: no disc.{key} (not a GAN run's checkpoint?)", path.display())
                })?;
                ensure!(
                    e.shape == s.shape,
                    "{}: disc.{key} has shape {:?}, expected {:?}",
                    path.display(),
                    e.shape,
                    s.shape
                );
                v[s.range()].copy_from_slice(&e.data);
            }
            Ok(v)
        };
        let n = self.dp.len();
        let values = fill("params", self.dp.specs(), n)?;
        self.dp.load_values(&values)?;
        let buffers = fill("buffers", self.dp.buffer_specs(), self.dp.buffers.numel())?;
        self.dp.load_buffers(&buffers)?;
        let moment = |k: &str| -> Result<Tensor> {
            let e = stored.get(k).with_context(|| format!("{}: no disc.{k}", path.display()))?;
            ensure!(e.shape == [n], "{}: disc.{k} has shape {:?}", path.display(), e.shape);
            Tensor::from_slice(&e.data, &[n], &dev)
        };
        self.dm = moment("optim.adam_m")?;
        self.dv = moment("optim.adam_v")?;
        Ok(())
    }

    /// Writes D alone as a plain BasicSR-keyed state dict (weights and running statistics).
    pub fn save_model(&self, path: &Path) -> Result<()> {
        let tensors: Vec<Extra> = self
            .to_extra(false)?
            .into_iter()
            .map(|mut e| {
                e.name =
                    e.name.trim_start_matches("disc.params.").trim_start_matches("disc.buffers.").to_string();
                e
            })
            .collect();
        let spec = self.d.spec_json()?;
        checkpoint::save_tensors(path, &tensors, [("discriminator".to_string(), spec)].into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rng;

    fn tiny() -> (TrainConfig, Gan) {
        let cfg: TrainConfig = toml::from_str(
            r#"
            [model]
            kind = "msrresnet"
            nf = 4
            nb = 1
            scale = 4
            global_residual = true
            [data]
            train = "unused.pack"
            lr_patch = 8
            batch = 2
            [gan]
            d_nf = 2
            vgg19_random = true
            vgg19_random_widths = [2, 2, 2, 2, 2]
            [run]
            iterations = 1
            "#,
        )
        .unwrap();
        cfg.validate().unwrap();
        let gan = Gan::new(&cfg, &Device::Cpu).unwrap().unwrap();
        (cfg, gan)
    }

    fn image(rng: &mut Rng) -> Tensor {
        Tensor::from_vec(
            (0..2 * 3 * 32 * 32).map(|_| rng.uniform_f32()).collect(),
            &[2, 3, 32, 32],
            &Device::Cpu,
        )
        .unwrap()
    }

    #[test]
    fn the_generator_step_leaves_d_untrained_and_the_d_step_trains_it() {
        let (cfg, mut gan) = tiny();
        let mut rng = Rng::new(3);
        let (sr, hr) = (image(&mut rng), image(&mut rng));
        let before = gan.dp.values.to_vec().unwrap();
        let (total, terms, dsr) = gan.generator_loss(cfg.optim.loss, &sr, &hr).unwrap();
        let names: Vec<&str> = terms.iter().map(|t| t.0).collect();
        assert_eq!(names, ["l_g_pix", "l_g_percep", "l_g_gan"]);
        assert!((total - terms.iter().map(|t| t.1).sum::<f64>()).abs() < 1e-12);
        assert_eq!(dsr.shape(), sr.shape());
        assert!(gan.dp.grads.to_vec().unwrap().iter().all(|&g| g == 0.0), "G's step trained D");
        assert_eq!(gan.dp.values.to_vec().unwrap(), before);

        let h = AdamStep { lr: 1e-3, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.0, step: 1 };
        let terms = gan.discriminator_step(&sr, &hr, &h).unwrap();
        // At init D is near chance: each BCE term is about ln 2.
        assert!(
            terms.iter().filter(|t| t.0.starts_with("l_d")).all(|t| (t.1 - 2f64.ln()).abs() < 0.5),
            "{terms:?}"
        );
        assert_ne!(gan.dp.values.to_vec().unwrap(), before);

        // Its state round-trips through a checkpoint's extra tensors.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.safetensors");
        checkpoint::save_tensors(&path, &gan.to_extra(true).unwrap(), Default::default()).unwrap();
        let (_, mut fresh) = tiny();
        fresh.restore(&path).unwrap();
        assert_eq!(fresh.dp.values.to_vec().unwrap(), gan.dp.values.to_vec().unwrap());
        assert_eq!(fresh.dp.buffers.to_vec().unwrap(), gan.dp.buffers.to_vec().unwrap());
        assert_eq!(fresh.dv.to_vec().unwrap(), gan.dv.to_vec().unwrap());
    }
}
