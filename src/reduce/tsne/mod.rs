//! Exact t-SNE as scikit-learn's `TSNE(method='exact')` computes it (`sklearn/manifold/_t_sne.py`):
//! joint probabilities from a per-point perplexity search, Student-t affinities with one degree
//! of freedom, the KL divergence and its exact O(N^2) gradient, and scikit-learn's optimiser.
//!
//! Optimiser, as `sklearn.manifold._t_sne._gradient_descent` in two stages:
//! 1. `exaggeration_iters` (250) iterations with P x `early_exaggeration` (12), momentum 0.5;
//! 2. the rest up to `max_iter` (1000), momentum 0.8.
//!
//! Each stage starts with update = 0 and gains = 1. Per iteration: gains += 0.2 where update
//! and gradient differ in sign, else gains *= 0.8, floored at 0.01; update = momentum * update -
//! learning_rate * gains * grad; y += update. Every 50 iterations (and at the last) the KL is
//! computed; stage 2 stops early after 300 iterations without a new best KL, and either stage
//! stops when the gradient norm (before gains) is <= 1e-7, as scikit-learn does. The KL of
//! stage 1 is not computed: no stop rule of stage 1 reads it. The reported KL is the one computed
//! at the last iteration, at the embedding before that iteration's update (scikit-learn's
//! `kl_divergence_`).
//!
//! Where this departs from scikit-learn, on purpose:
//! - the embedding, gradient and optimiser state are f32 like scikit-learn's, but the gradient's
//!   pair sums run in f32 lanes flushed to f64 (scikit-learn: f64 throughout);
//! - q_ij is floored at machine epsilon in the KL, as scikit-learn does, but not inside the
//!   gradient: the floor only binds when w_ij / Z < 2.2e-16, which needs embedding distances
//!   beyond 1e4 x sqrt(N), far outside what t-SNE produces;
//! - the PCA initialisation is an exact PCA (scikit-learn uses a randomised solver whose first
//!   two components agree to rounding), and its signs follow [`crate::reduce::pca`].

pub mod affinity;
pub mod cpu;
pub(crate) mod cuda;

use crate::device::cpu::tsne::tsne_update_f32;
use crate::device::Device;
use crate::reduce::pca::pca;
use crate::{Result, Rng};
use affinity::{packed_bytes, Affinities, PackedP};
use anyhow::{bail, ensure};
use cpu::{PSource, PairKernel};

/// How the embedding starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// PCA(2) of the input, scaled so that column 0 has standard deviation 1e-4.
    Pca,
    /// 1e-4 x N(0, 1), from the seed.
    Random,
}

/// Where the joint probabilities P live during the optimisation. Both give the same bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PStorage {
    /// Stored when the packed P fits `TsneConfig::p_memory`, streamed otherwise.
    Auto,
    /// A packed f32 triangle, N(N-1)/2 floats (2 bytes x N^2), computed once.
    Stored,
    /// Recomputed from the input points block by block at every iteration: memory O(N x d)
    /// besides the embedding, 10 to 16 times slower (CPU only).
    Streamed,
}

/// Default `TsneConfig::p_memory`: 1 GiB, a stored P up to N = 23,170 points.
pub const DEFAULT_P_MEMORY: u64 = 1 << 30;

/// t-SNE settings; `Default` is scikit-learn's defaults for the exact method.
#[derive(Clone, Debug)]
pub struct TsneConfig {
    pub perplexity: f64,
    pub max_iter: usize,
    pub early_exaggeration: f64,
    pub exaggeration_iters: usize,
    /// `None`: scikit-learn's 'auto', max(N / early_exaggeration / 4, 50).
    pub learning_rate: Option<f64>,
    pub init: Init,
    pub seed: u64,
    pub n_iter_without_progress: usize,
    pub min_grad_norm: f64,
    pub p_storage: PStorage,
    /// Bytes the stored P may take under `PStorage::Auto`.
    pub p_memory: u64,
}

impl Default for TsneConfig {
    fn default() -> Self {
        TsneConfig {
            perplexity: 30.0,
            max_iter: 1000,
            early_exaggeration: 12.0,
            exaggeration_iters: 250,
            learning_rate: None,
            init: Init::Pca,
            seed: 0,
            n_iter_without_progress: 300,
            min_grad_norm: 1e-7,
            p_storage: PStorage::Auto,
            p_memory: DEFAULT_P_MEMORY,
        }
    }
}

/// Iterations between two KL evaluations (scikit-learn's `_N_ITER_CHECK`).
pub const N_ITER_CHECK: usize = 50;
const MIN_GAIN: f32 = 0.01;
/// Key of the random stream for `Init::Random` (see `Rng::derive`).
const INIT_STREAM: u64 = 0x7453_4e45;

/// The result of a run.
#[derive(Clone, Debug)]
pub struct TsneResult {
    /// N x 2, row-major.
    pub embedding: Vec<f32>,
    /// KL(P || Q) computed at the last iteration (scikit-learn's `kl_divergence_`).
    pub kl: f64,
    /// Iterations run (less than `max_iter` when a stop rule fired).
    pub iterations: usize,
    pub learning_rate: f64,
}

impl TsneConfig {
    /// The learning rate used for `n` points.
    pub fn learning_rate_for(&self, n: usize) -> f64 {
        self.learning_rate.unwrap_or_else(|| self.auto_learning_rate(n))
    }

    /// scikit-learn's 'auto' learning rate for `n` points: max(N / early_exaggeration / 4, 50).
    pub fn auto_learning_rate(&self, n: usize) -> f64 {
        (n as f64 / self.early_exaggeration / 4.0).max(50.0)
    }

    /// Whether P is streamed for `n` points.
    pub fn streams_p(&self, n: usize) -> bool {
        match self.p_storage {
            PStorage::Auto => packed_bytes(n) > self.p_memory,
            PStorage::Stored => false,
            PStorage::Streamed => true,
        }
    }

    fn validate(&self, n: usize) -> Result<()> {
        ensure!(
            self.perplexity.is_finite() && self.perplexity > 0.0,
            "perplexity must be a positive number, got {}",
            self.perplexity
        );
        ensure!(
            self.perplexity < n as f64,
            "perplexity ({}) must be less than the number of points ({n})",
            self.perplexity
        );
        ensure!(self.max_iter >= 1, "t-SNE needs at least 1 iteration");
        ensure!(
            self.early_exaggeration >= 1.0 && self.early_exaggeration.is_finite(),
            "early exaggeration must be >= 1, got {}",
            self.early_exaggeration
        );
        if let Some(lr) = self.learning_rate {
            ensure!(
                lr > 0.0 && lr <= f32::MAX as f64,
                "learning rate must be a positive number an f32 can hold, got {lr}"
            );
        }
        Ok(())
    }
}

/// Checks a point set for t-SNE: shape, at least 4 points, finite values.
pub fn validate_points<T: Copy + Into<f64>>(x: &[T], n: usize, d: usize) -> Result<()> {
    ensure!(d >= 1, "t-SNE input: its {n} points have 0 features: there is nothing to embed");
    ensure!(x.len() == n * d, "t-SNE input: {} values do not make {n} points of {d} dims", x.len());
    ensure!(n >= 4, "t-SNE needs at least 4 points, got {n}");
    if let Some(t) = x.iter().position(|v| !(*v).into().is_finite()) {
        bail!("t-SNE input: point {} has a non-finite value ({}) at feature {}", t / d, x[t].into(), t % d);
    }
    Ok(())
}

/// scikit-learn's exact joint probabilities P (packed upper triangle, f32) of `n` points of `d`
/// dims. Errors on bad input and on perplexity >= n.
pub fn joint_probabilities<T: Copy + Into<f64> + Sync>(
    x: &[T],
    n: usize,
    d: usize,
    perplexity: f64,
) -> Result<PackedP> {
    validate_points(x, n, d)?;
    TsneConfig { perplexity, ..Default::default() }.validate(n)?;
    Ok(Affinities::new(x, n, d, perplexity).packed())
}

/// The initial embedding (N x 2 interleaved, f32).
pub fn initial_embedding<T: Copy + Into<f64> + Sync>(
    x: &[T],
    n: usize,
    d: usize,
    cfg: &TsneConfig,
) -> Result<Vec<f32>> {
    match cfg.init {
        Init::Random => {
            let mut rng = Rng::derive(cfg.seed, &[INIT_STREAM]);
            Ok((0..2 * n).map(|_| (1e-4 * rng.normal()) as f32).collect())
        }
        Init::Pca => {
            ensure!(d >= 2, "PCA initialisation needs at least 2 features (got {d}); use random init");
            let p = pca(x, n, d, 2)?;
            let y: Vec<f32> = p.scores.iter().map(|&v| v as f32).collect();
            let mean = (0..n).map(|i| y[2 * i] as f64).sum::<f64>() / n as f64;
            let var = (0..n).map(|i| (y[2 * i] as f64 - mean).powi(2)).sum::<f64>() / n as f64;
            let std = var.sqrt() as f32;
            ensure!(
                std > 0.0,
                "PCA initialisation failed: every point has the same first principal \
                 component; use random init"
            );
            Ok(y.iter().map(|&v| (v / std) * 1e-4f32).collect())
        }
    }
}

/// One exact t-SNE run of `n` points of `d` dims on `device`. `progress(i)` is called after
/// iteration i (0-based). The result does not depend on the thread count, nor on where P lives
/// ([`PStorage`]). With P streamed, a CUDA device hands the run to the CPU (its kernels keep P
/// dense in device memory) and says so on stderr.
pub fn tsne<T: Copy + Into<f64> + Sync>(
    x: &[T],
    n: usize,
    d: usize,
    cfg: &TsneConfig,
    device: &Device,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<TsneResult> {
    validate_points(x, n, d)?;
    cfg.validate(n)?;
    let y0 = initial_embedding(x, n, d, cfg)?;
    let streamed = cfg.streams_p(n);
    if streamed && matches!(device, Device::Cuda(_)) {
        eprintln!(
            "t-SNE: P of {n} points ({} MiB) is streamed, which only the CPU does: running on the CPU",
            packed_bytes(n) >> 20
        );
    }
    match device {
        Device::Cuda(dev) if !streamed => {
            let xf: Vec<f32> = x.iter().map(|&v| v.into() as f32).collect();
            let mut engine = cuda::CudaEngine::new(dev.clone(), &xf, n, d, cfg, &y0)?;
            optimise(&mut engine, n, cfg, progress)
        }
        _ => {
            let a = Affinities::new(x, n, d, cfg.perplexity);
            let p = if streamed { PSource::Streamed(a) } else { PSource::Stored(a.packed()) };
            let mut engine = CpuEngine::new(p, y0);
            optimise(&mut engine, n, cfg, progress)
        }
    }
}

/// What the optimiser needs from a backend. The embedding and optimiser state live in the
/// backend (host memory or the GPU).
pub(crate) trait Engine {
    /// Computes the gradient at the current embedding with P x `exaggeration`.
    fn grad(&mut self, exaggeration: f64) -> Result<()>;
    /// |gradient| (before gains) of the last `gradient` call.
    fn grad_norm(&mut self) -> Result<f64>;
    /// KL(P || Q) at the embedding of the last `gradient` call (P not exaggerated).
    fn kl(&mut self) -> Result<f64>;
    /// Gains, momentum and position update from the last gradient.
    fn update(&mut self, momentum: f32, learning_rate: f32) -> Result<()>;
    /// update = 0, gains = 1 (the start of a stage).
    fn reset(&mut self) -> Result<()>;
    fn embedding(&mut self) -> Result<Vec<f32>>;
}

pub(crate) fn optimise(
    engine: &mut dyn Engine,
    n: usize,
    cfg: &TsneConfig,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<TsneResult> {
    let lr = cfg.learning_rate_for(n);
    let stage1_end = cfg.exaggeration_iters.min(cfg.max_iter);
    // Stage 1: early exaggeration. Only the gradient-norm rule can stop it.
    engine.reset()?;
    let mut it = 0;
    while it < stage1_end {
        engine.grad(cfg.early_exaggeration)?;
        let check = (it + 1) % N_ITER_CHECK == 0;
        let small = check && engine.grad_norm()? <= cfg.min_grad_norm;
        engine.update(0.5, lr as f32)?;
        progress(it);
        it += 1;
        if small {
            break;
        }
    }
    // Stage 2.
    engine.reset()?;
    let mut kl = None;
    let (mut best, mut best_it) = (f64::MAX, it);
    while it < cfg.max_iter {
        engine.grad(1.0)?;
        let check = (it + 1) % N_ITER_CHECK == 0;
        if check || it + 1 == cfg.max_iter {
            kl = Some(engine.kl()?);
        }
        let norm = if check { engine.grad_norm()? } else { f64::MAX };
        engine.update(0.8, lr as f32)?;
        progress(it);
        let this = it;
        it += 1;
        if check {
            let error = kl.unwrap();
            if error < best {
                best = error;
                best_it = this;
            } else if this - best_it > cfg.n_iter_without_progress {
                break;
            }
            if norm <= cfg.min_grad_norm {
                break;
            }
        }
    }
    let kl = match kl {
        Some(k) => k,
        None => {
            // No stage-2 iteration ran: the KL of the final embedding.
            engine.grad(1.0)?;
            engine.kl()?
        }
    };
    let embedding = engine.embedding()?;
    ensure!(
        kl.is_finite() && embedding.iter().all(|v| v.is_finite()),
        "t-SNE diverged: after {it} iterations the embedding is not finite (KL {kl}); the learning \
         rate {lr} is too large for these {n} points (the default, auto, is {})",
        cfg.auto_learning_rate(n)
    );
    Ok(TsneResult { embedding, kl, iterations: it, learning_rate: lr })
}

/// The CPU backend: the fused pair pass of `tsne_cpu` and the reference update.
struct CpuEngine {
    kernel: PairKernel,
    y: Vec<f32>,
    grad: Vec<f32>,
    update: Vec<f32>,
    gains: Vec<f32>,
    z: f64,
}

impl CpuEngine {
    fn new(p: PSource, y: Vec<f32>) -> Self {
        let m = y.len();
        CpuEngine {
            kernel: PairKernel::new(p),
            y,
            grad: vec![0.0; m],
            update: vec![0.0; m],
            gains: vec![1.0; m],
            z: 0.0,
        }
    }
}

impl Engine for CpuEngine {
    fn grad(&mut self, exaggeration: f64) -> Result<()> {
        self.z = self.kernel.grad(&self.y, exaggeration, &mut self.grad);
        Ok(())
    }
    fn grad_norm(&mut self) -> Result<f64> {
        Ok(norm(&self.grad))
    }
    fn kl(&mut self) -> Result<f64> {
        Ok(self.kernel.kl(self.z))
    }
    fn update(&mut self, momentum: f32, learning_rate: f32) -> Result<()> {
        tsne_update_f32(
            &self.grad,
            momentum,
            learning_rate,
            MIN_GAIN,
            &mut self.update,
            &mut self.gains,
            &mut self.y,
        );
        Ok(())
    }
    fn reset(&mut self) -> Result<()> {
        self.update.fill(0.0);
        self.gains.fill(1.0);
        Ok(())
    }
    fn embedding(&mut self) -> Result<Vec<f32>> {
        Ok(self.y.clone())
    }
}

/// Euclidean norm of an f32 vector, summed in f64.
pub(crate) fn norm(v: &[f32]) -> f64 {
    v.iter().map(|&g| g as f64 * g as f64).sum::<f64>().sqrt()
}

/// KL(P || Q) and its gradient at embedding `y` (N x 2 interleaved) in plain f64 over all
/// pairs: the slow, obvious formulas, for tests and for scoring embeddings made elsewhere.
pub fn kl_and_grad_f64(p: &PackedP, y: &[f64]) -> (f64, Vec<f64>) {
    let n = p.n;
    let mut w = vec![0.0f64; n * n];
    let mut z = 0.0;
    for i in 0..n {
        for j in 0..n {
            if i != j {
                let d = (y[2 * i] - y[2 * j]).powi(2) + (y[2 * i + 1] - y[2 * j + 1]).powi(2);
                w[i * n + j] = 1.0 / (1.0 + d);
                z += w[i * n + j];
            }
        }
    }
    let eps = f64::EPSILON;
    let mut kl = 0.0;
    let mut grad = vec![0.0; 2 * n];
    for i in 0..n {
        for j in 0..n {
            if i == j {
                continue;
            }
            let pij = p.get(i, j) as f64;
            let q = (w[i * n + j] / z).max(eps);
            kl += pij * (pij.max(eps) / q).ln();
            let f = 4.0 * (pij - w[i * n + j] / z) * w[i * n + j];
            grad[2 * i] += f * (y[2 * i] - y[2 * j]);
            grad[2 * i + 1] += f * (y[2 * i + 1] - y[2 * j + 1]);
        }
    }
    (kl, grad)
}
