//! `faig modulate`: blend the top FAIG filters between baseline and target,
//! lambda * target + (1 - lambda) * baseline, and measure how restoration strength follows lambda.

use super::filters::top;
use super::mask::outputs;
use super::rankings;
use super::study::Study;
use crate::data::image_io::save_png;
use crate::data::Image;
use crate::io::{plot, write_atomic};
use crate::metrics::image::{self, psnr};
use crate::tensor::Tensor;
use crate::Result;
use anyhow::{ensure, Context};
use std::fmt::Write as _;
use std::path::Path;

/// Parses "start:stop:step" into the lambdas start, start + step, ... <= stop.
pub fn parse_lambdas(s: &str) -> Result<Vec<f32>> {
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
    imgs.iter().map(|i| image::mean_gradient(i, 0)).sum::<f64>() / imgs.len() as f64
}

/// Blends the top `percent` filters of each ranking in `dir` at every lambda; writes one image
/// per lambda and degradation, modulation.csv/.md and modulation.png into `dir`; returns the
/// Markdown table.
pub fn modulate(s: &mut Study, dir: &Path, lambdas: &[f32], percent: f64) -> Result<String> {
    let total = s.index.total;
    let (base_vals, target_vals) = (s.base.to_vec()?, s.target.to_vec()?);
    let mut csv = String::from("degradation,lambda,psnr,mean_gradient\n");
    let mut md = format!("# Modulating the top {percent}% FAIG filters\n\nlambda * target + (1 - lambda) * baseline on the filters that FAIG ranks highest for each degradation, run on inputs with that degradation.\n\n| degradation | lambda | PSNR (dB) | mean gradient (sharpness) |\n|---|---:|---:|---:|\n");
    let mut curves: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for (name, which) in [("blur", 0usize), ("noise", 1usize)] {
        let ranking = rankings::read(dir, name, total)?;
        let mut curve = Vec::new();
        for &lambda in lambdas {
            let blended = s.index.blend(&target_vals, &base_vals, top(&ranking, percent), lambda)?;
            let values = Tensor::from_vec(blended, &[target_vals.len()], &s.dev)?;
            let (ob, on) = outputs(s.net.as_mut(), &mut s.p, &values, &s.images)?;
            let outs = if which == 0 { ob } else { on };
            let psnr = outs.iter().zip(&s.images).map(|(o, i)| psnr(o, &i.hr, s.scale, false)).sum::<f64>()
                / outs.len() as f64;
            let sharp = mean_gradient(&outs);
            curve.push((lambda as f64, sharp));
            let _ = writeln!(csv, "{name},{lambda:.3},{psnr:.4},{sharp:.6}");
            let _ = writeln!(md, "| {name} | {lambda:.2} | {psnr:.2} | {sharp:.5} |");
            save_png(&dir.join(format!("modulate_{name}_lambda{lambda:.2}.png")), &outs[0].to_rgb8()?)?;
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
    plot::lines_png(
        &dir.join("modulation.png"),
        &format!("Modulating the top {percent}% FAIG filters"),
        "lambda (0 = baseline's filters, 1 = target's)",
        "output mean gradient / target's",
        &rel,
    )?;
    write_atomic(&dir.join("modulation.csv"), |w| Ok(std::io::Write::write_all(w, csv.as_bytes())?))?;
    write_atomic(&dir.join("modulation.md"), |w| Ok(std::io::Write::write_all(w, md.as_bytes())?))?;
    Ok(md)
}
