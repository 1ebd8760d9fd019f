//! Writes a probe's results: report.json, report.md (tables shaped like the DDR paper's), scatter
//! plots, feature-map images, and the features and embeddings as .npy for other tools.

use super::features::FeatureMatrix;
use super::run::{pca_label, GroupScores, ProbeResult, ProbeSettings};
use crate::io::npy;
use crate::metrics::neighbours::KNN_K;
use crate::metrics::permutation::{Null, NULL_PERMUTATIONS};
use crate::Result;
use anyhow::Context;
use image::{Rgb, RgbImage};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

/// Who was probed (for the report's header).
#[derive(Clone, Debug, Serialize)]
pub struct Subject {
    pub network: String,
    pub checkpoint: String,
    pub weights: String,
    pub device: String,
}

fn fmt_chi(g: &GroupScores) -> String {
    format!("{:.2} ± {:.2}", g.tsne_chi.mean, g.tsne_chi.std)
}

/// k-NN accuracy with its null's mean (chance) and 99th percentile, in italics unless above it.
pub fn knn_cell(acc: f64, null: &Null) -> String {
    let text = format!("{acc:.2} ({:.2}/{:.2})", null.mean, null.p99);
    if null.exceeded_by(acc) {
        text
    } else {
        format!("*{text}*")
    }
}

/// What the null columns mean, for the reports that show them.
pub fn nulls_explained() -> String {
    format!(
        "Each CHI comes with the 99th percentile of its label-permutation null (\"null p99\"): the same features or map scored with the set labels \
         shuffled {NULL_PERMUTATIONS} times among the versions of each crop (the sets hold the same crops, so only that shuffle keeps the content fixed; \
         t-SNE: {NULL_PERMUTATIONS} shuffles per run, pooled). A CHI above it is visible: labels unrelated to the features reach it less than once in 100. \
         k-NN: leave-one-out accuracy of the set label from the {KNN_K} nearest neighbours, with its null's mean (chance) and 99th percentile in brackets \
         (italics: not above it); it sees clusters that share a centroid, such as a core and a ring, which CHI cannot."
    )
}

/// The Markdown report.
pub fn markdown(subject: &Subject, st: &ProbeSettings, res: &ProbeResult, seconds: f64) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# DDR probe: {}\n", subject.network);
    let _ = writeln!(
        s,
        "Checkpoint `{}` ({} weights), computed on {} in {seconds:.1} s.\n",
        subject.checkpoint, subject.weights, subject.device
    );
    let _ = writeln!(
        s,
        "{} HR crops of {}x{} pixels from the photos; LR patches {}x{} (MATLAB bicubic x1/{}), then each set's degradation. \
         Features flattened per patch, PCA to {} dimensions (at most the points of a group), exact t-SNE to 2 (perplexity {}, {} iterations), {} runs with seeds {}..{}. \
         CHI = Calinski-Harabasz index with the sets as labels (higher: the degradations separate more).\n",
        st.count,
        res.testsets.hr[0].h,
        res.testsets.hr[0].w,
        st.lr_patch,
        st.lr_patch,
        res.testsets.hr[0].h / st.lr_patch,
        st.pca_dims,
        st.perplexity,
        st.tsne_iters,
        st.runs,
        st.seed,
        st.seed + st.runs as u64 - 1
    );
    let _ = writeln!(s, "{}\n", nulls_explained());
    let _ = writeln!(s, "## Sets {} by layer (the paper's Tables 1 and 2)\n", st.set_names.join(" / "));
    let label = pca_label(res.layers.iter().map(|l| &l.main));
    let _ = writeln!(
        s,
        "| layer | feature dim | CHI (t-SNE, mean ± std) | null p99 | CHI ({label}) | null p99 | k-NN (t-SNE) | k-NN ({label}) | WD (t-SNE) | BD (t-SNE) | KL |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for l in &res.layers {
        let g = &l.main;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.2} | {:.2} | {:.2} | {} | {} | {:.1} | {:.1} | {:.3} |",
            l.layer,
            g.feature_dim,
            fmt_chi(g),
            g.tsne_chi_null.p99,
            g.pca.chi,
            g.pca_chi_null.p99,
            knn_cell(g.tsne_knn.mean, &g.tsne_knn_null),
            knn_cell(g.pca_knn, &g.pca_knn_null),
            g.tsne_wd.mean,
            g.tsne_bd.mean,
            g.tsne_kl.mean
        );
    }
    if !st.intra_groups.is_empty() {
        let _ = writeln!(s, "\n## Intra-degradation groups (the paper's Table 3)\n");
        let label = pca_label(res.layers.iter().flat_map(|l| &l.intra));
        let _ = writeln!(
            s,
            "| layer | sets | CHI (t-SNE, mean ± std) | null p99 | CHI ({label}) | null p99 | k-NN (t-SNE) | k-NN ({label}) |"
        );
        let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|");
        for l in &res.layers {
            for g in &l.intra {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {:.2} | {:.2} | {:.2} | {} | {} |",
                    l.layer,
                    g.sets.join(", "),
                    fmt_chi(g),
                    g.tsne_chi_null.p99,
                    g.pca.chi,
                    g.pca_chi_null.p99,
                    knn_cell(g.tsne_knn.mean, &g.tsne_knn_null),
                    knn_cell(g.pca_knn, &g.pca_knn_null)
                );
            }
        }
    }
    let _ = writeln!(s, "\n## Figures\n");
    for l in &res.layers {
        let _ = writeln!(s, "- `tsne_{0}.png`: t-SNE of layer {0} (run 1), one colour per set", l.layer);
        let _ = writeln!(s, "- `featmap_{0}_top8.png`: the 8 channels of {0} with the largest variance, one row per set, for the first test image; `featmap_{0}_all_<set>.png`: every channel", l.layer);
    }
    let _ = writeln!(s, "\nData for other tools: `features_<layer>.npy` (N x D, f32), `labels.npy` (set index per row), `embedding_<layer>_run<k>.npy` (N x 2).");
    s
}

/// A perceptually ordered colour map (viridis, fitted by a polynomial).
fn viridis(t: f32) -> Rgb<u8> {
    let t = t.clamp(0.0, 1.0);
    let poly = |c: [f32; 7]| c.iter().rev().fold(0.0f32, |acc, &k| acc * t + k).clamp(0.0, 1.0);
    let r = poly([0.2777, 0.1050, -0.3308, -4.6342, 6.2283, 4.7764, -5.4355]);
    let g = poly([0.0054, 1.4046, 0.2148, -5.7991, 14.1800, -13.7451, 4.6459]);
    let b = poly([0.3341, 1.3846, 0.0951, -19.3324, 56.6906, -65.3530, 26.3124]);
    Rgb([(r * 255.0) as u8, (g * 255.0) as u8, (b * 255.0) as u8])
}

/// A grid of feature maps: rows = maps (sets), columns = channels, each channel normalised over
/// its row-mates so the sets compare, each pixel drawn `zoom` x `zoom`, 2-pixel white gaps.
fn channel_grid(maps: &[&[f32]], shape: (usize, usize, usize), channels: &[usize], zoom: usize) -> RgbImage {
    let (_, h, w) = shape;
    let gap = 2;
    let (cell_h, cell_w) = (h * zoom + gap, w * zoom + gap);
    let mut img = RgbImage::from_pixel(
        (channels.len() * cell_w) as u32,
        (maps.len() * cell_h) as u32,
        Rgb([255, 255, 255]),
    );
    for (ci, &c) in channels.iter().enumerate() {
        let vals = maps.iter().flat_map(|m| m[c * h * w..(c + 1) * h * w].iter().copied());
        let (lo, hi) = vals.fold((f32::MAX, f32::MIN), |(a, b), v| (a.min(v), b.max(v)));
        let span = if hi > lo { hi - lo } else { 1.0 };
        for (r, m) in maps.iter().enumerate() {
            for y in 0..h * zoom {
                for x in 0..w * zoom {
                    let v = m[c * h * w + (y / zoom) * w + x / zoom];
                    img.put_pixel(
                        (ci * cell_w + x) as u32,
                        (r * cell_h + y) as u32,
                        viridis((v - lo) / span),
                    );
                }
            }
        }
    }
    img
}

/// The first test image's feature maps at one layer, under every main set.
fn feature_maps(
    dir: &Path,
    m: &FeatureMatrix,
    set_names: &[String],
    count: usize,
    all_names: &[String],
) -> Result<()> {
    let maps: Vec<&[f32]> = set_names
        .iter()
        .map(|n| {
            let s = all_names.iter().position(|a| a == n).unwrap();
            &m.data[s * count * m.dim..s * count * m.dim + m.dim]
        })
        .collect();
    let (c, h, w) = m.map_shape;
    // Rank channels by their variance over the shown maps (the paper shows the 8 largest).
    let mut var: Vec<(f64, usize)> = (0..c)
        .map(|ch| {
            let v: Vec<f64> = maps
                .iter()
                .flat_map(|mp| mp[ch * h * w..(ch + 1) * h * w].iter().map(|&x| x as f64))
                .collect();
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64, ch)
        })
        .collect();
    var.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let top: Vec<usize> = var.iter().take(8).map(|v| v.1).collect();
    let zoom = (96 / h.max(1)).clamp(1, 4);
    save_png(
        &dir.join(format!("featmap_{}_top8.png", m.layer)),
        &channel_grid(&maps, m.map_shape, &top, zoom),
    )?;
    let all: Vec<usize> = (0..c).collect();
    for (name, map) in set_names.iter().zip(&maps) {
        let file = format!("featmap_{}_all_{}.png", m.layer, name.replace([':', '/'], "_"));
        // All channels in rows of 16.
        let rows: Vec<RgbImage> =
            all.chunks(16).map(|chunk| channel_grid(&[map], m.map_shape, chunk, zoom)).collect();
        let (rw, rh) = (rows[0].width(), rows.iter().map(|r| r.height()).sum::<u32>());
        let mut grid = RgbImage::from_pixel(rw, rh, Rgb([255, 255, 255]));
        let mut y = 0;
        for r in &rows {
            image::imageops::replace(&mut grid, r, 0, y as i64);
            y += r.height();
        }
        save_png(&dir.join(file), &grid)?;
    }
    Ok(())
}

fn save_png(path: &Path, img: &RgbImage) -> Result<()> {
    crate::data::image_io::save_png(path, img)
}

/// Writes every output of a probe into `dir`.
pub fn write(
    dir: &Path,
    subject: &Subject,
    st: &ProbeSettings,
    res: &ProbeResult,
    seconds: f64,
    npy_features: bool,
) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let all_names: Vec<String> = res.testsets.sets.iter().map(|s| s.spec.name.clone()).collect();
    let json = serde_json::json!({
        "subject": subject,
        "settings": st,
        "seconds": seconds,
        "sets": res.testsets.sets.iter().map(|s| serde_json::json!({
            "name": s.spec.name,
            "pipeline": s.spec.pipeline.to_string(),
            "drawn": s.drawn,
        })).collect::<Vec<_>>(),
        "crops": res.testsets.crops,
        "layers": res.layers,
    });
    crate::io::write_atomic(&dir.join("report.json"), |w| Ok(serde_json::to_writer_pretty(w, &json)?))?;
    let md = markdown(subject, st, res, seconds);
    crate::io::write_atomic(&dir.join("report.md"), |w| Ok(std::io::Write::write_all(w, md.as_bytes())?))?;
    let names: Vec<(i64, String)> =
        all_names.iter().enumerate().map(|(i, n)| (i as i64, n.clone())).collect();
    for (l, m) in res.layers.iter().zip(&res.features) {
        let g = &l.main;
        crate::io::plot::scatter_png(
            &dir.join(format!("tsne_{}.png", l.layer)),
            &format!("{} - {} (CHI {:.1})", subject.network, l.layer, g.tsne_chi.mean),
            &g.embeddings[0],
            Some(&g.labels),
            &names,
        )?;
        for (r, e) in g.embeddings.iter().enumerate() {
            npy::write(&dir.join(format!("embedding_{}_run{}.npy", l.layer, r + 1)), &[g.points, 2], e)?;
        }
        for (gi, ig) in l.intra.iter().enumerate() {
            crate::io::plot::scatter_png(
                &dir.join(format!("tsne_{}_intra{}.png", l.layer, gi + 1)),
                &format!(
                    "{} - {} - {} (CHI {:.1})",
                    subject.network,
                    l.layer,
                    ig.sets.join(", "),
                    ig.tsne_chi.mean
                ),
                &ig.embeddings[0],
                Some(&ig.labels),
                &names,
            )?;
        }
        if npy_features {
            npy::write(&dir.join(format!("features_{}.npy", l.layer)), &[m.rows, m.dim], &m.data)?;
        }
        feature_maps(dir, m, &st.set_names, st.count, &all_names)?;
    }
    let labels: Vec<i64> =
        (0..all_names.len()).flat_map(|s| std::iter::repeat_n(s as i64, st.count)).collect();
    npy::write(&dir.join("labels.npy"), &[labels.len()], &labels)?;
    Ok(())
}
