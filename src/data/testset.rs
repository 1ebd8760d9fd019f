//! Test images as every evaluation in the engine makes them: photos from a folder or the built-in
//! ones, crops of them, and degraded copies rounded to 8 bits (what a saved LR image holds).

use super::degrade::{apply_all, Applied, Pipeline};
use super::{image_io, photos, Image};
use crate::{Result, Rng};
use anyhow::ensure;
use image::RgbImage;
use std::path::PathBuf;

/// The PNG and JPEG photos of a folder (sorted by name), or the built-in ones for "builtin".
pub fn load_photos(spec: &str) -> Result<Vec<RgbImage>> {
    Ok(load_named_photos(spec)?.into_iter().map(|(_, p)| p).collect())
}

/// [`load_photos`] with each photo's file stem (where its condition maps are found).
pub fn load_named_photos(spec: &str) -> Result<Vec<(String, RgbImage)>> {
    let stem = |name: &str| name.rsplit_once('.').map_or(name, |(s, _)| s).to_owned();
    if spec == "builtin" {
        return Ok(photos::builtin()?.into_iter().map(|(n, p)| (stem(n), p)).collect());
    }
    let (paths, _) = image_io::list_photos(&[PathBuf::from(spec)])?;
    ensure!(!paths.is_empty(), "no PNG or JPEG photos in {spec}");
    paths
        .iter()
        .map(|p| Ok((p.file_stem().unwrap_or_default().to_string_lossy().into_owned(), image_io::load(p)?)))
        .collect()
}

/// Indices of the photos at least `side` x `side`, in order; an error when there is none.
pub fn photos_at_least(photos: &[RgbImage], side: usize) -> Result<Vec<usize>> {
    let usable: Vec<usize> = (0..photos.len())
        .filter(|&i| photos[i].width() as usize >= side && photos[i].height() as usize >= side)
        .collect();
    ensure!(!usable.is_empty(), "every photo is smaller than the {side}x{side} HR crop");
    Ok(usable)
}

/// A `side` x `side` crop of `photo` at a position drawn from `rng` (row first): (y, x, crop).
pub fn random_crop(photo: &RgbImage, side: usize, rng: &mut Rng) -> Result<(usize, usize, Image)> {
    let y = rng.below((photo.height() as usize - side + 1) as u64) as usize;
    let x = rng.below((photo.width() as usize - side + 1) as u64) as usize;
    Ok((y, x, Image::from_rgb8(photo).crop(y, x, side, side)?))
}

/// `img` degraded by `pipeline` (its random parameters drawn from `rng`, then its noise) and
/// rounded to 8 bits; also returns what was drawn.
pub fn degrade_rounded(
    img: &Image,
    pipeline: &Pipeline,
    rng: &mut Rng,
) -> Result<(Image, Vec<Option<Applied>>)> {
    let steps = pipeline.sample(rng);
    let mut out = apply_all(img, &steps, rng)?;
    out.quantize();
    Ok((out, steps))
}
