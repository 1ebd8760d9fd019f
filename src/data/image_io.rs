//! Reading photos (PNG, JPEG) as 8-bit RGB and writing PNG.
//!
//! Every image becomes 8-bit RGB: grey is repeated into three channels, alpha is dropped, 16-bit
//! samples are scaled to 8 bits. SR networks here are RGB-in, RGB-out, and one pixel format keeps
//! packs and crops simple.

use crate::Result;
use anyhow::{bail, Context};
use image::{ImageFormat, RgbImage};
use std::path::{Path, PathBuf};

/// File extensions read as photos (compared case-insensitively).
pub const EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// True when `path` has one of [`EXTENSIONS`].
pub fn is_photo(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// Decodes PNG or JPEG bytes (the format is read from the bytes, not the name); `what` names the
/// source in errors.
pub fn decode(bytes: &[u8], what: &str) -> Result<RgbImage> {
    let format =
        image::guess_format(bytes).ok().filter(|f| matches!(f, ImageFormat::Png | ImageFormat::Jpeg));
    let Some(format) = format else {
        bail!("{what}: not a PNG or JPEG file");
    };
    if format == ImageFormat::Jpeg {
        return decode_jpeg(bytes).with_context(|| format!("{what}: cannot decode the JPEG data"));
    }
    let img = image::load_from_memory_with_format(bytes, format)
        .with_context(|| format!("{what}: cannot decode the {format:?} data"))?;
    if img.width() == 0 || img.height() == 0 {
        bail!("{what}: the image is empty");
    }
    Ok(img.to_rgb8())
}

/// A JPEG as 8-bit RGB, refusing damaged data (a truncated file, a marker inside the entropy
/// coded data) instead of filling what is missing with grey.
fn decode_jpeg(bytes: &[u8]) -> Result<RgbImage> {
    use zune_core::{colorspace::ColorSpace, options::DecoderOptions};
    let options = DecoderOptions::default().set_strict_mode(true).jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(std::io::Cursor::new(bytes), options);
    let pixels = decoder.decode().map_err(|e| anyhow::anyhow!("{e:?} (the file is damaged or truncated)"))?;
    let (w, h) = decoder.dimensions().context("no image size after decoding")?;
    if w == 0 || h == 0 {
        bail!("the image is empty");
    }
    let colours = decoder.output_colorspace().map(|c| c.num_components());
    if colours != Some(3) {
        bail!("{colours:?} channels after conversion to RGB");
    }
    RgbImage::from_raw(w as u32, h as u32, pixels).context("fewer pixels than the image size")
}

/// Reads a PNG or JPEG file as 8-bit RGB.
pub fn load(path: &Path) -> Result<RgbImage> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    decode(&bytes, &path.display().to_string())
}

/// Encodes 8-bit RGB as PNG.
pub fn encode_png(img: &RgbImage) -> Result<Vec<u8>> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png).context("cannot encode PNG")?;
    Ok(out.into_inner())
}

/// Writes 8-bit RGB as a PNG file, atomically (an existing file is replaced only by a complete
/// new one).
pub fn save_png(path: &Path, img: &RgbImage) -> Result<()> {
    crate::io::write_png(path, img)
}

/// The photos in `inputs` (files taken as given, folders listed one level deep, sorted by name
/// so that indices are stable), and the number of folder entries skipped for not being photos.
pub fn list_photos(inputs: &[PathBuf]) -> Result<(Vec<PathBuf>, usize)> {
    let mut files = Vec::new();
    let mut ignored = 0;
    for input in inputs {
        let meta = std::fs::metadata(input).with_context(|| format!("cannot read {}", input.display()))?;
        if meta.is_dir() {
            let mut here = Vec::new();
            let entries =
                std::fs::read_dir(input).with_context(|| format!("cannot list {}", input.display()))?;
            for entry in entries {
                let path = entry.with_context(|| format!("cannot list {}", input.display()))?.path();
                if path.is_file() && is_photo(&path) {
                    here.push(path);
                } else {
                    ignored += 1;
                }
            }
            here.sort();
            files.extend(here);
        } else {
            files.push(input.clone());
        }
    }
    Ok((files, ignored))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grey_png_becomes_rgb_and_round_trips() {
        let grey = image::GrayImage::from_fn(5, 3, |x, y| image::Luma([(x * 40 + y) as u8]));
        let mut bytes = std::io::Cursor::new(Vec::new());
        grey.write_to(&mut bytes, ImageFormat::Png).unwrap();
        let rgb = decode(bytes.get_ref(), "grey.png").unwrap();
        assert_eq!(rgb.dimensions(), (5, 3));
        assert_eq!(rgb.get_pixel(2, 1).0, [81, 81, 81]);
        let again = decode(&encode_png(&rgb).unwrap(), "again").unwrap();
        assert_eq!(again, rgb);
    }

    #[test]
    fn garbage_is_an_error_naming_the_source() {
        let e = decode(b"not an image at all", "bad.png").unwrap_err();
        assert!(format!("{e:#}").contains("bad.png"), "{e:#}");
        let mut png = encode_png(&RgbImage::new(4, 4)).unwrap();
        png.truncate(png.len() / 2);
        let e = decode(&png, "cut.png").unwrap_err();
        assert!(format!("{e:#}").contains("cut.png"), "{e:#}");
    }

    fn jpeg(img: &image::DynamicImage) -> Vec<u8> {
        let mut bytes = std::io::Cursor::new(Vec::new());
        img.write_to(&mut bytes, ImageFormat::Jpeg).unwrap();
        bytes.into_inner()
    }

    #[test]
    fn jpegs_decode_as_rgb_and_truncated_ones_are_refused() {
        let rgb = RgbImage::from_fn(48, 40, |x, y| image::Rgb([(x * 5) as u8, (y * 6) as u8, 90]));
        let bytes = jpeg(&rgb.clone().into());
        let back = decode(&bytes, "ok.jpg").unwrap();
        assert_eq!(back.dimensions(), (48, 40));
        let err: i32 =
            back.pixels().zip(rgb.pixels()).map(|(a, b)| (a[0] as i32 - b[0] as i32).abs()).max().unwrap();
        assert!(err < 12, "JPEG round trip off by {err}");
        let grey = image::GrayImage::from_fn(16, 16, |x, _| image::Luma([(x * 15) as u8]));
        let g = decode(&jpeg(&grey.into()), "grey.jpg").unwrap();
        assert!(g.pixels().all(|p| p[0] == p[1] && p[1] == p[2]));
        // Cut inside the entropy-coded data: the lenient decoder would fill the rest with grey.
        let e = decode(&bytes[..bytes.len() * 3 / 4], "cut.jpg").unwrap_err();
        assert!(format!("{e:#}").contains("cut.jpg") && format!("{e:#}").contains("truncated"), "{e:#}");
    }

    #[test]
    fn extensions_are_case_insensitive() {
        assert!(is_photo(Path::new("a/B.JPG")));
        assert!(is_photo(Path::new("c.png")));
        assert!(!is_photo(Path::new("README.md")));
    }
}
