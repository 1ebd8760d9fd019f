//! What every `reproduce` study shares: its data (the user's pack and held-out photos, or the
//! demo's split of the built-in photos), and training a network into OUT/runs unless a finished
//! run with the same configuration is already there.

use super::plan::Scale;
use crate::data::pack::PackWriter;
use crate::data::photos;
use crate::Result;
use anyhow::{bail, ensure, Context};
use std::path::{Path, PathBuf};

/// The built-in photos the demo trains on; it validates and tests on the others.
const DEMO_TRAIN: [&str; 3] = ["astronaut.png", "rocket.jpg", "hubble_deep_field.jpg"];

/// The demo's data: a pack of three built-in photos and a folder with the other two.
fn demo_data(out: &Path) -> Result<(PathBuf, String)> {
    let dir = out.join("data");
    let heldout = dir.join("heldout");
    std::fs::create_dir_all(&heldout).with_context(|| format!("cannot create {}", heldout.display()))?;
    let pack = dir.join("train.pack");
    let mut w = PackWriter::create(&pack)?;
    for (name, img) in photos::builtin()? {
        if DEMO_TRAIN.contains(&name) {
            w.add_rgb(name, &img)?;
        } else {
            let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
            crate::data::image_io::save_png(&heldout.join(format!("{stem}.png")), &img)?;
        }
    }
    w.finish()?;
    Ok((pack, heldout.display().to_string()))
}

/// The training pack and the held-out photos: the user's, or the demo's split of the built-in
/// ones (demo and smoke scales only).
pub fn data_sources(
    scale: Scale,
    out: &Path,
    train: Option<&Path>,
    photos: Option<&str>,
) -> Result<(PathBuf, String)> {
    match (train, scale) {
        (Some(p), _) => {
            ensure!(p.exists(), "--train {}: no such pack", p.display());
            Ok((p.to_owned(), photos.unwrap_or("builtin").to_owned()))
        }
        (None, Scale::Demo | Scale::Smoke) => {
            ensure!(photos.is_none(), "--photos needs --train: the demo trains and tests on the built-in photos");
            demo_data(out)
        }
        (None, s) => bail!(
            "--scale {s:?} trains on a pack of HR photos: scripts/fetch-photos.sh DIR, then \
             `ddr-engine data pack DIR/wallpapers --downscale 2 -o photos.pack`, then pass --train photos.pack"
        ),
    }
}

/// The final validation (PSNR-Y, bicubic) from a run's metrics.jsonl.
pub fn final_validation(run: &Path) -> Option<(f64, f64)> {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap_or_default();
    let mut val = None;
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if let (Some(p), Some(b)) =
            (v.get("val_psnr_y").and_then(|x| x.as_f64()), v.get("bicubic_psnr_y").and_then(|x| x.as_f64()))
        {
            val = Some((p, b));
        }
    }
    val
}
