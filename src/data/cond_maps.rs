//! Condition maps the user supplies beside images: SFT-GAN's segmentation probability maps, or
//! any other per-pixel prior. One image's maps are either
//!
//! - `<name>.npy`: a float32 or float64 array `[maps, height, width]`, or
//! - `<name>/`: a folder of grey PNGs, one map each, taken in file-name order (`0.png`,
//!   `1.png`, ... or `sky.png`, `water.png`, ...), each pixel's level / 255 as its value.
//!
//! `<name>` is the image's file stem. Packs store maps at 8 bits (`data pack --maps`): values
//! are clipped to [0, 1] and rounded to 1/255, which is what a PNG map holds anyway.

use super::image_io::is_photo;
use super::Image;
use crate::io::npy::{self, NpyData};
use crate::Result;
use anyhow::{bail, ensure, Context};
use std::path::{Path, PathBuf};

/// Most maps one image may carry (a pack stores them as the channels of one entry).
pub const MAX_MAPS: usize = 64;

fn read_npy(path: &Path) -> Result<Image> {
    let a = npy::read(path)?;
    let &[c, h, w] = &a.shape[..] else {
        bail!(
            "{}: condition maps must be a 3-D array (maps x height x width), not of shape {:?}",
            path.display(),
            a.shape
        )
    };
    let data: Vec<f32> = match a.data {
        NpyData::F32(v) => v,
        NpyData::F64(v) => v.into_iter().map(|x| x as f32).collect(),
        other => {
            bail!("{}: condition maps must be float32 or float64, not {}", path.display(), other.descr())
        }
    };
    ensure!(
        data.iter().all(|v| v.is_finite()),
        "{}: the condition maps hold NaN or infinite values",
        path.display()
    );
    Image::new(c, h, w, data).with_context(|| path.display().to_string())
}

fn read_png_folder(dir: &Path) -> Result<Image> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("cannot list {}", dir.display()))?;
    files.retain(|p| p.is_file() && is_photo(p));
    files.sort();
    ensure!(!files.is_empty(), "{}: no PNG maps in the folder", dir.display());
    let (mut h, mut w, mut data) = (0, 0, Vec::new());
    for (k, f) in files.iter().enumerate() {
        let img =
            image::open(f).with_context(|| format!("cannot read the map {}", f.display()))?.into_luma8();
        let (fw, fh) = (img.width() as usize, img.height() as usize);
        if k == 0 {
            (h, w) = (fh, fw);
        }
        ensure!(
            (fh, fw) == (h, w),
            "{}: the maps differ in size ({} is {fw}x{fh}, {} is {w}x{h})",
            dir.display(),
            f.display(),
            files[0].display()
        );
        data.extend(img.as_raw().iter().map(|&v| v as f32 / 255.0));
    }
    Image::new(files.len(), h, w, data)
}

/// One image's maps from a `.npy` file or a folder of PNG maps.
pub fn read(path: &Path) -> Result<Image> {
    let maps = if path.is_dir() { read_png_folder(path)? } else { read_npy(path)? };
    ensure!(
        (1..=MAX_MAPS).contains(&maps.c),
        "{}: {} condition maps; 1 to {MAX_MAPS} are supported",
        path.display(),
        maps.c
    );
    Ok(maps)
}

/// Where the maps of the image whose file stem is `stem` are in folder `dir`: `<stem>.npy` or
/// the folder `<stem>/`.
pub fn find(dir: &Path, stem: &str) -> Result<PathBuf> {
    let (npy, folder) = (dir.join(format!("{stem}.npy")), dir.join(stem));
    match (npy.is_file(), folder.is_dir()) {
        (true, false) => Ok(npy),
        (false, true) => Ok(folder),
        (true, true) => {
            bail!("both {} and {} hold maps for `{stem}`: keep one", npy.display(), folder.display())
        }
        (false, false) => bail!(
            "no condition maps for `{stem}`: neither {} nor a folder {} of PNG maps exists",
            npy.display(),
            folder.display()
        ),
    }
}

/// The maps of an image of `h x w` pixels, checked to cover it pixel for pixel.
pub fn read_for(dir: &Path, stem: &str, h: usize, w: usize) -> Result<Image> {
    let path = find(dir, stem)?;
    let maps = read(&path)?;
    ensure!(
        (maps.h, maps.w) == (h, w),
        "{}: the maps are {}x{} (height x width), the image `{stem}` {h}x{w}",
        path.display(),
        maps.h,
        maps.w
    );
    Ok(maps)
}

/// Maps as a pack stores them: HWC bytes, values clipped to [0, 1] and rounded to 1/255.
pub fn to_hwc_bytes(maps: &Image) -> Vec<u8> {
    let (c, n) = (maps.c, maps.h * maps.w);
    let mut out = vec![0u8; c * n];
    for (k, plane) in maps.data.chunks_exact(n).enumerate() {
        for (p, &v) in plane.iter().enumerate() {
            out[p * c + k] = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ddr_cond_maps_{name}_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_png_folder_reads_as_maps_in_file_name_order() {
        let d = tmp("png");
        let sky = d.join("a");
        std::fs::create_dir_all(&sky).unwrap();
        image::GrayImage::from_fn(3, 2, |x, _| image::Luma([x as u8 * 100]))
            .save(sky.join("1_water.png"))
            .unwrap();
        image::GrayImage::from_pixel(3, 2, image::Luma([255])).save(sky.join("0_sky.png")).unwrap();
        let m = read_for(&d, "a", 2, 3).unwrap();
        assert_eq!((m.c, m.h, m.w), (2, 2, 3));
        assert_eq!(&m.data[..6], &[1.0; 6]);
        assert_eq!(&m.data[6..9], &[0.0, 100.0 / 255.0, 200.0 / 255.0]);
        let e = read_for(&d, "a", 3, 3).unwrap_err();
        assert!(format!("{e:#}").contains("2x3"), "{e:#}");
        let e = read_for(&d, "b", 2, 3).unwrap_err();
        assert!(format!("{e:#}").contains("no condition maps for `b`"), "{e:#}");
    }

    #[test]
    fn pack_bytes_are_clipped_rounded_and_interleaved() {
        let m = Image::new(2, 1, 2, vec![0.5, 1.5, -1.0, 0.2]).unwrap();
        assert_eq!(to_hwc_bytes(&m), vec![128, 0, 255, 51]);
    }
}
