//! Turning decoded photos into pack entries: optional shrink, crop to a multiple, sub-images.

use super::imresize::imresize;
use super::Image;
use crate::Result;
use anyhow::ensure;
use image::RgbImage;

/// How photos are cut before they go into a pack.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Prepare {
    /// Shrink by this factor first (MATLAB bicubic, rounded to 8 bits). Wallpapers saved as JPEG
    /// at quality 75-92 carry block artefacts; halving them washes those out.
    pub downscale: Option<usize>,
    /// Crop height and width down to a multiple of this (keeping the top-left), as SR data sets
    /// do so that the image divides by the scale.
    pub mod_crop: Option<usize>,
    /// Cut into `size x size` sub-images every `step` pixels (BasicSR's DIV2K preparation):
    /// smaller files to crop from, and more even sampling across photos of different sizes.
    pub sub_images: Option<SubImages>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SubImages {
    pub size: usize,
    pub step: usize,
    /// A last, flush-with-the-edge sub-image is added when more than this many pixels would
    /// otherwise be left uncovered at the right or bottom.
    pub thresh: usize,
}

/// Start positions of `size`-long windows every `step` along an axis of `len`, plus one flush
/// with the end when more than `thresh` samples would be left over. Empty when `len < size`.
pub fn window_starts(len: usize, size: usize, step: usize, thresh: usize) -> Vec<usize> {
    if len < size || step == 0 {
        return Vec::new();
    }
    let mut starts: Vec<usize> = (0..=len - size).step_by(step).collect();
    let covered = starts.last().unwrap() + size;
    if len - covered > thresh {
        starts.push(len - size);
    }
    starts
}

/// The top-left part of `img` whose sides are multiples of `n`.
pub fn mod_crop(img: &RgbImage, n: usize) -> RgbImage {
    let n = n.max(1) as u32;
    let (w, h) = img.dimensions();
    image::imageops::crop_imm(img, 0, 0, w / n * n, h / n * n).to_image()
}

impl Prepare {
    pub fn check(&self) -> Result<()> {
        ensure!(
            self.downscale.is_none_or(|n| n >= 1) && self.mod_crop.is_none_or(|n| n >= 1),
            "--downscale and --mod-crop must be at least 1"
        );
        if let Some(s) = self.sub_images {
            ensure!(s.size > 0 && s.step > 0, "sub-image size and step must be positive");
        }
        Ok(())
    }

    /// The entries `img` (named `name`) becomes: itself, or its sub-images named
    /// `<name>_s001`, `<name>_s002`, ... in row-major order. An image smaller than the
    /// sub-image size is kept whole.
    pub fn apply(&self, name: &str, img: RgbImage) -> Result<Vec<(String, RgbImage)>> {
        let mut img = img;
        if let Some(n) = self.downscale.filter(|&n| n > 1) {
            let (w, h) = img.dimensions();
            ensure!(w as usize >= n && h as usize >= n, "{name}: {w}x{h} is too small to shrink by {n}");
            img = imresize(&Image::from_rgb8(&img), 1.0 / n as f64)?.to_rgb8()?;
        }
        if let Some(n) = self.mod_crop {
            img = mod_crop(&img, n);
            ensure!(img.width() > 0 && img.height() > 0, "{name}: smaller than the --mod-crop multiple {n}");
        }
        let Some(s) = self.sub_images else {
            return Ok(vec![(name.to_owned(), img)]);
        };
        let (w, h) = (img.width() as usize, img.height() as usize);
        let (ys, xs) =
            (window_starts(h, s.size, s.step, s.thresh), window_starts(w, s.size, s.step, s.thresh));
        if ys.is_empty() || xs.is_empty() {
            return Ok(vec![(name.to_owned(), img)]);
        }
        let mut out = Vec::with_capacity(ys.len() * xs.len());
        for &y in &ys {
            for &x in &xs {
                let sub = image::imageops::crop_imm(&img, x as u32, y as u32, s.size as u32, s.size as u32)
                    .to_image();
                out.push((format!("{name}_s{:03}", out.len() + 1), sub));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_step_and_cover_the_tail() {
        assert_eq!(window_starts(10, 4, 3, 0), [0, 3, 6]);
        assert_eq!(window_starts(11, 4, 3, 0), [0, 3, 6, 7]);
        assert_eq!(window_starts(11, 4, 3, 1), [0, 3, 6]);
        assert_eq!(window_starts(4, 4, 2, 0), [0]);
        assert!(window_starts(3, 4, 2, 0).is_empty());
    }

    #[test]
    fn apply_shrinks_crops_and_cuts() {
        let img = RgbImage::from_fn(50, 37, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let p = Prepare {
            downscale: None,
            mod_crop: Some(4),
            sub_images: Some(SubImages { size: 16, step: 12, thresh: 0 }),
        };
        let out = p.apply("pic", img.clone()).unwrap();
        // 48x36 after the crop: x starts 0, 12, 24, 32; y starts 0, 12, 20.
        assert_eq!(out.len(), 12);
        assert_eq!(out[0].0, "pic_s001");
        assert_eq!(out[5].1.get_pixel(0, 0).0, [12, 12, 7]);
        assert_eq!(out[11].1.get_pixel(15, 15).0, [47, 35, 7]);

        let half = Prepare { downscale: Some(2), ..Prepare::default() };
        let out = half.apply("pic", img).unwrap();
        assert_eq!(out[0].1.dimensions(), (25, 19));
    }
}
