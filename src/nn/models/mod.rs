//! The super-resolution networks: MSRResNet (the DDR paper's and FAIG's SRResNet, with or without
//! the global residual), FAIG's SRCNN-style network, and SFT-GAN's generator (conditioned on
//! per-pixel maps), and RL-Restore's tools (restoration at the input's size).
//!
//! An [`Arch`] is stored in every checkpoint, so `sr`, `probe` and `faig` rebuild the network a
//! checkpoint was trained as without being told.

pub mod acd;
pub mod discriminator;
pub mod msrresnet;
pub mod restore_agent;
pub mod restore_tool;
pub mod sftgan;
pub mod srcnn;
pub mod vgg19;

use super::{Layer, ParamBuilder, Params};
use crate::device::Device;
use crate::tensor::Tensor;
use crate::Result;
use anyhow::bail;
use serde::{Deserialize, Serialize};

/// A network architecture and its hyper-parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Arch {
    /// BasicSR's MSRResNet: `nf` features, `nb` residual blocks, x2/x3/x4; `global_residual`
    /// adds the bilinearly upsampled input to the output (the paper's "wGR").
    Msrresnet { nf: usize, nb: usize, scale: usize, global_residual: bool },
    /// FAIG's 9-layer SRCNN-style network (x2 in the paper; x3, x4 supported).
    SrcnnStyle { scale: usize },
    /// SFT-GAN's x4 generator: `nf` features, `nb` SFT residual blocks, conditioned on
    /// `cond_in` maps `cond_down` times the input's size (see [`sftgan`]).
    Sftgan { nf: usize, nb: usize, cond_in: usize, cond_mid: usize, cond_nf: usize, cond_down: usize },
    /// One of RL-Restore's tools: a residual restoration CNN at scale 1, small (3 layers) or
    /// large (8 layers; see [`restore_tool`]).
    RestoreTool { large: bool },
}

/// `msrresnet,nf=64,nb=16,scale=4,gr=true`, `srcnn_style,scale=2` or
/// `sftgan,nf=64,nb=16,cond=8,cond_down=4` (also `cond_mid=128`, `cond_nf=32`) or
/// `restore_tool,size=small|large`.
impl std::str::FromStr for Arch {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let mut parts = s.split(',');
        let kind = parts.next().unwrap_or_default().trim();
        let mut kv = std::collections::HashMap::new();
        for p in parts {
            let (k, v) = p.split_once('=').ok_or_else(|| format!("'{p}' is not key=value"))?;
            kv.insert(k.trim(), v.trim());
        }
        let num = |k: &str, d: usize| -> std::result::Result<usize, String> {
            kv.get(k).map_or(Ok(d), |v| v.parse().map_err(|_| format!("{k}={v} is not a number")))
        };
        let arch = match kind {
            "msrresnet" => Arch::Msrresnet {
                nf: num("nf", 64)?,
                nb: num("nb", 16)?,
                scale: num("scale", 4)?,
                global_residual: kv
                    .get("gr")
                    .map_or(Ok(true), |v| v.parse().map_err(|_| format!("gr={v} is not true/false")))?,
            },
            "srcnn_style" => Arch::SrcnnStyle { scale: num("scale", 2)? },
            "sftgan" => {
                let r = sftgan::SftSpec::REFERENCE;
                Arch::Sftgan {
                    nf: num("nf", r.nf)?,
                    nb: num("nb", r.nb)?,
                    cond_in: num("cond", r.cond_in)?,
                    cond_mid: num("cond_mid", r.cond_mid)?,
                    cond_nf: num("cond_nf", r.cond_nf)?,
                    cond_down: num("cond_down", r.cond_down)?,
                }
            }
            "restore_tool" => Arch::RestoreTool {
                large: match kv.get("size").copied().unwrap_or("small") {
                    "small" => false,
                    "large" => true,
                    v => return Err(format!("size={v}: a restore tool is small or large")),
                },
            },
            other => {
                return Err(format!(
                    "unknown architecture '{other}' (msrresnet, srcnn_style, sftgan or restore_tool)"
                ))
            }
        };
        arch.validate().map_err(|e| e.to_string())?;
        Ok(arch)
    }
}

/// The widest and deepest networks accepted: far beyond any SR network in use (64 to 256
/// features, 16 to 200 blocks), and small enough that declaring one can never overflow a size or
/// exhaust memory before its parameter count is checked against the memory available.
pub const MAX_FEATURES: usize = 4096;
pub const MAX_BLOCKS: usize = 1024;

impl Arch {
    pub fn scale(&self) -> usize {
        match self {
            Arch::Msrresnet { scale, .. } | Arch::SrcnnStyle { scale } => *scale,
            Arch::Sftgan { .. } => sftgan::SftSpec::SCALE,
            Arch::RestoreTool { .. } => 1,
        }
    }

    pub fn validate(&self) -> Result<()> {
        match *self {
            Arch::Msrresnet { nf, nb, scale, .. } => {
                if nf == 0 || nb == 0 {
                    bail!("msrresnet needs nf > 0 and nb > 0 (got nf {nf}, nb {nb})");
                }
                if nf > MAX_FEATURES || nb > MAX_BLOCKS {
                    bail!(
                        "msrresnet supports nf <= {MAX_FEATURES} and nb <= {MAX_BLOCKS} (got nf {nf}, nb {nb})"
                    );
                }
                if ![2, 3, 4].contains(&scale) {
                    bail!("msrresnet supports scale 2, 3 or 4, not {scale}");
                }
            }
            Arch::SrcnnStyle { scale } => {
                if ![2, 3, 4].contains(&scale) {
                    bail!("srcnn_style supports scale 2, 3 or 4, not {scale}");
                }
            }
            Arch::Sftgan { .. } => self.sft_spec().expect("an sftgan arch").validate()?,
            Arch::RestoreTool { .. } => {}
        }
        Ok(())
    }

    /// A one-line description, e.g. "msrresnet nf 64 nb 16 x4 wGR".
    pub fn describe(&self) -> String {
        match self {
            Arch::Msrresnet { nf, nb, scale, global_residual } => {
                format!(
                    "msrresnet nf {nf} nb {nb} x{scale} {}",
                    if *global_residual { "wGR" } else { "woGR" }
                )
            }
            Arch::SrcnnStyle { scale } => format!("srcnn_style x{scale}"),
            Arch::Sftgan { nf, nb, cond_in, cond_down, .. } => {
                format!("sftgan nf {nf} nb {nb} x4, {cond_in} condition maps at x{cond_down}")
            }
            Arch::RestoreTool { large } => {
                format!("restore tool, {}", if *large { "large (8 layers)" } else { "small (3 layers)" })
            }
        }
    }

    /// The SFT generator's sizes, for an `Sftgan` arch.
    pub fn sft_spec(&self) -> Option<sftgan::SftSpec> {
        match *self {
            Arch::Sftgan { nf, nb, cond_in, cond_mid, cond_nf, cond_down } => {
                Some(sftgan::SftSpec { nf, nb, cond_in, cond_mid, cond_nf, cond_down })
            }
            _ => None,
        }
    }

    /// The network and its freshly initialised parameters on `dev`.
    pub fn build(&self, dev: &Device, seed: u64) -> Result<(Box<dyn SrNet>, Params)> {
        let (net, pb) = self.declare()?;
        Ok((net, pb.build(dev, seed)?))
    }

    /// The network and its parameter declarations, without allocating them.
    pub fn declare(&self) -> Result<(Box<dyn SrNet>, ParamBuilder)> {
        self.validate()?;
        let mut pb = ParamBuilder::new();
        let net: Box<dyn SrNet> = match *self {
            Arch::Msrresnet { nf, nb, scale, global_residual } => {
                Box::new(msrresnet::MsrResNet::new(&mut pb, nf, nb, scale, global_residual, self.clone()))
            }
            Arch::SrcnnStyle { scale } => Box::new(srcnn::SrcnnStyle::new(&mut pb, scale, self.clone())),
            Arch::Sftgan { .. } => {
                let spec = self.sft_spec().expect("an sftgan arch");
                Box::new(sftgan::SftGenerator::new(&mut pb, spec)?)
            }
            Arch::RestoreTool { large } => {
                Box::new(restore_tool::RestoreTool::new(&mut pb, large, self.clone()))
            }
        };
        Ok((net, pb))
    }
}

/// A super-resolution network: a [`Layer`] from LR to HR images, with named feature taps.
pub trait SrNet: Layer {
    fn arch(&self) -> &Arch;

    /// The feature maps [`SrNet::features`] can return, in network order.
    fn tap_names(&self) -> Vec<String>;

    /// Runs the network in eval mode on `x` until every requested tap is computed and returns
    /// them in the order asked for.
    fn features(&mut self, p: &mut Params, x: &Tensor, taps: &[String]) -> Result<Vec<Tensor>>;

    /// For a network conditioned on per-pixel maps (SFT-GAN): how many maps it reads and how
    /// many times larger than its input they are. `None` for the others.
    fn condition(&self) -> Option<Condition> {
        None
    }

    /// Sets the maps the following forward passes read (`[n, channels, h * down, w * down]` for
    /// an input `[n, 3, h, w]`). Only conditioned networks accept maps.
    fn set_condition(&mut self, maps: Tensor) -> Result<()> {
        let _ = maps;
        bail!("{} takes no condition maps", self.arch().describe())
    }
}

/// The condition maps a network reads beside its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Condition {
    pub channels: usize,
    /// The maps' size over the input's.
    pub down: usize,
}

/// Collects requested taps during a forward pass.
pub(crate) struct TapSet<'a> {
    wanted: &'a [String],
    got: Vec<Option<Tensor>>,
}

impl<'a> TapSet<'a> {
    pub(crate) fn new(wanted: &'a [String], known: &[String]) -> Result<Self> {
        for w in wanted {
            if !known.contains(w) {
                bail!("this network has no layer '{w}' to tap; it has: {}", known.join(", "));
            }
        }
        Ok(TapSet { wanted, got: vec![None; wanted.len()] })
    }

    /// Records `t` under `name` if it is wanted; true once every wanted tap is recorded.
    pub(crate) fn offer(&mut self, name: &str, t: &Tensor) -> bool {
        for (w, slot) in self.wanted.iter().zip(&mut self.got) {
            if w == name {
                *slot = Some(t.clone());
            }
        }
        self.done()
    }

    pub(crate) fn done(&self) -> bool {
        self.got.iter().all(Option::is_some)
    }

    pub(crate) fn finish(self) -> Result<Vec<Tensor>> {
        self.got
            .into_iter()
            .map(|t| t.ok_or_else(|| anyhow::anyhow!("a requested tap was not reached")))
            .collect()
    }
}
