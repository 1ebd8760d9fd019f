//! Scatter plots of 2-D embeddings as PNG: one colour per label, a legend with the label names,
//! a title. Drawn with plotters into an RGB buffer and encoded with `image`.
//!
//! Text uses DejaVu Sans Mono, embedded from `src/io/fonts/` (Bitstream Vera licence, see
//! `src/io/fonts/DejaVu-LICENSE.txt`), so plots look the same on every machine.

use crate::Result;
use anyhow::{anyhow, ensure};
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

const FONT: &[u8] = include_bytes!("fonts/DejaVuSansMono.ttf");
const FAMILY: &str = "ddr-sans";
const SIZE: (u32, u32) = (900, 760);

/// Ten well-separated colours (a common categorical palette); more labels cycle through hues.
const PALETTE: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

/// The colour of the k-th label.
pub fn label_colour(k: usize) -> RGBColor {
    if k < PALETTE.len() {
        let (r, g, b) = PALETTE[k];
        RGBColor(r, g, b)
    } else {
        let h = (k as f64 * 0.618_033_988_75).fract();
        let c = HSLColor(h, 0.65, 0.45).to_rgba();
        RGBColor(c.0, c.1, c.2)
    }
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is embedded and known good; a failure here would be a build defect.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

/// Draws `xy` (N x 2 row-major) as a scatter plot into a PNG at `path`. With `labels`, each
/// distinct label gets a colour and a legend entry named by `names` (pairs of label value and
/// name; labels without a name show their number).
pub fn scatter_png(
    path: &Path,
    title: &str,
    xy: &[f32],
    labels: Option<&[i64]>,
    names: &[(i64, String)],
) -> Result<()> {
    ensure!(
        xy.len().is_multiple_of(2) && !xy.is_empty(),
        "scatter plot: expected N x 2 coordinates, got {} values",
        xy.len()
    );
    let n = xy.len() / 2;
    if let Some(l) = labels {
        ensure!(l.len() == n, "scatter plot: {} labels for {n} points", l.len());
    }
    ensure!(xy.iter().all(|v| v.is_finite()), "scatter plot: coordinates must be finite");
    register_font();
    let (lo, hi) = bounds(xy);
    let mut buf = vec![255u8; (SIZE.0 * SIZE.1 * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, SIZE).into_drawing_area();
        draw(&root, title, xy, labels, names, lo, hi)
            .map_err(|e| anyhow!("scatter plot: drawing failed: {e}"))?;
        root.present().map_err(|e| anyhow!("scatter plot: drawing failed: {e}"))?;
    }
    let img = image::RgbImage::from_raw(SIZE.0, SIZE.1, buf)
        .ok_or_else(|| anyhow!("scatter plot: bad buffer size"))?;
    super::write_png(path, &img)
}

/// The data range with a 5% margin on each side (a unit box around a single point).
fn bounds(xy: &[f32]) -> ([f64; 2], [f64; 2]) {
    let mut lo = [f64::MAX; 2];
    let mut hi = [f64::MIN; 2];
    for p in xy.chunks(2) {
        for c in 0..2 {
            lo[c] = lo[c].min(p[c] as f64);
            hi[c] = hi[c].max(p[c] as f64);
        }
    }
    for c in 0..2 {
        let pad = ((hi[c] - lo[c]) * 0.05).max(1e-12 * hi[c].abs()).max(1e-30);
        lo[c] -= pad;
        hi[c] += pad;
    }
    (lo, hi)
}

/// A tick label: at most 3 decimals, trailing zeros dropped ("-40", "2.5", "0.125").
fn tick(v: &f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

fn draw(
    root: &DrawingArea<BitMapBackend, plotters::coord::Shift>,
    title: &str,
    xy: &[f32],
    labels: Option<&[i64]>,
    names: &[(i64, String)],
    lo: [f64; 2],
    hi: [f64; 2],
) -> DrawResult {
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FAMILY, 24))
        .margin(16)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(lo[0]..hi[0], lo[1]..hi[1])?;
    chart
        .configure_mesh()
        .light_line_style(RGBColor(244, 244, 244))
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .label_style((FAMILY, 14))
        .draw()?;
    let points = |keep: &dyn Fn(usize) -> bool| -> Vec<(f64, f64)> {
        (0..xy.len() / 2).filter(|&i| keep(i)).map(|i| (xy[2 * i] as f64, xy[2 * i + 1] as f64)).collect()
    };
    match labels {
        None => {
            chart.draw_series(
                points(&|_| true).into_iter().map(|p| Circle::new(p, 2, label_colour(0).filled())),
            )?;
        }
        Some(labels) => {
            let (codes, distinct) = crate::labels::encode_labels(labels);
            for (k, value) in distinct.iter().enumerate() {
                let colour = label_colour(k);
                let name = names
                    .iter()
                    .find(|(v, _)| v == value)
                    .map(|(_, s)| s.clone())
                    .unwrap_or_else(|| value.to_string());
                let count = codes.iter().filter(|&&c| c == k).count();
                chart
                    .draw_series(
                        points(&|i| codes[i] == k)
                            .into_iter()
                            .map(move |p| Circle::new(p, 2, colour.filled())),
                    )?
                    .label(format!("{name} ({count})"))
                    .legend(move |(x, y)| Circle::new((x + 6, y), 5, colour.filled()));
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(180, 180, 180))
                .label_font((FAMILY, 15))
                .draw()?;
        }
    }
    Ok(())
}

/// A line chart as PNG: one named series per entry of `series` (x, y points in order), with a
/// legend and axis descriptions. Used for curves such as FAIG's restoration strength.
pub fn lines_png(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<()> {
    ensure!(!series.is_empty() && series.iter().all(|s| !s.1.is_empty()), "line plot: no points");
    ensure!(
        series.iter().flat_map(|s| &s.1).all(|p| p.0.is_finite() && p.1.is_finite()),
        "line plot: NaN or infinite values"
    );
    register_font();
    let flat: Vec<f32> =
        series.iter().flat_map(|s| s.1.iter().flat_map(|p| [p.0 as f32, p.1 as f32])).collect();
    let (lo, hi) = bounds(&flat);
    let mut buf = vec![255u8; (SIZE.0 * SIZE.1 * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, SIZE).into_drawing_area();
        let draw = || -> DrawResult {
            root.fill(&WHITE)?;
            let mut chart = ChartBuilder::on(&root)
                .caption(title, (FAMILY, 24))
                .margin(16)
                .x_label_area_size(44)
                .y_label_area_size(70)
                .build_cartesian_2d(lo[0]..hi[0], lo[1]..hi[1])?;
            chart
                .configure_mesh()
                .x_desc(x_desc)
                .y_desc(y_desc)
                .x_label_formatter(&tick)
                .y_label_formatter(&tick)
                .label_style((FAMILY, 14))
                .draw()?;
            for (k, (name, pts)) in series.iter().enumerate() {
                let c = label_colour(k);
                chart
                    .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?
                    .label(name.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2)));
                chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.filled())))?;
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font((FAMILY, 15))
                .draw()?;
            root.present()?;
            Ok(())
        };
        draw().map_err(|e| anyhow!("line plot: drawing failed: {e}"))?;
    }
    let img = image::RgbImage::from_raw(SIZE.0, SIZE.1, buf)
        .ok_or_else(|| anyhow!("line plot: bad buffer size"))?;
    super::write_png(path, &img)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_png_of_the_right_size_with_colours() {
        let dir = std::env::temp_dir().join(format!("ddr-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.png");
        let xy: Vec<f32> = (0..60).map(|t| (t as f32 * 0.37).sin() * 10.0).collect();
        let labels: Vec<i64> = (0..30).map(|i| i % 3).collect();
        scatter_png(&path, "test", &xy, Some(&labels), &[(0, "clean".into())]).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), SIZE);
        // The first two palette colours appear (points and legend markers).
        for k in 0..2 {
            let c = label_colour(k);
            assert!(img.pixels().any(|p| p.0 == [c.0, c.1, c.2]));
        }
        assert!(scatter_png(&path, "t", &xy, Some(&labels[..3]), &[]).is_err());
        assert!(scatter_png(&path, "t", &[f32::NAN, 0.0], None, &[]).is_err());
        // A single point does not divide by a zero range.
        scatter_png(&path, "one", &[1.0, 1.0], None, &[]).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
