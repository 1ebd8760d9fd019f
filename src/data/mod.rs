//! Photos in, training batches and degraded test sets out.
//!
//! - [`image_io`]: PNG/JPEG to 8-bit RGB (grey becomes RGB), PNG out;
//! - [`imresize`]: MATLAB-compatible bicubic resizing;
//! - [`degrade`]: Gaussian blur, Gaussian noise, JPEG, bilinear and bicubic resizing, and the
//!   [`degrade::Pipeline`] that chains them from a spec string;
//! - [`degrade_map`]: blur and noise whose strengths vary across the frame, with their per-pixel
//!   maps (the conditions of an SFT network);
//! - [`pack`]: many images in one memory-mapped, checksummed file, and [`pack_photos`]: photos
//!   into one;
//! - [`degrade_set`]: a degraded test set on disk (PNGs plus a manifest of the drawn parameters);
//! - [`loader`]: random paired crops with augmentation and on-the-fly degradations, as tensors,
//!   deterministic for (seed, step), and [`loader_bench`]: its speed;
//! - [`prepare`]: shrinking, mod-cropping and cutting photos into sub-images for a pack;
//! - [`photos`]: public-domain / CC0 photographs built into the binary;
//! - [`testset`]: random HR crops of photos, degraded and rounded to 8 bits, in memory.
//!
//! Inside the engine an image is [`Image`]: f32 samples in [0, 1], channel-major (CHW), so a crop
//! drops straight into an NCHW tensor. On disk and in packs images are 8-bit RGB, rows of
//! interleaved pixels (HWC), as image files store them.

pub mod cond_maps;
pub mod degrade;
pub mod degrade_map;
pub mod degrade_set;
pub mod image_io;
pub mod imresize;
pub mod loader;
pub mod loader_bench;
pub mod pack;
pub mod pack_photos;
pub mod photos;
pub mod prepare;
pub mod testset;

use crate::Result;
use anyhow::{ensure, Context};
use image::RgbImage;

/// An image as the engine computes with it: `c` planes of `h x w` f32 samples, nominally in
/// [0, 1] (degradations may leave values outside until [`Image::to_rgb8`] clips them).
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub data: Vec<f32>,
}

impl Image {
    pub fn new(c: usize, h: usize, w: usize, data: Vec<f32>) -> Result<Image> {
        ensure!(data.len() == c * h * w, "{} samples do not make a {c}x{h}x{w} image", data.len());
        Ok(Image { c, h, w, data })
    }

    /// Interleaved 8-bit pixels (`h` rows of `w` pixels of `c` bytes) to planes in [0, 1].
    pub fn from_hwc_u8(c: usize, h: usize, w: usize, px: &[u8]) -> Image {
        assert_eq!(px.len(), c * h * w, "pixel buffer does not match its shape");
        let mut data = vec![0.0f32; c * h * w];
        for (ch, plane) in data.chunks_exact_mut(h * w).enumerate() {
            for (d, s) in plane.iter_mut().zip(px[ch..].iter().step_by(c)) {
                *d = *s as f32 / 255.0;
            }
        }
        Image { c, h, w, data }
    }

    pub fn from_rgb8(img: &RgbImage) -> Image {
        let (w, h) = img.dimensions();
        Image::from_hwc_u8(3, h as usize, w as usize, img.as_raw())
    }

    /// Interleaved 8-bit pixels: each sample times 255, rounded half to even (as numpy's
    /// `round`, which the reference Python pipelines use) and clipped to 0..=255.
    pub fn to_hwc_u8(&self) -> Vec<u8> {
        let (c, n) = (self.c, self.h * self.w);
        let mut px = vec![0u8; c * n];
        for (ch, plane) in self.data.chunks_exact(n).enumerate() {
            for (d, &s) in px[ch..].iter_mut().step_by(c).zip(plane) {
                *d = quantize(s);
            }
        }
        px
    }

    /// 8-bit RGB (a one-channel image is repeated into all three).
    pub fn to_rgb8(&self) -> Result<RgbImage> {
        let rgb = match self.c {
            3 => self.to_hwc_u8(),
            1 => self.to_hwc_u8().iter().flat_map(|&v| [v, v, v]).collect(),
            c => anyhow::bail!("cannot store a {c}-channel image as RGB"),
        };
        RgbImage::from_raw(self.w as u32, self.h as u32, rgb)
            .context("image dimensions overflow the RGB buffer")
    }

    /// Snaps every sample to the nearest 8-bit level (what saving and reloading would do).
    pub fn quantize(&mut self) {
        for v in &mut self.data {
            *v = quantize(*v) as f32 / 255.0;
        }
    }

    /// The `h x w` window whose top-left corner is (`y`, `x`).
    pub fn crop(&self, y: usize, x: usize, h: usize, w: usize) -> Result<Image> {
        ensure!(
            y + h <= self.h && x + w <= self.w,
            "crop {h}x{w} at ({y}, {x}) leaves the {}x{} image",
            self.h,
            self.w
        );
        let mut data = Vec::with_capacity(self.c * h * w);
        for plane in self.data.chunks_exact(self.h * self.w) {
            for row in plane.chunks_exact(self.w).skip(y).take(h) {
                data.extend_from_slice(&row[x..x + w]);
            }
        }
        Ok(Image { c: self.c, h, w, data })
    }
}

/// One sample in [0, 1] to an 8-bit level: x255, round half to even, clip.
pub fn quantize(v: f32) -> u8 {
    (v * 255.0).round_ties_even().clamp(0.0, 255.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hwc_round_trip_is_exact() {
        let px: Vec<u8> = (0..2 * 3 * 3).map(|i| (i * 37 % 256) as u8).collect();
        let img = Image::from_hwc_u8(3, 2, 3, &px);
        assert_eq!(img.data[0], px[0] as f32 / 255.0);
        assert_eq!(img.data[6], px[1] as f32 / 255.0);
        assert_eq!(img.to_hwc_u8(), px);
    }

    #[test]
    fn quantize_clips_and_rounds_half_to_even() {
        assert_eq!(quantize(-0.2), 0);
        assert_eq!(quantize(1.7), 255);
        assert_eq!(quantize(0.5 / 255.0), 0);
        assert_eq!(quantize(1.5 / 255.0), 2);
        assert_eq!(quantize(f32::NAN), 0);
    }

    #[test]
    fn crop_takes_the_window() {
        let img = Image::new(1, 3, 4, (0..12).map(|v| v as f32).collect()).unwrap();
        assert_eq!(img.crop(1, 2, 2, 2).unwrap().data, [6.0, 7.0, 10.0, 11.0]);
        assert!(img.crop(2, 0, 2, 1).is_err());
    }
}
