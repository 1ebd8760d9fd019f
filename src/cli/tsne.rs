//! `ddr-engine tsne`: exact t-SNE of any .npy matrix, with an optional scatter plot and cluster
//! scores.

use super::GlobalArgs;
use crate::io::npy;
use crate::io::plot;
use crate::metrics::cluster_scores;
use crate::reduce::tsne::DEFAULT_P_MEMORY;
use crate::reduce::{pca, tsne, Init, PStorage, TsneConfig};
use crate::Result;
use anyhow::{ensure, Context};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum InitArg {
    /// PCA(2) of the input, scaled so the first column has standard deviation 1e-4.
    Pca,
    /// 1e-4 x N(0, 1) from --seed.
    Random,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum AffinitiesArg {
    /// Stored when it fits --p-memory, streamed otherwise.
    Auto,
    /// Computed once and kept: 2 x N^2 bytes (800 MB at N = 20000).
    Stored,
    /// Recomputed from the input at every iteration: O(N x D) memory, 10 to 16 times slower
    /// (CPU only: --device cuda runs on the CPU then).
    Streamed,
}

#[derive(Args)]
#[command(
    after_help = "Example:\n  ddr-engine tsne --input feats.npy --labels degr.npy --pca-dims 50 \\\n      \
    --out emb.npy --plot emb.png --metrics-json scores.json\n\n\
The method is scikit-learn's TSNE(method='exact') with its defaults: the same joint \
probabilities, gradient and optimiser (early exaggeration, momentum, gains), so the final KL \
is comparable with scikit-learn's kl_divergence_. The same input and seed give the same bytes \
for any --threads. --device cuda runs the whole optimisation on the GPU (deterministic too, but \
not bit-identical to the CPU).\n\n\
The joint probabilities P are the only N x N matrix: stored, they take 2 x N^2 bytes (a packed \
f32 triangle); streamed, each block of rows is recomputed from the input when needed, so memory \
stays O(N x D) at the price of recomputing distances and exponentials every iteration. Both \
give the same bytes."
)]
pub struct TsneArgs {
    /// Points to embed: a 2-D .npy array (N points x D features), float32 or float64.
    #[arg(long, value_name = "X.npy")]
    input: PathBuf,
    /// Where to write the embedding: an N x 2 float32 .npy array.
    #[arg(long, value_name = "Y.npy")]
    out: PathBuf,
    /// One integer label per point (a 1-D .npy of int32/int64/uint8): colours the plot and
    /// defines the clusters of --metrics-json. Labels never influence the embedding.
    #[arg(long, value_name = "y.npy")]
    labels: Option<PathBuf>,
    /// Perplexity: the effective number of neighbours of each point; must be less than N.
    #[arg(long, default_value_t = 30.0)]
    perplexity: f64,
    /// Total iterations, early exaggeration included.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    iters: usize,
    /// Factor on P during the first --exaggeration-iters iterations.
    #[arg(long, default_value_t = 12.0)]
    early_exaggeration: f64,
    /// Iterations with early exaggeration (and momentum 0.5).
    #[arg(long, default_value_t = 250, value_name = "N")]
    exaggeration_iters: usize,
    /// Learning rate; default 'auto' = max(N / early_exaggeration / 4, 50).
    #[arg(long, value_name = "RATE")]
    learning_rate: Option<f64>,
    /// Seed of the random initialisation (--init random); PCA initialisation does not use it.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// How the embedding starts.
    #[arg(long, value_enum, default_value = "pca")]
    init: InitArg,
    /// Reduce the input to this many principal components first (the DDR recipe uses 50);
    /// default: use the input as it is.
    #[arg(long, value_name = "K")]
    pca_dims: Option<usize>,
    /// Write a scatter plot of the embedding (PNG; coloured by --labels when given).
    #[arg(long, value_name = "PLOT.png")]
    plot: Option<PathBuf>,
    /// Title of the plot (default: the input file name).
    #[arg(long)]
    title: Option<String>,
    /// Write the run's figures as JSON: KL, iterations, time, and with --labels the WD, BD and
    /// Calinski-Harabasz index of the embedding and of the (PCA-reduced) input.
    #[arg(long, value_name = "M.json")]
    metrics_json: Option<PathBuf>,
    /// Where P lives (see below); auto = stored while it fits --p-memory.
    #[arg(long, value_enum, default_value = "auto", value_name = "MODE")]
    affinities: AffinitiesArg,
    /// Memory for a stored P under --affinities auto, in MiB (default 1 GiB: stored up to
    /// N = 23170 points).
    #[arg(long, default_value_t = DEFAULT_P_MEMORY >> 20, value_name = "MiB")]
    p_memory: u64,
    /// No progress bar and no summary line.
    #[arg(long)]
    quiet: bool,
}

pub fn run(global: &GlobalArgs, a: &TsneArgs) -> Result<()> {
    let device = global.open_device()?;
    let what = a.input.display().to_string();
    let (n, d, x) = npy::read(&a.input)
        .and_then(|a| a.to_f64_matrix(&what))
        .context("--input must be a 2-D float32 or float64 array")?;
    let labels = match &a.labels {
        Some(p) => {
            let l = npy::read(p)?.to_i64_vec(&p.display().to_string())?;
            ensure!(l.len() == n, "{} has {} labels but {what} has {n} points", p.display(), l.len());
            Some(l)
        }
        None => None,
    };
    ensure!(
        a.metrics_json.is_none() || labels.is_some(),
        "--metrics-json needs --labels (the clusters to score)"
    );
    crate::reduce::tsne::validate_points(&x, n, d).with_context(|| what.clone())?;
    let (x, d) = match a.pca_dims {
        Some(k) => (pca(&x, n, d, k)?.scores, k),
        None => (x, d),
    };
    let cfg = TsneConfig {
        perplexity: a.perplexity,
        max_iter: a.iters,
        early_exaggeration: a.early_exaggeration,
        exaggeration_iters: a.exaggeration_iters,
        learning_rate: a.learning_rate,
        init: match a.init {
            InitArg::Pca => Init::Pca,
            InitArg::Random => Init::Random,
        },
        seed: a.seed,
        p_storage: match a.affinities {
            AffinitiesArg::Auto => PStorage::Auto,
            AffinitiesArg::Stored => PStorage::Stored,
            AffinitiesArg::Streamed => PStorage::Streamed,
        },
        p_memory: a.p_memory.saturating_mul(1 << 20),
        ..Default::default()
    };
    let bar = if a.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        let b = indicatif::ProgressBar::new(a.iters as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "t-SNE {bar:40} {pos}/{len} iterations, {elapsed} (eta {eta})",
            )
            .unwrap(),
        );
        b
    };
    let start = Instant::now();
    let r = tsne(&x, n, d, &cfg, &device, &|i| bar.set_position(i as u64 + 1))?;
    let seconds = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    npy::write(&a.out, &[n, 2], &r.embedding)?;
    if let Some(p) = &a.plot {
        let title = a.title.clone().unwrap_or_else(|| {
            let stem = a.input.file_stem().map(|s| s.to_string_lossy().into_owned());
            format!("t-SNE of {}", stem.unwrap_or_default())
        });
        plot::scatter_png(p, &title, &r.embedding, labels.as_deref(), &[])?;
    }
    if let (Some(p), Some(l)) = (&a.metrics_json, &labels) {
        let emb = cluster_scores(&r.embedding, n, 2, l)?;
        let input = cluster_scores(&x, n, d, l)?;
        let j = serde_json::json!({
            "input": what, "points": n, "dims": d, "pca_dims": a.pca_dims,
            "perplexity": a.perplexity, "iterations": r.iterations, "kl": r.kl,
            "learning_rate": r.learning_rate, "seconds": seconds, "device": device.to_string(),
            "p_streamed": cfg.streams_p(n),
            "embedding_scores": emb, "input_scores": input,
        });
        let text = serde_json::to_string_pretty(&j)? + "\n";
        crate::io::write_atomic(p, |w| Ok(std::io::Write::write_all(w, text.as_bytes())?))?;
    }
    if !a.quiet {
        eprintln!(
            "t-SNE of {n} points ({d} dims) on {device}: KL {:.6} after {} iterations, {seconds:.2} s",
            r.kl, r.iterations
        );
    }
    Ok(())
}
