//! `faig mask`: replace the top filters of each ranking by the baseline's and measure what the
//! target loses on blurry and on noisy inputs.

use super::filters::top;
use super::rankings::{self, Rankings};
use super::score::random_ranking;
use super::study::{Study, TestImage};
use crate::data::imresize::imresize;
use crate::data::Image;
use crate::infer::super_resolve;
use crate::io::write_atomic;
use crate::metrics::image::{gradient_map_mse_x1000, psnr};
use crate::nn::models::SrNet;
use crate::nn::Params;
use crate::tensor::Tensor;
use crate::Result;
use std::fmt::Write as _;
use std::path::Path;

/// Runs the network with flat parameters `values` on every image's blurry and noisy input.
pub fn outputs(
    net: &mut dyn SrNet,
    p: &mut Params,
    values: &Tensor,
    images: &[TestImage],
) -> Result<(Vec<Image>, Vec<Image>)> {
    p.with_values(values, |p| {
        let mut run = |lr: &Image| super_resolve(net, p, lr, None);
        let blur = images.iter().map(|i| run(&i.blur)).collect::<Result<_>>()?;
        let noise = images.iter().map(|i| run(&i.noise)).collect::<Result<_>>()?;
        Ok((blur, noise))
    })
}

/// How a network with masked filters differs from the target on one kind of input.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Effect {
    /// Mean gradient-map MSE x 1000 against the unmasked target's outputs.
    pub grad_mse: f64,
    /// Mean PSNR (RGB, border = scale) against the ground truth.
    pub psnr: f64,
}

pub fn effect(outputs: &[Image], target_outputs: &[Image], images: &[TestImage], scale: usize) -> Effect {
    let n = outputs.len() as f64;
    let grad_mse =
        outputs.iter().zip(target_outputs).map(|(o, t)| gradient_map_mse_x1000(o, t)).sum::<f64>() / n;
    let psnr = outputs.iter().zip(images).map(|(o, i)| psnr(o, &i.hr, scale, false)).sum::<f64>() / n;
    Effect { grad_mse, psnr }
}

/// Bicubic PSNR of the blurry / noisy inputs, for the report's reference row.
pub fn bicubic_effect(images: &[TestImage], scale: usize) -> Result<(f64, f64)> {
    let mut s = (0.0, 0.0);
    for i in images {
        s.0 += psnr(&imresize(&i.blur, scale as f64)?, &i.hr, scale, false);
        s.1 += psnr(&imresize(&i.noise, scale as f64)?, &i.hr, scale, false);
    }
    Ok((s.0 / images.len() as f64, s.1 / images.len() as f64))
}

/// The rankings `faig score` wrote into `dir`, and the random ones.
fn read_rankings(dir: &Path, total: usize, seed: u64) -> Result<Vec<Rankings>> {
    let mut methods = vec![Rankings {
        method: "FAIG".into(),
        blur: rankings::read(dir, "blur", total)?,
        noise: rankings::read(dir, "noise", total)?,
    }];
    if rankings::has_input_ig(dir) {
        methods.push(Rankings {
            method: "IG (input path)".into(),
            blur: rankings::read(dir, "ig_blur", total)?,
            noise: rankings::read(dir, "ig_noise", total)?,
        });
    }
    let wc = rankings::read(dir, "weight_change", total)?;
    methods.push(Rankings { method: "|Δθ|/|θ̄|".into(), blur: wc.clone(), noise: wc });
    methods.push(Rankings {
        method: "random".into(),
        blur: random_ranking(total, seed),
        noise: random_ranking(total, seed + 1),
    });
    Ok(methods)
}

/// Masks the top `percents` of every ranking in `dir`, writes masking.md and masking.json into
/// it, and returns the Markdown table.
pub fn mask(s: &mut Study, dir: &Path, percents: &[f64], seed: u64) -> Result<String> {
    let total = s.index.total;
    let methods = read_rankings(dir, total, seed)?;
    let (tb, tn) = outputs(s.net.as_mut(), &mut s.p, &s.target, &s.images)?;
    let (bb, bn) = outputs(s.net.as_mut(), &mut s.p, &s.base, &s.images)?;
    let (base_vals, target_vals) = (s.base.to_vec()?, s.target.to_vec()?);
    let scale = s.scale;
    let ef = |o: &[Image], t: &[Image], imgs: &[TestImage]| effect(o, t, imgs, scale);
    let mut rows = Vec::new();
    let mut md = String::new();
    let _ = writeln!(md, "# Masking the top filters ({} test images, {} filters)\n", s.images.len(), total);
    let _ = writeln!(
        md,
        "Each cell: gradient-map MSE x1000 against the unmasked target (PSNR dB against ground truth).\n"
    );
    let _ = writeln!(md, "| ranking | masked | blur filters → on blurry input | blur filters → on noisy input | noise filters → on blurry input | noise filters → on noisy input |");
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|");
    let cell = |e: Effect| format!("{:.4} ({:.2})", e.grad_mse, e.psnr);
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
        for &pct in percents {
            let mut cells = Vec::new();
            for ranking in [&m.blur, &m.noise] {
                let masked = s.index.blend(&target_vals, &base_vals, top(ranking, pct), 0.0)?;
                let values = Tensor::from_vec(masked, &[target_vals.len()], &s.dev)?;
                let (ob, on) = outputs(s.net.as_mut(), &mut s.p, &values, &s.images)?;
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
    let (bic_b, bic_n) = bicubic_effect(&s.images, s.scale)?;
    let _ = writeln!(
        md,
        "\nBicubic upscaling of the inputs: PSNR {bic_b:.2} dB (blurry), {bic_n:.2} dB (noisy)."
    );
    write_atomic(&dir.join("masking.md"), |w| Ok(std::io::Write::write_all(w, md.as_bytes())?))?;
    let json = serde_json::to_string_pretty(&rows)?;
    write_atomic(&dir.join("masking.json"), |w| Ok(std::io::Write::write_all(w, json.as_bytes())?))?;
    Ok(md)
}
