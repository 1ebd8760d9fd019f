//! A degraded test set on disk: every image of a folder or pack through a degradation pipeline,
//! one PNG each plus `manifest.json` with the parameters drawn for each image.

use super::degrade::{apply_all, Pipeline};
use super::image_io::{self, list_photos};
use super::pack::Pack;
use super::Image;
use crate::io::{write_atomic, StagedDir};
use crate::{Result, Rng};
use anyhow::{bail, ensure, Context};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What to degrade, how, and where to.
pub struct DegradeSet {
    /// A folder of photos, an image file, or a pack.
    pub input: PathBuf,
    /// Folder for the LR images and `manifest.json` (created if missing).
    pub output: PathBuf,
    pub pipeline: Pipeline,
    pub seed: u64,
    /// Crop each HR image down to a multiple of this first.
    pub mod_crop: Option<usize>,
    /// Also write the (mod-cropped) HR images here.
    pub hr: Option<PathBuf>,
}

/// Stream key for degraded sets, so their draws never coincide with the loader's.
const DEGRADE_STREAM: u64 = 0x4445_4752; // "DEGR"

/// Reads one input image when called.
pub type LoadImage = Box<dyn Fn() -> Result<Image> + Send + Sync>;

/// The images of `input` as (name, loader) pairs, in a fixed order so that image i is always the
/// same one.
pub fn list_images(input: &Path) -> Result<Vec<(String, LoadImage)>> {
    let mut images: Vec<(String, LoadImage)> = Vec::new();
    if Pack::is_pack(input) {
        let pack = Arc::new(Pack::open(input)?);
        for (i, e) in pack.entries().iter().enumerate() {
            let pack = pack.clone();
            let (h, w) = (e.h, e.w);
            images.push((e.name.clone(), Box::new(move || pack.window(i, 0, 0, h, w))));
        }
    } else {
        let (files, _) = list_photos(std::slice::from_ref(&input.to_owned()))?;
        for f in files {
            let name = f.file_stem().unwrap_or_default().to_string_lossy().into_owned();
            images.push((name, Box::new(move || Ok(Image::from_rgb8(&image_io::load(&f)?)))));
        }
    }
    ensure!(!images.is_empty(), "{}: no images", input.display());
    let mut names: Vec<&str> = images.iter().map(|(n, _)| n.as_str()).collect();
    names.sort();
    if let Some(d) = names.windows(2).find(|w| w[0] == w[1]) {
        bail!("{}: two images are named `{}`; their outputs would collide", input.display(), d[0]);
    }
    Ok(images)
}

impl DegradeSet {
    /// Degrades every image of `images` (from [`list_images`]), calling `on_image` after each.
    /// Deterministic for (seed, pipeline): image i draws from its own stream. Files move into the
    /// output folders only when every image succeeded; a failed run leaves an existing set as it
    /// was. Returns the manifest's path.
    pub fn write(&self, images: &[(String, LoadImage)], on_image: &(dyn Fn() + Sync)) -> Result<PathBuf> {
        ensure!(!self.pipeline.steps.is_empty(), "--pipeline has no steps");
        let input = std::fs::canonicalize(&self.input).ok();
        let mut stages = Vec::new();
        for dir in std::iter::once(&self.output).chain(&self.hr) {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            ensure!(
                std::fs::canonicalize(dir).ok() != input,
                "{} is the input folder: the outputs would replace the photos",
                dir.display()
            );
            stages.push(StagedDir::new(dir)?);
        }
        let key = self.pipeline.hash();
        let records: Vec<serde_json::Value> = images
            .par_iter()
            .enumerate()
            .map(|(i, (name, load))| {
                let record = self.one(i, name, load()?, key, &stages)?;
                on_image();
                Ok(record)
            })
            .collect::<Result<_>>()?;
        let manifest = serde_json::json!({
            "ddr_engine": env!("CARGO_PKG_VERSION"),
            "input": self.input.display().to_string(),
            "pipeline": self.pipeline.to_string(),
            "seed": self.seed,
            "mod_crop": self.mod_crop,
            "rounding": "clip to [0, 1], x255, round half to even",
            "images": records,
        });
        write_atomic(&stages[0].path().join("manifest.json"), |w| {
            serde_json::to_writer_pretty(&mut *w, &manifest)?;
            Ok(())
        })?;
        // HR first, the LR folder (whose manifest moves last) at the very end.
        for stage in stages.into_iter().rev() {
            stage.commit()?;
        }
        Ok(self.output.join("manifest.json"))
    }

    /// Degrades image `i` into the staged folders and returns its manifest record.
    /// `key`: the pipeline's hash, part of every image's stream key.
    fn one(
        &self,
        i: usize,
        name: &str,
        mut hr: Image,
        key: u64,
        stages: &[StagedDir],
    ) -> Result<serde_json::Value> {
        if let Some(n) = self.mod_crop.filter(|&n| n > 1) {
            ensure!(hr.h >= n && hr.w >= n, "{name}: smaller than --mod-crop {n}");
            hr = hr.crop(0, 0, hr.h / n * n, hr.w / n * n)?;
        }
        let mut rng = Rng::derive(self.seed, &[DEGRADE_STREAM, key, i as u64]);
        let drawn = self.pipeline.sample(&mut rng);
        let lr = apply_all(&hr, &drawn, &mut rng).with_context(|| name.to_owned())?;
        let file = format!("{name}.png");
        image_io::save_png(&stages[0].path().join(&file), &lr.to_rgb8()?)?;
        if let Some(hr_stage) = stages.get(1) {
            image_io::save_png(&hr_stage.path().join(&file), &hr.to_rgb8()?)?;
        }
        let steps: Vec<serde_json::Value> = self
            .pipeline
            .steps
            .iter()
            .zip(&drawn)
            .map(|(step, drawn)| match drawn {
                Some(d) => serde_json::to_value(d).expect("plain data"),
                None => serde_json::json!({"op": step.op.to_string(), "skipped": true}),
            })
            .collect();
        Ok(serde_json::json!({
            "index": i, "name": name, "file": file,
            "hr_size": [hr.h, hr.w], "lr_size": [lr.h, lr.w], "steps": steps,
        }))
    }
}
