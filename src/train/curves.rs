//! The run's learning curves as a picture (`curves.png` in the run folder), redrawn after every
//! validation from metrics.jsonl, so a researcher can watch a run without a plotting script.

use crate::Result;
use std::path::Path;

/// Draws validation PSNR-Y (EMA and raw weights) against the bicubic baseline, by iteration.
/// Does nothing when the log holds fewer than one validation.
pub fn write_curves(metrics: &Path, png: &Path) -> Result<()> {
    let text = std::fs::read_to_string(metrics)?;
    let mut series: Vec<(String, Vec<(f64, f64)>)> =
        ["validation PSNR-Y (EMA weights)", "validation PSNR-Y (raw weights)", "bicubic PSNR-Y"]
            .iter()
            .map(|s| (s.to_string(), Vec::new()))
            .collect();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let Some(step) = v["step"].as_f64() else { continue };
        for (k, key) in ["val_psnr_y", "val_psnr_y_raw", "bicubic_psnr_y"].iter().enumerate() {
            if let Some(y) = v[key].as_f64() {
                series[k].1.push((step, y));
            }
        }
    }
    series.retain(|s| !s.1.is_empty());
    if series.is_empty() {
        return Ok(());
    }
    crate::io::plot::lines_png(png, "Validation on held-out photos", "iteration", "PSNR-Y (dB)", &series)
}
