//! `ddr-engine faig`: which filters make a fine-tuned network deblur or denoise.

use super::GlobalArgs;
use crate::data::testset::load_photos;
use crate::data::Image;
use crate::device::Device;
use crate::faig::experiment::{self as exp, Degradations, Rankings, TestImage};
use crate::faig::filters::{rank, top, FilterIndex};
use crate::faig::PathRule;
use crate::io::npy;
use crate::nn::checkpoint::{self, Checkpoint, WeightSet};
use crate::nn::models::SrNet;
use crate::nn::Params;
use crate::tensor::Tensor;
use crate::Result;
use anyhow::{bail, ensure, Context};
use clap::{Args, Subcommand};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct FaigArgs {
    #[command(subcommand)]
    cmd: FaigCommand,
}

#[derive(Subcommand)]
enum FaigCommand {
    /// Score every filter by integrated gradients along the baseline -> target path.
    Score(ScoreArgs),
    /// Mask the top filters of each ranking and measure what the network loses.
    Mask(MaskArgs),
    /// Blend the top filters between baseline and target to control restoration strength.
    Modulate(ModulateArgs),
}

/// The two networks and the test data, shared by the three subcommands.
#[derive(Args, Clone)]
struct Common {
    /// The baseline network (trained on clean LR).
    #[arg(long, value_name = "FILE")]
    baseline: PathBuf,
    /// The target network (fine-tuned from the baseline on blurry and noisy LR).
    #[arg(long, value_name = "FILE")]
    target: PathBuf,
    /// HR photos for the test images, or "builtin".
    #[arg(long, default_value = "builtin", value_name = "DIR")]
    photos: String,
    /// The two degradations: blur:SIGMA (21x21 Gaussian before the bilinear downscale) and
    /// noise:SIGMA (0-255 scale, after it), as FAIG's test data.
    #[arg(long, default_value = "blur:2,noise:25.5", value_name = "SPEC")]
    degradations: String,
    /// Test images (HR crops).
    #[arg(long, default_value_t = 10)]
    count: usize,
    /// HR crop side.
    #[arg(long, default_value_t = 128)]
    crop: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Which weights of each checkpoint.
    #[arg(long, value_enum, default_value = "ema")]
    weights: WeightSet,
    /// Output folder.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

#[derive(Args)]
#[command(after_help = "Example:
  ddr-engine faig score --baseline out/runs/faig_baseline/model.safetensors \\
      --target out/runs/faig_target/model.safetensors --steps 100 --out out/faig

Writes scores_{blur,noise}.npy (discriminative FAIG scores per filter, state-dict order: every
k x k slice W[out, in] of every conv weight), ranking_{blur,noise}.txt (filter indices, best
first), the comparison rankings (input-space IG, weight change, random), filters.json (which
layer each index is in) and top_filters.md (where the top 1% sit, layer by layer).")]
struct ScoreArgs {
    #[command(flatten)]
    common: Common,
    /// Riemann steps along the path (the reference uses 100).
    #[arg(long, default_value_t = 100)]
    steps: usize,
    #[arg(long, value_enum, default_value = "reference")]
    rule: PathRule,
    /// Skip the input-space integrated-gradients comparison (it costs as much as FAIG).
    #[arg(long)]
    no_ig: bool,
}

#[derive(Args)]
#[command(
    after_help = "Run `faig score` first with the same --out. Writes masking.md and masking.json: for the
top 1/3/5/10% filters of each ranking (FAIG, input IG, weight change, random), replaced by the
baseline's, the change on blurry and on noisy inputs against the unmasked target (gradient-map
MSE x 1000 on luma; higher = more of that restoration lost) and the PSNR against ground truth."
)]
struct MaskArgs {
    #[command(flatten)]
    common: Common,
    /// Percentages of filters to mask.
    #[arg(long, default_value = "1,3,5,10", value_delimiter = ',')]
    percents: Vec<f64>,
}

#[derive(Args)]
#[command(
    after_help = "Run `faig score` first with the same --out. For lambda in the range, the top filters are set
to lambda * target + (1 - lambda) * baseline (biases stay the target's). Writes one image per
lambda and degradation, modulation.md/.csv (PSNR and output sharpness, the mean gradient
magnitude, against lambda) and modulation.png (the strength curves)."
)]
struct ModulateArgs {
    #[command(flatten)]
    common: Common,
    /// start:stop:step
    #[arg(long, default_value = "0:1.5:0.1")]
    lambda: String,
    /// Percentage of top filters to blend.
    #[arg(long, default_value_t = 1.0)]
    percent: f64,
}

struct Setup {
    dev: Device,
    net: Box<dyn SrNet>,
    p: Params,
    index: FilterIndex,
    base: Tensor,
    target: Tensor,
    images: Vec<TestImage>,
    scale: usize,
}

fn parse_degradations(spec: &str, scale: usize) -> Result<Degradations> {
    let (mut blur, mut noise) = (None, None);
    for part in spec.split(',') {
        match part.trim().split_once(':') {
            Some(("blur", v)) => blur = Some(v.parse::<f64>().with_context(|| format!("blur sigma '{v}'"))?),
            Some(("noise", v)) => {
                noise = Some(v.parse::<f64>().with_context(|| format!("noise sigma '{v}'"))?)
            }
            _ => bail!("--degradations: '{part}' is not blur:SIGMA or noise:SIGMA"),
        }
    }
    match (blur, noise) {
        (Some(b), Some(n)) => Degradations::faig(scale, b, n),
        _ => bail!("--degradations needs both blur:SIGMA and noise:SIGMA"),
    }
}

fn setup(global: &GlobalArgs, c: &Common) -> Result<Setup> {
    let base_ck = checkpoint::load(&c.baseline, None).with_context(|| "--baseline")?;
    let target_ck: Checkpoint = checkpoint::load(&c.target, None).with_context(|| "--target")?;
    ensure!(
        base_ck.arch == target_ck.arch,
        "the baseline is a {} network and the target a {}: FAIG needs two networks of the same architecture",
        base_ck.arch.describe(),
        target_ck.arch.describe()
    );
    let dev = global.open_device()?;
    let (net, p) = base_ck.arch.build(&dev, 0)?;
    let n = p.len();
    let base = Tensor::from_slice(base_ck.weights(c.weights), &[n], &dev)?;
    let target = Tensor::from_slice(target_ck.weights(c.weights), &[n], &dev)?;
    let index = FilterIndex::new(p.specs());
    let scale = base_ck.arch.scale();
    let deg = parse_degradations(&c.degradations, scale)?;
    let images = exp::test_images(&load_photos(&c.photos)?, c.count, c.crop, &deg, c.seed)?;
    std::fs::create_dir_all(&c.out).with_context(|| format!("cannot create {}", c.out.display()))?;
    Ok(Setup { dev, net, p, index, base, target, images, scale })
}

fn write_ranking(dir: &Path, name: &str, scores: &[f64]) -> Result<Vec<usize>> {
    npy::write(&dir.join(format!("scores_{name}.npy")), &[scores.len()], scores)?;
    let r = rank(scores);
    let text: String = r.iter().map(|i| format!("{i}\n")).collect();
    crate::io::write_atomic(&dir.join(format!("ranking_{name}.txt")), |w| {
        Ok(std::io::Write::write_all(w, text.as_bytes())?)
    })?;
    Ok(r)
}

fn read_ranking(dir: &Path, name: &str, total: usize) -> Result<Vec<usize>> {
    let path = dir.join(format!("ranking_{name}.txt"));
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {} (run `faig score` first)", path.display()))?;
    let r: Vec<usize> = text
        .lines()
        .map(|l| l.trim().parse::<usize>())
        .collect::<std::result::Result<_, _>>()
        .with_context(|| format!("{} is not a ranking", path.display()))?;
    ensure!(
        r.len() == total && r.iter().all(|&i| i < total),
        "{} does not rank this network's {total} filters",
        path.display()
    );
    Ok(r)
}

fn score(global: &GlobalArgs, a: &ScoreArgs) -> Result<()> {
    let mut s = setup(global, &a.common)?;
    let dir = &a.common.out;
    let passes = 2 * a.common.count * if a.no_ig { 1 } else { 2 };
    let pb = indicatif::ProgressBar::new(passes as u64);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} path integrals [{elapsed_precise} < {eta_precise}]",
        )
        .unwrap(),
    );
    let t0 = std::time::Instant::now();
    let f = exp::faig_scores(
        s.net.as_mut(),
        &mut s.p,
        &s.index,
        &s.base,
        &s.target,
        &s.images,
        a.steps,
        a.rule,
        &s.dev,
        || pb.inc(1),
    )?;
    let faig_secs = t0.elapsed().as_secs_f64();
    let rb = write_ranking(dir, "blur", &f.blur)?;
    write_ranking(dir, "noise", &f.noise)?;
    if !a.no_ig {
        let ig = exp::input_ig_scores(
            s.net.as_mut(),
            &mut s.p,
            &s.index,
            &s.target,
            &s.images,
            a.steps,
            a.rule,
            &s.dev,
        )?;
        pb.inc((2 * a.common.count) as u64);
        write_ranking(dir, "ig_blur", &ig.blur)?;
        write_ranking(dir, "ig_noise", &ig.noise)?;
    }
    pb.finish_and_clear();
    let wc = exp::weight_change_scores(&s.index, &s.base.to_vec()?, &s.target.to_vec()?);
    write_ranking(dir, "weight_change", &wc)?;
    let layers = serde_json::to_string_pretty(&s.index.layers)?;
    crate::io::write_atomic(&dir.join("filters.json"), |w| {
        Ok(std::io::Write::write_all(w, layers.as_bytes())?)
    })?;
    // Where the top 1% of each ranking sit.
    let rn = rank(&f.noise);
    let mut md = String::from("# Where the top 1% FAIG filters are\n\n| layer | filters | top-1% blur | top-1% noise |\n|---|---:|---:|---:|\n");
    for l in &s.index.layers {
        let within =
            |r: &[usize]| top(r, 1.0).iter().filter(|&&f| s.index.layer_of(f).first == l.first).count();
        let _ = writeln!(md, "| {} | {} | {} | {} |", l.name, l.c_out * l.c_in, within(&rb), within(&rn));
    }
    crate::io::write_atomic(&dir.join("top_filters.md"), |w| {
        Ok(std::io::Write::write_all(w, md.as_bytes())?)
    })?;
    eprintln!(
        "scored {} filters on {} images x 2 degradations x {} steps in {faig_secs:.1} s (FAIG); rankings in {}",
        s.index.total,
        a.common.count,
        a.steps,
        dir.display()
    );
    Ok(())
}

fn mask(global: &GlobalArgs, a: &MaskArgs) -> Result<()> {
    let mut s = setup(global, &a.common)?;
    let dir = &a.common.out;
    let total = s.index.total;
    let mut methods = vec![Rankings {
        method: "FAIG".into(),
        blur: read_ranking(dir, "blur", total)?,
        noise: read_ranking(dir, "noise", total)?,
    }];
    if dir.join("ranking_ig_blur.txt").exists() {
        methods.push(Rankings {
            method: "IG (input path)".into(),
            blur: read_ranking(dir, "ig_blur", total)?,
            noise: read_ranking(dir, "ig_noise", total)?,
        });
    }
    let wc = read_ranking(dir, "weight_change", total)?;
    methods.push(Rankings { method: "|Δθ|/|θ̄|".into(), blur: wc.clone(), noise: wc });
    methods.push(Rankings {
        method: "random".into(),
        blur: exp::random_ranking(total, a.common.seed),
        noise: exp::random_ranking(total, a.common.seed + 1),
    });
    let (tb, tn) = exp::outputs(s.net.as_mut(), &mut s.p, &s.target, &s.images, &s.dev)?;
    let (bb, bn) = exp::outputs(s.net.as_mut(), &mut s.p, &s.base, &s.images, &s.dev)?;
    let (base_vals, target_vals) = (s.base.to_vec()?, s.target.to_vec()?);
    let scale = s.scale;
    let ef = |o: &[Image], t: &[Image], imgs: &[TestImage]| exp::effect(o, t, imgs, scale);
    let mut rows = Vec::new();
    let mut md = String::new();
    let _ = writeln!(md, "# Masking the top filters ({} test images, {} filters)\n", a.common.count, total);
    let _ = writeln!(
        md,
        "Each cell: gradient-map MSE x1000 against the unmasked target (PSNR dB against ground truth).\n"
    );
    let _ = writeln!(md, "| ranking | masked | blur filters → on blurry input | blur filters → on noisy input | noise filters → on blurry input | noise filters → on noisy input |");
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|");
    let cell = |e: exp::Effect| format!("{:.4} ({:.2})", e.grad_mse, e.psnr);
    let _ = writeln!(
        md,
        "| target (no mask) | 0% | {} | {} | {} | {} |",
        cell(ef(&tb, &tb, &s.images)),
        cell(ef(&tn, &tn, &s.images)),
        cell(ef(&tb, &tb, &s.images)),
        cell(ef(&tn, &tn, &s.images))
    );
    let _ = writeln!(
        md,
        "| baseline (all masked) | 100% | {} | {} | {} | {} |",
        cell(ef(&bb, &tb, &s.images)),
        cell(ef(&bn, &tn, &s.images)),
        cell(ef(&bb, &tb, &s.images)),
        cell(ef(&bn, &tn, &s.images))
    );
    for m in &methods {
        for &pct in &a.percents {
            let mut cells = Vec::new();
            for ranking in [&m.blur, &m.noise] {
                let masked = s.index.blend(&target_vals, &base_vals, top(ranking, pct), 0.0)?;
                let values = Tensor::from_vec(masked, &[target_vals.len()], &s.dev)?;
                let (ob, on) = exp::outputs(s.net.as_mut(), &mut s.p, &values, &s.images, &s.dev)?;
                cells.push(ef(&ob, &tb, &s.images));
                cells.push(ef(&on, &tn, &s.images));
            }
            let _ = writeln!(
                md,
                "| {} | {pct}% | {} | {} | {} | {} |",
                m.method,
                cell(cells[0]),
                cell(cells[1]),
                cell(cells[2]),
                cell(cells[3])
            );
            rows.push(serde_json::json!({
                "ranking": m.method, "percent": pct,
                "mask_blur_on_blur": cells[0], "mask_blur_on_noise": cells[1],
                "mask_noise_on_blur": cells[2], "mask_noise_on_noise": cells[3],
            }));
        }
    }
    let (bic_b, bic_n) = exp::bicubic_effect(&s.images, s.scale)?;
    let _ = writeln!(
        md,
        "\nBicubic upscaling of the inputs: PSNR {bic_b:.2} dB (blurry), {bic_n:.2} dB (noisy)."
    );
    crate::io::write_atomic(&dir.join("masking.md"), |w| Ok(std::io::Write::write_all(w, md.as_bytes())?))?;
    let json = serde_json::to_string_pretty(&rows)?;
    crate::io::write_atomic(&dir.join("masking.json"), |w| {
        Ok(std::io::Write::write_all(w, json.as_bytes())?)
    })?;
    print!("{md}");
    Ok(())
}

fn parse_range(s: &str) -> Result<Vec<f32>> {
    let v: Vec<f64> = s
        .split(':')
        .map(|x| x.trim().parse::<f64>())
        .collect::<std::result::Result<_, _>>()
        .with_context(|| format!("--lambda '{s}' is not start:stop:step"))?;
    ensure!(
        v.len() == 3 && v[2] > 0.0 && v[1] >= v[0],
        "--lambda '{s}' is not start:stop:step with step > 0"
    );
    let n = ((v[1] - v[0]) / v[2] + 1e-9).floor() as usize;
    Ok((0..=n).map(|i| (v[0] + i as f64 * v[2]) as f32).collect())
}

fn mean_gradient(imgs: &[Image]) -> f64 {
    imgs.iter()
        .map(|i| exp::gradient_map(i).iter().map(|&g| g as f64).sum::<f64>() / (i.h * i.w) as f64)
        .sum::<f64>()
        / imgs.len() as f64
}

fn modulate(global: &GlobalArgs, a: &ModulateArgs) -> Result<()> {
    let lambdas = parse_range(&a.lambda)?;
    let mut s = setup(global, &a.common)?;
    let dir = &a.common.out;
    let total = s.index.total;
    let (base_vals, target_vals) = (s.base.to_vec()?, s.target.to_vec()?);
    let mut csv = String::from("degradation,lambda,psnr,mean_gradient\n");
    let mut md = format!("# Modulating the top {}% FAIG filters\n\nlambda * target + (1 - lambda) * baseline on the filters that FAIG ranks highest for each degradation, run on inputs with that degradation.\n\n| degradation | lambda | PSNR (dB) | mean gradient (sharpness) |\n|---|---:|---:|---:|\n", a.percent);
    let mut curves: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for (name, which) in [("blur", 0usize), ("noise", 1usize)] {
        let ranking = read_ranking(dir, name, total)?;
        let mut curve = Vec::new();
        for &lambda in &lambdas {
            let blended = s.index.blend(&target_vals, &base_vals, top(&ranking, a.percent), lambda)?;
            let values = Tensor::from_vec(blended, &[target_vals.len()], &s.dev)?;
            let (ob, on) = exp::outputs(s.net.as_mut(), &mut s.p, &values, &s.images, &s.dev)?;
            let outs = if which == 0 { ob } else { on };
            let psnr = outs
                .iter()
                .zip(&s.images)
                .map(|(o, i)| crate::metrics::image::psnr(o, &i.hr, s.scale, false))
                .sum::<f64>()
                / outs.len() as f64;
            let sharp = mean_gradient(&outs);
            curve.push((lambda as f64, sharp));
            let _ = writeln!(csv, "{name},{lambda:.3},{psnr:.4},{sharp:.6}");
            let _ = writeln!(md, "| {name} | {lambda:.2} | {psnr:.2} | {sharp:.5} |");
            crate::data::image_io::save_png(
                &dir.join(format!("modulate_{name}_lambda{lambda:.2}.png")),
                &outs[0].to_rgb8()?,
            )?;
        }
        curves.push((format!("{name} filters, {name} inputs"), curve));
    }
    // Sharpness relative to the target's (lambda = 1), so both degradations share one axis.
    let rel: Vec<(String, Vec<(f64, f64)>)> = curves
        .into_iter()
        .map(|(n, c)| {
            let at1 =
                c.iter().min_by(|a, b| (a.0 - 1.0).abs().total_cmp(&(b.0 - 1.0).abs())).map_or(1.0, |p| p.1);
            (n, c.into_iter().map(|(l, v)| (l, v / at1)).collect())
        })
        .collect();
    crate::io::plot::lines_png(
        &dir.join("modulation.png"),
        &format!("Modulating the top {}% FAIG filters", a.percent),
        "lambda (0 = baseline's filters, 1 = target's)",
        "output mean gradient / target's",
        &rel,
    )?;
    crate::io::write_atomic(&dir.join("modulation.csv"), |w| {
        Ok(std::io::Write::write_all(w, csv.as_bytes())?)
    })?;
    crate::io::write_atomic(&dir.join("modulation.md"), |w| {
        Ok(std::io::Write::write_all(w, md.as_bytes())?)
    })?;
    print!("{md}");
    Ok(())
}

pub fn run(global: &GlobalArgs, a: &FaigArgs) -> Result<()> {
    match &a.cmd {
        FaigCommand::Score(x) => score(global, x),
        FaigCommand::Mask(x) => mask(global, x),
        FaigCommand::Modulate(x) => modulate(global, x),
    }
}
