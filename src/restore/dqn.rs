//! Training the agent by deep Q-learning (Mnih et al. 2015, as RL-Restore does): episodes on
//! degraded patches, one tool per step, the PSNR gain as reward; experience replay, a target
//! network copied every `target_every` updates, the Huber loss on the acted Q-value, Adam, and
//! epsilon-greedy exploration annealed linearly.
//!
//! An episode ends when the agent stops, after [`MAX_STEPS`] tools, or when the PSNR falls
//! below the input's. The LSTM state the agent had when it acted is stored with each transition
//! and the next state with its successor (as R2D2 stores recurrent states), so an update is one
//! LSTM step per sample; the reference instead replays whole episodes through the LSTM.
//!
//! Every random draw comes from streams of the seed, and the CPU kernels are deterministic for
//! a thread count, so a seed replays byte for byte.

use super::levels::{make_patches, patch_psnr, PatchSet, PhotoSource, Severity};
use super::policy::{argmax, one_hot, save_agent, MAX_STEPS, STOP};
use super::toolbox::{stack, Toolbox};
use crate::data::Image;
use crate::device::Device;
use crate::io::write_atomic;
use crate::nn::models::restore_agent::{LstmState, RestoreAgent, ACTIONS, HIDDEN, PATCH};
use crate::nn::{Params, Pass};
use crate::ops;
use crate::ops::optim::AdamStep;
use crate::tensor::Tensor;
use crate::{Result, Rng};
use anyhow::ensure;
use serde::Serialize;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// The knobs of a DQN run (defaults: the reference's, scaled to a CPU run where stated).
#[derive(Clone, Debug, Serialize)]
pub struct DqnConfig {
    /// Environment steps (the reference: 2,000,000).
    pub steps: u64,
    /// Training patches drawn at moderate severity and cycled through.
    pub patches: usize,
    /// Transitions kept for replay (reference: 500,000).
    pub memory: usize,
    /// Steps of pure exploration before the first update (reference: 5,000).
    pub learn_start: u64,
    pub batch: usize,
    /// One update every this many steps.
    pub train_every: u64,
    /// Copy the online network into the target every this many steps (reference: 10,000).
    pub target_every: u64,
    pub discount: f32,
    pub lr: f64,
    pub eps_start: f64,
    pub eps_end: f64,
    /// Steps after `learn_start` over which epsilon falls from start to end.
    pub eps_steps: u64,
    pub seed: u64,
}

impl DqnConfig {
    pub fn validate(&self) -> Result<()> {
        ensure!(self.steps > 0 && self.patches > 0, "steps and patches must be positive");
        ensure!(
            self.batch > 0 && self.memory >= self.batch,
            "the replay memory must hold at least one batch"
        );
        ensure!(
            self.train_every > 0 && self.target_every > 0,
            "train_every and target_every must be positive"
        );
        ensure!((0.0..=1.0).contains(&self.discount), "the discount must be in [0, 1]");
        ensure!(self.lr > 0.0 && self.lr.is_finite(), "the learning rate must be a positive number");
        ensure!(
            (0.0..=1.0).contains(&self.eps_start) && (0.0..=1.0).contains(&self.eps_end),
            "exploration rates must be in [0, 1]"
        );
        Ok(())
    }
}

/// An LSTM state stored on the host: (h, c) rows of one sample.
type LstmRows = (Vec<f32>, Vec<f32>);

/// One step of experience.
struct Transition {
    state: Arc<Image>,
    last: Option<usize>,
    lstm: LstmRows,
    action: usize,
    reward: f32,
    next: Arc<Image>,
    next_lstm: LstmRows,
    terminal: bool,
}

/// What one logging interval saw.
#[derive(Default, Serialize)]
pub struct Interval {
    pub step: u64,
    pub epsilon: f64,
    pub episodes: usize,
    /// Mean PSNR gain per episode (dB).
    pub mean_episode_gain: f64,
    pub mean_loss: f64,
    pub mean_q: f64,
}

fn lstm_rows(state: &LstmState) -> Result<LstmRows> {
    Ok((state.h.to_vec()?, state.c.to_vec()?))
}

/// Trains an agent on patches of `src` with the tools of `tools`; writes `out/agent.safetensors`
/// and `out/metrics.jsonl`; returns the last interval's summary.
pub fn train_agent(
    cfg: &DqnConfig,
    src: &PhotoSource,
    tools: &mut Toolbox,
    out: &Path,
    quiet: bool,
) -> Result<Interval> {
    cfg.validate()?;
    let dev: Device = tools.device().clone();
    let PatchSet { inputs, targets, .. } =
        make_patches(src, Severity::Moderate, cfg.patches, PATCH, &mut Rng::derive(cfg.seed, &[1]))?;
    let (mut agent, mut p) = RestoreAgent::build(&dev, cfg.seed)?;
    let mut target_p = p.values.deep_clone()?;
    let mut m = Tensor::zeros(&[p.len()], &dev)?;
    let mut v = Tensor::zeros(&[p.len()], &dev)?;
    let mut explore = Rng::derive(cfg.seed, &[2]);
    let mut sample = Rng::derive(cfg.seed, &[3]);
    let mut memory: Vec<Transition> = Vec::with_capacity(cfg.memory.min(1 << 20));
    let mut write_at = 0usize;
    let mut updates = 0u64;
    let mut log = String::new();
    let bar = if quiet { indicatif::ProgressBar::hidden() } else { indicatif::ProgressBar::new(cfg.steps) };

    let mut episode = 0usize;
    let mut stats = Interval::default();
    let (mut gain_sum, mut loss_sum, mut q_sum) = (0f64, 0f64, 0f64);
    let mut step = 0u64;
    while step < cfg.steps {
        let k = episode % inputs.len();
        episode += 1;
        let (input, target) = (&inputs[k], &targets[k]);
        let psnr_init = patch_psnr(input, target);
        let mut img = Arc::new(input.clone());
        let mut psnr = psnr_init;
        let mut state = LstmState::zeros(1, &dev)?;
        let mut last: Option<usize> = None;
        for count in 0..MAX_STEPS {
            if step >= cfg.steps {
                break;
            }
            let x = stack(&[&*img], &dev)?;
            let (q, next_state) = agent.forward(&mut p, &x, &one_hot(&[last], &dev)?, &state, Pass::EVAL)?;
            let eps = epsilon(cfg, step);
            let action = if explore.uniform() < eps {
                explore.below(ACTIONS as u64) as usize
            } else {
                argmax(&q.to_vec()?)
            };
            let (next_img, reward, terminal) = if action == STOP {
                (img.clone(), 0.0, true)
            } else {
                let out = tools.apply(action, &[&*img])?.remove(0);
                let new_psnr = patch_psnr(&out, target);
                let r = new_psnr - psnr;
                psnr = new_psnr;
                (Arc::new(out), r, count + 1 >= MAX_STEPS || new_psnr < psnr_init)
            };
            let t = Transition {
                state: img.clone(),
                last,
                lstm: lstm_rows(&state)?,
                action,
                reward: reward as f32,
                next: next_img.clone(),
                next_lstm: lstm_rows(&next_state)?,
                terminal,
            };
            if memory.len() < cfg.memory {
                memory.push(t);
            } else {
                memory[write_at] = t;
                write_at = (write_at + 1) % cfg.memory;
            }
            step += 1;
            bar.inc(1);
            gain_sum += reward;
            if step > cfg.learn_start && step.is_multiple_of(cfg.train_every) && memory.len() >= cfg.batch {
                let (loss, mean_q) = update(
                    cfg,
                    &mut agent,
                    &mut p,
                    &target_p,
                    &memory,
                    &mut sample,
                    &mut m,
                    &mut v,
                    updates,
                )?;
                updates += 1;
                loss_sum += loss;
                q_sum += mean_q;
                stats.mean_loss = loss;
            }
            if step.is_multiple_of(cfg.target_every) {
                target_p = p.values.deep_clone()?;
            }
            if step.is_multiple_of(1000) || step == cfg.steps {
                stats = Interval {
                    step,
                    epsilon: epsilon(cfg, step),
                    episodes: episode,
                    mean_episode_gain: gain_sum / episode.max(1) as f64,
                    mean_loss: loss_sum / updates.max(1) as f64,
                    mean_q: q_sum / updates.max(1) as f64,
                };
                log.push_str(&serde_json::to_string(&stats)?);
                log.push('\n');
                bar.set_message(format!("gain {:.3} dB/episode", stats.mean_episode_gain));
            }
            img = next_img;
            state = next_state;
            last = (action != STOP).then_some(action);
            if terminal {
                break;
            }
        }
    }
    bar.finish_and_clear();
    write_atomic(&out.join("metrics.jsonl"), |w| Ok(w.write_all(log.as_bytes())?))?;
    save_agent(&out.join("agent.safetensors"), &p)?;
    Ok(stats)
}

fn epsilon(cfg: &DqnConfig, step: u64) -> f64 {
    if step < cfg.learn_start {
        return cfg.eps_start;
    }
    let t = ((step - cfg.learn_start) as f64 / cfg.eps_steps.max(1) as f64).min(1.0);
    cfg.eps_start + (cfg.eps_end - cfg.eps_start) * t
}

/// One gradient step on a random batch of the memory; returns (loss, mean acted Q).
#[allow(clippy::too_many_arguments)]
fn update(
    cfg: &DqnConfig,
    agent: &mut RestoreAgent,
    p: &mut Params,
    target_values: &Tensor,
    memory: &[Transition],
    rng: &mut Rng,
    m: &mut Tensor,
    v: &mut Tensor,
    updates: u64,
) -> Result<(f64, f64)> {
    let dev = p.device();
    let picks: Vec<&Transition> =
        (0..cfg.batch).map(|_| &memory[rng.below(memory.len() as u64) as usize]).collect();
    let lstm = |f: &dyn Fn(&Transition) -> &LstmRows| -> Result<LstmState> {
        let (mut h, mut c) = (Vec::new(), Vec::new());
        for t in &picks {
            h.extend_from_slice(&f(t).0);
            c.extend_from_slice(&f(t).1);
        }
        Ok(LstmState {
            h: Tensor::from_vec(h, &[picks.len(), HIDDEN], &dev)?,
            c: Tensor::from_vec(c, &[picks.len(), HIDDEN], &dev)?,
        })
    };
    // Targets: r, plus the discounted best Q of the target network where the episode goes on.
    let next = stack(&picks.iter().map(|t| &*t.next).collect::<Vec<_>>(), &dev)?;
    let next_last: Vec<Option<usize>> =
        picks.iter().map(|t| (t.action != STOP).then_some(t.action)).collect();
    let q_next = p.with_values(target_values, |p| {
        agent.forward(p, &next, &one_hot(&next_last, &dev)?, &lstm(&|t| &t.next_lstm)?, Pass::EVAL)
    })?;
    let q_next = q_next.0.to_vec()?;
    let states = stack(&picks.iter().map(|t| &*t.state).collect::<Vec<_>>(), &dev)?;
    let last: Vec<Option<usize>> = picks.iter().map(|t| t.last).collect();
    let (q, _) = agent.forward(p, &states, &one_hot(&last, &dev)?, &lstm(&|t| &t.lstm)?, Pass::TRAIN)?;
    let mut want = q.to_vec()?;
    let mut q_sum = 0f64;
    for (i, t) in picks.iter().enumerate() {
        let best_next =
            q_next[i * ACTIONS..(i + 1) * ACTIONS].iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let y = t.reward + if t.terminal { 0.0 } else { cfg.discount * best_next };
        q_sum += want[i * ACTIONS + t.action] as f64;
        want[i * ACTIONS + t.action] = y;
    }
    let want = Tensor::from_vec(want, q.shape(), &dev)?;
    // The mean over the batch of the acted samples' Huber loss: the other entries match their
    // targets and add nothing, so the mean over all entries is scaled back by ACTIONS.
    let (loss, dq) = ops::loss::huber_mean(&q, &want, ACTIONS as f32)?;
    p.zero_grads()?;
    agent.backward(p, &dq)?;
    let h = AdamStep {
        lr: cfg.lr as f32,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.0,
        step: updates + 1,
    };
    p.adam_step(&h, m, v)?;
    Ok((loss, q_sum / picks.len() as f64))
}
