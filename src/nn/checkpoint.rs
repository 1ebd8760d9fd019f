//! Checkpoints in safetensors, with the key names of a BasicSR `.pth` flattened:
//!
//! | key | what |
//! |---|---|
//! | `params.<name>` | trained weights, BasicSR/PyTorch state-dict names (`params.conv_first.weight`) |
//! | `params_ema.<name>` | their exponential moving average (what BasicSR evaluates) |
//! | `buffers.<name>` | non-trained state (BatchNorm running statistics) |
//! | `optim.adam_m`, `optim.adam_v` | Adam's moments, flat, in parameter order |
//! | `disc.*` | SRGAN's discriminator, in a GAN run's checkpoints (see `train::gan`) |
//!
//! Metadata: `ddr_engine` = format version, `arch` = the [`Arch`] as JSON, `step`, and any
//! `meta.*` strings the trainer adds (its configuration). A file holding plain state-dict keys
//! (`conv_first.weight`, e.g. converted from PyTorch) loads as both params and params_ema when the
//! architecture is given. Writes are atomic: a crash never leaves a half-written checkpoint.

use super::models::{Arch, SrNet};
use super::params::ParamSpec;
use super::Params;
use crate::device::Device;
use crate::io::write_atomic;
use crate::Result;
use anyhow::{bail, Context};
use safetensors::{Dtype, SafeTensors};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

pub const FORMAT: &str = "ddr-engine checkpoint v1";

/// Adam's state over the flat parameter buffer.
#[derive(Clone, Debug, PartialEq)]
pub struct AdamState {
    pub m: Vec<f32>,
    pub v: Vec<f32>,
}

/// Everything a run needs to resume, or a user needs to run a trained network.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub arch: Arch,
    pub step: u64,
    pub params: Vec<f32>,
    pub params_ema: Option<Vec<f32>>,
    pub buffers: Vec<f32>,
    pub optim: Option<AdamState>,
    pub meta: BTreeMap<String, String>,
}

/// Which weights to use for inference and analysis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum WeightSet {
    /// The exponential moving average if the checkpoint has one, else the raw weights.
    Ema,
    /// The raw trained weights.
    Raw,
}

impl Checkpoint {
    pub fn weights(&self, which: WeightSet) -> &[f32] {
        match (which, &self.params_ema) {
            (WeightSet::Ema, Some(e)) => e,
            _ => &self.params,
        }
    }

    /// The trained network on `dev`, ready for inference and analysis: its architecture built,
    /// `which` weights and the buffers (BatchNorm statistics) loaded.
    pub fn instantiate(&self, dev: &Device, which: WeightSet) -> Result<(Box<dyn SrNet>, Params)> {
        let (net, mut p) = self.arch.build(dev, 0)?;
        p.load_values(self.weights(which))?;
        p.load_buffers(&self.buffers)?;
        Ok((net, p))
    }
}

/// One named f32 tensor on its way to the file.
struct F32View<'a> {
    shape: Vec<usize>,
    data: &'a [f32],
}

/// Serialises tensors in safetensors format with every key in sorted order (the safetensors
/// crate orders its metadata by a randomly seeded hash map), so the same checkpoint is always the
/// same bytes.
fn serialize_sorted(tensors: Vec<(String, F32View)>, meta: BTreeMap<String, String>) -> Result<Vec<u8>> {
    let mut tensors = tensors;
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let mut header = serde_json::Map::new();
    let mut offset = 0usize;
    for (name, t) in &tensors {
        let len = t.data.len() * 4;
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + len]}),
        );
        offset += len;
    }
    header.insert("__metadata__".into(), serde_json::to_value(meta)?);
    let mut h = serde_json::to_vec(&serde_json::Value::Object(header))?;
    h.resize(h.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(8 + h.len() + offset);
    out.extend_from_slice(&(h.len() as u64).to_le_bytes());
    out.extend_from_slice(&h);
    for (_, t) in &tensors {
        // safetensors is little-endian.
        t.data.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    }
    Ok(out)
}

fn specs_of(arch: &Arch) -> Result<(Vec<ParamSpec>, Vec<ParamSpec>)> {
    let (_, pb) = arch.declare()?;
    Ok(pb.specs())
}

fn add_group<'a>(views: &mut Vec<(String, F32View<'a>)>, prefix: &str, specs: &[ParamSpec], data: &'a [f32]) {
    for s in specs {
        views.push((
            format!("{prefix}.{}", s.name),
            F32View { shape: s.shape.clone(), data: &data[s.range()] },
        ));
    }
}

/// A named tensor stored beside (or instead of) a network.
#[derive(Clone, Debug, PartialEq)]
pub struct Extra {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Writes `ck` to `path` atomically.
pub fn save(path: &Path, ck: &Checkpoint) -> Result<()> {
    save_with(path, ck, &[])
}

/// Writes plain named tensors (no network) atomically, e.g. a discriminator as a state dict.
pub fn save_tensors(path: &Path, tensors: &[Extra], meta: BTreeMap<String, String>) -> Result<()> {
    let views =
        tensors.iter().map(|e| (e.name.clone(), F32View { shape: e.shape.clone(), data: &e.data })).collect();
    let bytes = serialize_sorted(views, meta)?;
    write_atomic(path, |w| Ok(w.write_all(&bytes)?)).with_context(|| format!("writing {}", path.display()))
}

/// Reads every f32 tensor whose name starts with `prefix`, the prefix stripped.
pub fn load_extra(path: &Path, prefix: &str) -> Result<BTreeMap<String, Extra>> {
    let bytes = read(path)?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| bad(path, e))?;
    let mut out = BTreeMap::new();
    for (name, t) in st.tensors() {
        let Some(short) = name.strip_prefix(prefix) else { continue };
        anyhow::ensure!(t.dtype() == Dtype::F32, "{}: {name} is not f32", path.display());
        let data = t.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
        out.insert(short.to_string(), Extra { name: short.to_string(), shape: t.shape().to_vec(), data });
    }
    Ok(out)
}

/// Writes `ck` and the `extra` tensors (whose names must not collide with the checkpoint's).
pub fn save_with(path: &Path, ck: &Checkpoint, extra: &[Extra]) -> Result<()> {
    let (specs, buf_specs) = specs_of(&ck.arch)?;
    let n: usize = specs.iter().map(ParamSpec::len).sum();
    anyhow::ensure!(
        ck.params.len() == n,
        "checkpoint: {} parameters for an architecture of {n}",
        ck.params.len()
    );
    let mut views: Vec<(String, F32View)> = Vec::new();
    add_group(&mut views, "params", &specs, &ck.params);
    if let Some(e) = &ck.params_ema {
        add_group(&mut views, "params_ema", &specs, e);
    }
    add_group(&mut views, "buffers", &buf_specs, &ck.buffers);
    if let Some(o) = &ck.optim {
        views.push(("optim.adam_m".into(), F32View { shape: vec![n], data: &o.m }));
        views.push(("optim.adam_v".into(), F32View { shape: vec![n], data: &o.v }));
    }
    views.extend(extra.iter().map(|e| (e.name.clone(), F32View { shape: e.shape.clone(), data: &e.data })));
    let mut meta: BTreeMap<String, String> =
        ck.meta.iter().map(|(k, v)| (format!("meta.{k}"), v.clone())).collect();
    meta.insert("ddr_engine".into(), FORMAT.into());
    meta.insert("arch".into(), serde_json::to_string(&ck.arch)?);
    meta.insert("step".into(), ck.step.to_string());
    let bytes = serialize_sorted(views, meta)?;
    write_atomic(path, |w| Ok(w.write_all(&bytes)?)).with_context(|| format!("writing {}", path.display()))
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read checkpoint {}", path.display()))
}

fn bad(path: &Path, e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{} is not a valid safetensors checkpoint: {e}", path.display())
}

/// The first tensor of a safetensors header whose shape does not match its byte range, or whose
/// range lies beyond the file: what the safetensors crate reports without a name.
fn misfit_tensor(bytes: &[u8]) -> Option<String> {
    let len = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    let header = bytes.get(8..usize::try_from(len).ok()?.checked_add(8)?)?;
    let data = (bytes.len() - 8 - header.len()) as u64;
    let header: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(header).ok()?;
    header.iter().filter(|(name, _)| *name != "__metadata__").find_map(|(name, t)| {
        let shape: Vec<u64> = serde_json::from_value(t.get("shape")?.clone()).ok()?;
        let [begin, end]: [u64; 2] = serde_json::from_value(t.get("data_offsets")?.clone()).ok()?;
        let width = match t.get("dtype")?.as_str()? {
            "F64" | "I64" | "U64" => 8,
            "F32" | "I32" | "U32" => 4,
            "F16" | "BF16" | "I16" | "U16" => 2,
            _ => 1,
        };
        let size = shape.iter().try_fold(width, |acc: u64, &d| acc.checked_mul(d));
        if end > data {
            return Some(format!(
                "tensor {name} ends at byte {end} of a data section of {data} bytes (truncated?)"
            ));
        }
        (size != end.checked_sub(begin)).then(|| {
            let size = size.map_or("more than 2^64".to_string(), |b| format!("{b}"));
            format!(
                "tensor {name} of shape {shape:?} needs {size} bytes but is given {}",
                end.saturating_sub(begin)
            )
        })
    })
}

/// Loads a checkpoint, as the architecture stored in it or, for files without one, as `arch`.
/// Every tensor the architecture declares must be present with its exact shape.
pub fn load(path: &Path, arch: Option<&Arch>) -> Result<Checkpoint> {
    let bytes = read(path)?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| bad(path, misfit_tensor(&bytes).unwrap_or(e.to_string())))?;
    let (_, md) = SafeTensors::read_metadata(&bytes).map_err(|e| bad(path, e))?;
    let md = md.metadata().clone().unwrap_or_default();
    let stored: Option<Arch> = md
        .get("arch")
        .map(|a| serde_json::from_str(a))
        .transpose()
        .with_context(|| format!("{}: bad 'arch' metadata", path.display()))?;
    let arch = match (stored, arch) {
        (Some(s), Some(a)) if &s != a => {
            bail!("{} holds a {} network, not the requested {}", path.display(), s.describe(), a.describe())
        }
        (Some(s), _) => s,
        (None, Some(a)) => a.clone(),
        (None, None) => bail!(
            "{} does not say which network it holds; pass its architecture (e.g. --arch msrresnet,nf=64,nb=16,scale=4,gr=true)",
            path.display()
        ),
    };
    let (specs, buf_specs) = specs_of(&arch)?;
    let names: Vec<&str> = st.names();
    let has = |prefix: &str| names.iter().any(|n| n.starts_with(prefix));
    let plain = !has("params.") && !has("params_ema.");
    // Every tensor is checked before anything is allocated, so the memory taken is bounded by
    // the file's size whatever its `arch` metadata claims.
    let group = |prefix: &str, specs: &[ParamSpec], required: bool| -> Result<Option<Vec<f32>>> {
        let mut found = Vec::with_capacity(specs.len());
        for (i, s) in specs.iter().enumerate() {
            let key = if prefix.is_empty() { s.name.clone() } else { format!("{prefix}.{}", s.name) };
            let t = match st.tensor(&key) {
                Ok(t) => t,
                Err(_) if !required && i == 0 => return Ok(None),
                Err(_) => bail!(
                    "{}: no tensor {key}, which {} needs (shape {:?})",
                    path.display(),
                    arch.describe(),
                    s.shape
                ),
            };
            if t.shape() != s.shape.as_slice() {
                bail!(
                    "{}: tensor {key} has shape {:?}, but {} expects {:?}",
                    path.display(),
                    t.shape(),
                    arch.describe(),
                    s.shape
                );
            }
            if t.dtype() != Dtype::F32 {
                bail!(
                    "{}: tensor {key} is {:?}; ddr-engine reads f32 checkpoints",
                    path.display(),
                    t.dtype()
                );
            }
            found.push((key, t));
        }
        let total: usize = specs.iter().map(ParamSpec::len).sum();
        let mut out = crate::device::memory::zeroed_f32(total)?;
        for (s, (key, t)) in specs.iter().zip(found) {
            let values = &mut out[s.range()];
            for (o, b) in values.iter_mut().zip(t.data().chunks_exact(4)) {
                *o = f32::from_le_bytes(b.try_into().unwrap());
            }
            // A network with a NaN weight computes NaN everywhere: refuse it here, naming the
            // tensor, rather than write NaN images or FAIG scores downstream.
            if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                bail!(
                    "{}: tensor {key} holds a non-finite value ({} at index {i}): the network diverged or the file is damaged",
                    path.display(),
                    values[i]
                );
            }
        }
        Ok(Some(out))
    };
    let (params, params_ema) = if plain {
        let p = group("", &specs, true)?.unwrap();
        (p.clone(), Some(p))
    } else if !has("params.") {
        // Only the moving average was kept (as BasicSR can save it): it is the network.
        let e = group("params_ema", &specs, true)?.unwrap();
        (e.clone(), Some(e))
    } else {
        (group("params", &specs, true)?.unwrap(), group("params_ema", &specs, false)?)
    };
    let buffers = if buf_specs.is_empty() {
        Vec::new()
    } else if plain {
        group("", &buf_specs, true)?.unwrap()
    } else {
        group("buffers", &buf_specs, true)?.unwrap()
    };
    let flat = |key: &str| -> Result<Option<Vec<f32>>> {
        match st.tensor(key) {
            Ok(t) if t.shape() == [params.len()] => Ok(Some(
                t.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect(),
            )),
            Ok(t) => {
                bail!("{}: {key} has shape {:?}, expected [{}]", path.display(), t.shape(), params.len())
            }
            Err(_) => Ok(None),
        }
    };
    let optim = match (flat("optim.adam_m")?, flat("optim.adam_v")?) {
        (Some(m), Some(v)) => Some(AdamState { m, v }),
        _ => None,
    };
    let step = md
        .get("step")
        .map(|s| s.parse::<u64>())
        .transpose()
        .with_context(|| format!("{}: bad step", path.display()))?;
    let meta =
        md.iter().filter_map(|(k, v)| k.strip_prefix("meta.").map(|k| (k.to_string(), v.clone()))).collect();
    Ok(Checkpoint { arch, step: step.unwrap_or(0), params, params_ema, buffers, optim, meta })
}
