//! `faig score`: discriminative filter scores by FAIG (the parameter path), and the comparison
//! rankings of FAIG's paper (input-space IG, weight change, random), written as ranking files.

use super::filters::{top, FilterIndex};
use super::integrate::{integrated_gradients, ParamPath, PathRule};
use super::rankings;
use super::study::{Study, TestImage};
use crate::data::Image;
use crate::device::Device;
use crate::io::write_atomic;
use crate::nn::models::SrNet;
use crate::nn::{Params, Pass, Want};
use crate::tensor::Tensor;
use crate::{ops, Result, Rng};
use std::fmt::Write as _;
use std::path::Path;

fn tensor(img: &Image, dev: &Device) -> Result<Tensor> {
    Tensor::from_slice(&img.data, &[1, img.c, img.h, img.w], dev)
}

/// Summed discriminative scores over the test images: `blur[f] = sum_x S(x_blur)[f] - S(x_noise)[f]`
/// and `noise = -blur`, for FAIG (the parameter path) or for input-space IG.
pub struct DiscriminativeScores {
    pub blur: Vec<f64>,
    pub noise: Vec<f64>,
}

/// FAIG: integrate along the parameter path for every image and degradation.
pub fn faig_scores(
    net: &mut dyn SrNet,
    p: &mut Params,
    index: &FilterIndex,
    path: &ParamPath,
    images: &[TestImage],
    mut progress: impl FnMut(),
) -> Result<DiscriminativeScores> {
    let dev = &p.device();
    let delta = path.delta()?;
    let mut blur = vec![0f64; index.total];
    for img in images {
        let y = tensor(&img.hr, dev)?;
        let gb = integrated_gradients(net, p, path, &tensor(&img.blur, dev)?, &y)?;
        progress();
        let gn = integrated_gradients(net, p, path, &tensor(&img.noise, dev)?, &y)?;
        progress();
        let (sb, sn) = (index.scores(&delta, &gb.to_vec()?), index.scores(&delta, &gn.to_vec()?));
        blur.iter_mut().zip(sb.iter().zip(&sn)).for_each(|(d, (b, n))| *d += b - n);
    }
    let noise = blur.iter().map(|v| -v).collect();
    Ok(DiscriminativeScores { blur, noise })
}

/// The comparison of FAIG's paper that integrates over the INPUT instead: with the target's
/// parameters fixed, the mean of dL/dtheta along the path from a black image to x, times theta,
/// summed per filter (the conventional integrated gradients, attributed to filters). Takes the
/// target, the steps and the rule from `path`.
pub fn input_ig_scores(
    net: &mut dyn SrNet,
    p: &mut Params,
    index: &FilterIndex,
    path: &ParamPath,
    images: &[TestImage],
) -> Result<DiscriminativeScores> {
    let dev = &p.device();
    let (steps, rule) = (path.steps, path.rule);
    p.set_values(path.target.clone())?;
    let theta = path.target.to_vec()?;
    let mut blur = vec![0f64; index.total];
    for img in images {
        let y = tensor(&img.hr, dev)?;
        let mut per = Vec::new();
        for lr in [&img.blur, &img.noise] {
            p.zero_grads()?;
            for alpha in rule.alphas(steps) {
                let x =
                    Tensor::from_vec(lr.data.iter().map(|v| v * alpha).collect(), &[1, 3, lr.h, lr.w], dev)?;
                let out = net.forward(p, &x, Pass::EVAL_GRAD)?;
                let (_, dy) = ops::loss::sse_sum(&out, &y, 1.0)?;
                net.backward(p, &dy, Want::PARAMS)?;
            }
            let g = p.grads.to_vec()?;
            let mean: Vec<f32> = g.iter().map(|v| v / steps as f32).collect();
            per.push(index.scores(&theta, &mean));
        }
        blur.iter_mut().zip(per[0].iter().zip(&per[1])).for_each(|(d, (b, n))| *d += b - n);
    }
    let noise = blur.iter().map(|v| -v).collect();
    Ok(DiscriminativeScores { blur, noise })
}

/// The change of each filter relative to its size: sum|theta - theta_bar| / sum|theta_bar|.
pub fn weight_change_scores(index: &FilterIndex, base: &[f32], target: &[f32]) -> Vec<f64> {
    let delta: Vec<f32> = target.iter().zip(base).map(|(t, b)| t - b).collect();
    let (d, b) = (index.sum_abs(&delta), index.sum_abs(base));
    d.iter().zip(&b).map(|(d, b)| d / b.max(1e-12)).collect()
}

/// A seeded random ranking.
pub fn random_ranking(n: usize, seed: u64) -> Vec<usize> {
    let mut r: Vec<usize> = (0..n).collect();
    Rng::derive(seed, &[0x5A4D]).shuffle(&mut r);
    r
}

/// How `faig score` runs.
#[derive(Clone, Copy, Debug)]
pub struct ScoreOptions {
    /// Riemann steps along the path.
    pub steps: usize,
    pub rule: PathRule,
    /// Also the input-space IG comparison (it costs as much as FAIG).
    pub input_ig: bool,
}

impl ScoreOptions {
    /// Path integrals the run computes (one per image, degradation and method), for a progress bar.
    pub fn integrals(&self, images: usize) -> usize {
        2 * images * if self.input_ig { 2 } else { 1 }
    }
}

/// What `faig score` measured.
pub struct ScoreSummary {
    pub filters: usize,
    pub images: usize,
    /// Seconds of the FAIG integrals alone.
    pub faig_seconds: f64,
}

/// Scores every filter and writes into `dir`: scores_*.npy and ranking_*.txt for blur, noise,
/// ig_blur, ig_noise (with `input_ig`) and weight_change, filters.json (the layer of each filter
/// index) and top_filters.md (where the top 1% sit). `progress(n)`: n more path integrals done.
pub fn score(s: &mut Study, dir: &Path, opt: ScoreOptions, progress: &dyn Fn(u64)) -> Result<ScoreSummary> {
    let t0 = std::time::Instant::now();
    let path = ParamPath { base: &s.base, target: &s.target, steps: opt.steps, rule: opt.rule };
    let f = faig_scores(s.net.as_mut(), &mut s.p, &s.index, &path, &s.images, || progress(1))?;
    let faig_seconds = t0.elapsed().as_secs_f64();
    let rb = rankings::write(dir, "blur", &f.blur)?;
    let rn = rankings::write(dir, "noise", &f.noise)?;
    if opt.input_ig {
        let ig = input_ig_scores(s.net.as_mut(), &mut s.p, &s.index, &path, &s.images)?;
        progress((2 * s.images.len()) as u64);
        rankings::write(dir, "ig_blur", &ig.blur)?;
        rankings::write(dir, "ig_noise", &ig.noise)?;
    }
    let wc = weight_change_scores(&s.index, &s.base.to_vec()?, &s.target.to_vec()?);
    rankings::write(dir, "weight_change", &wc)?;
    let layers = serde_json::to_string_pretty(&s.index.layers)?;
    write_atomic(&dir.join("filters.json"), |w| Ok(std::io::Write::write_all(w, layers.as_bytes())?))?;
    let md = top_filters_md(&s.index, &rb, &rn);
    write_atomic(&dir.join("top_filters.md"), |w| Ok(std::io::Write::write_all(w, md.as_bytes())?))?;
    Ok(ScoreSummary { filters: s.index.total, images: s.images.len(), faig_seconds })
}

/// Where the top 1% of each ranking sit, layer by layer.
fn top_filters_md(index: &FilterIndex, blur: &[usize], noise: &[usize]) -> String {
    let mut md = String::from("# Where the top 1% FAIG filters are\n\n| layer | filters | top-1% blur | top-1% noise |\n|---|---:|---:|---:|\n");
    for l in &index.layers {
        let within =
            |r: &[usize]| top(r, 1.0).iter().filter(|&&f| index.layer_of(f).first == l.first).count();
        let _ = writeln!(md, "| {} | {} | {} | {} |", l.name, l.c_out * l.c_in, within(blur), within(noise));
    }
    md
}
