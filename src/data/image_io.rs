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
    let img = image::load_from_memory_with_format(bytes, format)
        .with_context(|| format!("{what}: cannot decode the {format:?} data"))?;
    if img.width() == 0 || img.height() == 0 {
        bail!("{what}: the image is empty");
    }
    Ok(img.to_rgb8())
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
    let bytes = encode_png(img)?;
    crate::io::write_atomic(path, |w| {
        use std::io::Write;
        w.write_all(&bytes).with_context(|| format!("cannot write {}", path.display()))
    })
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

    #[test]
    fn extensions_are_case_insensitive() {
        assert!(is_photo(Path::new("a/B.JPG")));
        assert!(is_photo(Path::new("c.png")));
        assert!(!is_photo(Path::new("README.md")));
    }
}
