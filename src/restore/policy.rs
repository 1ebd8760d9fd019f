//! The agent as a policy: its weights on disk, and greedy toolchains on batches of patches.

use super::toolbox::{stack, Toolbox};
use crate::data::Image;
use crate::device::Device;
use crate::nn::checkpoint::{self, Extra};
use crate::nn::models::restore_agent::{LstmState, RestoreAgent, ACTIONS, TOOLS};
use crate::nn::{Params, Pass};
use crate::tensor::Tensor;
use crate::Result;
use anyhow::{ensure, Context};
use std::path::Path;

/// At most this many tools in a chain (the reference's `stop_step`).
pub const MAX_STEPS: usize = 3;
/// The action that ends a chain.
pub const STOP: usize = TOOLS;

/// The one-hot rows of the last actions (`None`: no tool yet, a row of zeros).
pub fn one_hot(last: &[Option<usize>], dev: &Device) -> Result<Tensor> {
    let mut v = vec![0f32; last.len() * TOOLS];
    for (row, a) in last.iter().enumerate() {
        if let Some(a) = a.filter(|&a| a < TOOLS) {
            v[row * TOOLS + a] = 1.0;
        }
    }
    Tensor::from_vec(v, &[last.len(), TOOLS], dev)
}

/// The index of the largest value (the first on ties).
pub fn argmax(q: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in q.iter().enumerate() {
        if v > q[best] {
            best = i;
        }
    }
    best
}

/// Writes the agent's parameters as a plain safetensors state dict.
pub fn save_agent(path: &Path, p: &Params) -> Result<()> {
    let values = p.values.to_vec()?;
    let tensors: Vec<Extra> = p
        .specs()
        .iter()
        .map(|s| Extra { name: s.name.clone(), shape: s.shape.clone(), data: values[s.range()].to_vec() })
        .collect();
    let meta = [("model".to_string(), "rl_restore_agent".to_string())].into_iter().collect();
    checkpoint::save_tensors(path, &tensors, meta)
}

/// The agent with the weights of `path` on `dev`.
pub fn load_agent(path: &Path, dev: &Device) -> Result<(RestoreAgent, Params)> {
    let (agent, mut p) = RestoreAgent::build(dev, 0)?;
    let stored =
        checkpoint::load_extra(path, "").with_context(|| format!("loading the agent {}", path.display()))?;
    let mut values = vec![0f32; p.len()];
    for s in p.specs() {
        let t = stored.get(&s.name).with_context(|| {
            format!("{}: no tensor {} (is this an agent from `restore agent`?)", path.display(), s.name)
        })?;
        ensure!(
            t.shape == s.shape,
            "{}: {} has shape {:?}, the agent needs {:?}",
            path.display(),
            s.name,
            t.shape,
            s.shape
        );
        values[s.range()].copy_from_slice(&t.data);
    }
    p.load_values(&values)?;
    Ok((agent, p))
}

/// One image's toolchain: the actions taken (a tool index, or `STOP` last) and the Q-values
/// the agent saw before each.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Chain {
    pub actions: Vec<usize>,
    pub q: Vec<Vec<f32>>,
}

impl Chain {
    /// The tools applied, without the final stop.
    pub fn tools(&self) -> Vec<usize> {
        self.actions.iter().copied().filter(|&a| a != STOP).collect()
    }
}

/// Runs the greedy agent on `patches` (63x63 each) for up to [`MAX_STEPS`] tools; returns the
/// restored patches and each one's chain. Patches that chose the same tool at a step are
/// restored together.
pub fn restore_patches(
    agent: &mut RestoreAgent,
    p: &mut Params,
    tools: &mut Toolbox,
    patches: &[Image],
) -> Result<(Vec<Image>, Vec<Chain>)> {
    let dev = tools.device().clone();
    let n = patches.len();
    let mut cur: Vec<Image> = patches.to_vec();
    let mut chains = vec![Chain::default(); n];
    let mut state = LstmState::zeros(n, &dev)?;
    let mut last: Vec<Option<usize>> = vec![None; n];
    let mut live: Vec<bool> = vec![true; n];
    for _ in 0..MAX_STEPS {
        if !live.iter().any(|&l| l) {
            break;
        }
        let x = stack(&cur.iter().collect::<Vec<_>>(), &dev)?;
        let (q, next) = agent.forward(p, &x, &one_hot(&last, &dev)?, &state, Pass::EVAL)?;
        state = next;
        let q = q.to_vec()?;
        let mut by_tool: Vec<Vec<usize>> = vec![Vec::new(); TOOLS];
        for i in 0..n {
            if !live[i] {
                continue;
            }
            let row = &q[i * ACTIONS..(i + 1) * ACTIONS];
            let a = argmax(row);
            chains[i].actions.push(a);
            chains[i].q.push(row.to_vec());
            if a == STOP {
                live[i] = false;
            } else {
                by_tool[a].push(i);
                last[i] = Some(a);
            }
        }
        for (tool, members) in by_tool.iter().enumerate().filter(|(_, m)| !m.is_empty()) {
            let out = tools.apply(tool, &members.iter().map(|&i| &cur[i]).collect::<Vec<_>>())?;
            for (&i, img) in members.iter().zip(out) {
                cur[i] = img;
            }
        }
    }
    Ok((cur, chains))
}
