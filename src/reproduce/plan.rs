//! What `reproduce ddr` trains and probes at each scale: the paper's four networks plus its
//! generalisation model, as training configurations written to files the user can read and rerun.

use crate::nn::models::msrresnet::MsrResNet;
use crate::nn::models::vgg19::FULL_WIDTHS;
use crate::nn::models::Arch;
use crate::probe::run::ProbeSettings;
use crate::probe::study::layers_at_quarters;
use crate::probe::testsets::parse_sets;
use crate::train::config::{DataConfig, DiscKind, GanConfig, OptimConfig, PixelLoss, RunConfig};
use crate::train::schedule::Schedule;
use crate::train::TrainConfig;
use crate::Result;
use std::path::Path;

/// How big a reproduction to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// Minutes on a CPU, on the photos that ship with ddr-engine: the pipeline end to end.
    Demo,
    /// The largest run that fits in a couple of hours on a 2-core CPU.
    Cpu,
    /// The paper's network width and iteration counts: for a GPU (days).
    Paper,
    /// Seconds: for the tests of the pipeline itself.
    #[value(hide = true)]
    Smoke,
}

/// One network of the study.
#[derive(Clone, Copy, Debug)]
pub struct Network {
    /// Run folder name.
    pub name: &'static str,
    /// The paper's name.
    pub title: &'static str,
    pub global_residual: bool,
    pub gan: bool,
    /// Trained on noisy LR (sigma 20): the paper's generalisation model.
    pub noisy: bool,
}

impl Network {
    /// The MSE network this one starts from (GAN networks only).
    pub fn init_from(&self) -> Option<&'static str> {
        match (self.gan, self.global_residual) {
            (false, _) => None,
            (true, true) => Some("srresnet_wgr"),
            (true, false) => Some("srresnet_wogr"),
        }
    }
}

/// In training order: every GAN network starts from its MSE twin.
pub const NETWORKS: [Network; 5] = [
    Network { name: "srresnet_wgr", title: "SRResNet-wGR", global_residual: true, gan: false, noisy: false },
    Network {
        name: "srresnet_wogr",
        title: "SRResNet-woGR",
        global_residual: false,
        gan: false,
        noisy: false,
    },
    Network { name: "srgan_wgr", title: "SRGAN-wGR", global_residual: true, gan: true, noisy: false },
    Network { name: "srgan_wogr", title: "SRGAN-woGR", global_residual: false, gan: true, noisy: false },
    Network {
        name: "srgan_wgr_noisy",
        title: "SRGAN-wGR, noisy data",
        global_residual: true,
        gan: true,
        noisy: true,
    },
];

/// The sizes that differ between scales.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Sizes {
    pub nf: usize,
    pub nb: usize,
    pub mse_iterations: u64,
    pub mse_batch: usize,
    pub gan_iterations: u64,
    pub gan_batch: usize,
    /// Discriminator width (BasicSR: 64).
    pub d_nf: usize,
    /// Probe: images per test set and t-SNE runs.
    pub count: usize,
    pub runs: usize,
    pub perplexity: f64,
    pub tsne_iters: usize,
}

impl Scale {
    pub fn sizes(self) -> Sizes {
        match self {
            Scale::Demo => Sizes {
                nf: 16,
                nb: 16,
                mse_iterations: 800,
                mse_batch: 4,
                gan_iterations: 40,
                gan_batch: 2,
                d_nf: 16,
                count: 60,
                runs: 5,
                perplexity: 30.0,
                tsne_iters: 1000,
            },
            Scale::Cpu => Sizes {
                nf: 32,
                nb: 16,
                mse_iterations: 2000,
                mse_batch: 8,
                gan_iterations: 500,
                gan_batch: 2,
                d_nf: 64,
                count: 100,
                runs: 5,
                perplexity: 30.0,
                tsne_iters: 1000,
            },
            Scale::Paper => Sizes {
                nf: 64,
                nb: 16,
                mse_iterations: 1_000_000,
                mse_batch: 16,
                gan_iterations: 400_000,
                gan_batch: 16,
                d_nf: 64,
                count: 100,
                runs: 5,
                perplexity: 30.0,
                tsne_iters: 1000,
            },
            Scale::Smoke => Sizes {
                nf: 4,
                nb: 2,
                mse_iterations: 4,
                mse_batch: 2,
                gan_iterations: 2,
                gan_batch: 2,
                d_nf: 8,
                count: 12,
                runs: 2,
                perplexity: 5.0,
                tsne_iters: 250,
            },
        }
    }
}

/// Where the data and the VGG19 weights come from.
pub struct Inputs<'a> {
    /// Pack of HR training photos.
    pub train: &'a Path,
    /// Held-out HR photos for validation and the probe's test sets ("builtin" or a folder).
    pub heldout: &'a str,
    /// VGG19 weights for the perceptual loss; None = seeded random weights.
    pub vgg19: Option<&'a Path>,
}

/// Random VGG19 widths for runs without pretrained weights (the demo): a sixteenth of the cost.
const SMALL_VGG: [usize; 5] = [16, 32, 64, 128, 128];

/// The training configuration of one of the paper's networks at `scale`, its runs under `out`.
pub fn train_config(net: &Network, scale: Scale, out: &Path, inputs: &Inputs) -> TrainConfig {
    let s = scale.sizes();
    let (iterations, batch) =
        if net.gan { (s.gan_iterations, s.gan_batch) } else { (s.mse_iterations, s.mse_batch) };
    let every = if net.gan { iterations / 2 } else { iterations / 4 };
    let (lr, schedule) = if net.gan {
        (1e-4, Schedule::Multistep { milestones: vec![iterations / 2, iterations * 3 / 4], gamma: 0.5 })
    } else {
        let restarts =
            Schedule::CosineRestarts { periods: vec![iterations], restart_weights: vec![1.0], eta_min: 1e-7 };
        (2e-4, restarts)
    };
    TrainConfig {
        model: Arch::Msrresnet { nf: s.nf, nb: s.nb, scale: 4, global_residual: net.global_residual },
        init_from: net.init_from().map(|init| out.join("runs").join(init).join("model.safetensors")),
        data: DataConfig {
            train: inputs.train.to_owned(),
            val: Some(inputs.heldout.to_owned()),
            // LR 32 (HR 128): the discriminator's input size, used for every network alike.
            lr_patch: 32,
            batch,
            augment: true,
            degradations: if net.noisy { "bicubic:1/4,noise:20".into() } else { String::new() },
            workers: DataConfig::DEFAULT_WORKERS,
            val_degradations: String::new(),
            val_crop: 256,
            val_images: 5,
            varying: None,
            maps: None,
            val_maps: None,
        },
        optim: OptimConfig { loss: PixelLoss::L1, lr, ..OptimConfig::default() },
        schedule,
        run: RunConfig {
            iterations,
            seed: 0,
            val_every: every,
            ckpt_every: every,
            log_every: RunConfig::DEFAULT_LOG_EVERY,
        },
        gan: net.gan.then(|| GanConfig {
            pixel_weight: 1e-2,
            perceptual_weight: 1.0,
            gan_weight: 5e-3,
            d_lr: 1e-4,
            d_nf: s.d_nf,
            vgg19: inputs.vgg19.map(Path::to_owned),
            vgg19_random: inputs.vgg19.is_none(),
            vgg19_random_widths: if inputs.vgg19.is_none() { SMALL_VGG } else { FULL_WIDTHS },
            discriminator: DiscKind::Vgg,
        }),
    }
}

/// The paper's layers: Conv1 and the residual blocks at a quarter, half and all of the depth
/// (Conv1, RB4, RB8, RB16 for 16 blocks).
pub fn paper_layers(nb: usize) -> Vec<String> {
    // Only conv1 and the blocks are chosen from, so the upsampler's taps do not matter here.
    layers_at_quarters(&MsrResNet::tap_names_of(nb, 0), &[1, 2, 4])
}

/// Extra two-set groups for the generalisation claim: is noise (or blur) told apart from clean?
pub fn pair_groups() -> Vec<Vec<String>> {
    vec![vec!["clean".into(), "noise:5-30".into()], vec!["clean".into(), "blur:2-4".into()]]
}

/// The probe of every network: the paper's test sets, layers and intra-degradation groups.
pub fn probe_settings(scale: Scale, seed: u64) -> Result<ProbeSettings> {
    let s = scale.sizes();
    let sets = parse_sets("clean,blur:2-4,noise:5-30")?;
    let mut intra = ProbeSettings::paper_intra_groups();
    intra.extend(pair_groups());
    Ok(ProbeSettings {
        set_names: sets.iter().map(|s| s.name.clone()).collect(),
        sets,
        intra_groups: intra,
        layers: paper_layers(s.nb),
        lr_patch: 32,
        count: s.count,
        runs: s.runs,
        pca_dims: 50,
        perplexity: s.perplexity,
        tsne_iters: s.tsne_iters,
        seed,
        batch: 50,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_are_the_papers() {
        assert_eq!(paper_layers(16), ["conv1", "rb4", "rb8", "rb16"]);
        assert_eq!(paper_layers(4), ["conv1", "rb1", "rb2", "rb4"]);
        assert_eq!(paper_layers(2), ["conv1", "rb1", "rb2"]);
    }

    #[test]
    fn every_config_parses_and_gan_nets_start_from_their_mse_twin() {
        let dir = std::env::temp_dir().join(format!("ddr-plan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for scale in [Scale::Demo, Scale::Cpu, Scale::Paper, Scale::Smoke] {
            for vgg in [None, Some(Path::new("vgg19.safetensors"))] {
                let inputs = Inputs { train: Path::new("train.pack"), heldout: "builtin", vgg19: vgg };
                for net in &NETWORKS {
                    let built = train_config(net, scale, Path::new("out/x"), &inputs);
                    let f = dir.join(format!("{}.toml", net.name));
                    std::fs::write(&f, toml::to_string(&built).unwrap()).unwrap();
                    let cfg = TrainConfig::load(&f, &[]).unwrap();
                    assert_eq!(toml::to_string(&cfg).unwrap(), toml::to_string(&built).unwrap());
                    assert_eq!(cfg.model.describe().contains("woGR"), !net.global_residual, "{}", net.name);
                    assert_eq!(cfg.gan.is_some(), net.gan);
                    assert_eq!(cfg.data.degradations.contains("noise:20"), net.noisy);
                    let init = cfg.init_from.map(|p| p.display().to_string());
                    assert_eq!(init, net.init_from().map(|n| format!("out/x/runs/{n}/model.safetensors")));
                }
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
