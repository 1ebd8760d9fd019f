//! Public-domain and CC0 photographs built into the binary (see `photos/LICENSES.md`), so demos,
//! tests and benchmarks need no download.

use super::image_io::decode;
use crate::Result;
use anyhow::Context;
use image::RgbImage;
use std::path::Path;

/// (file name, original bytes) of each built-in photograph.
pub const FILES: [(&str, &[u8]); 5] = [
    ("astronaut.png", include_bytes!("photos/astronaut.png")),
    ("chelsea.png", include_bytes!("photos/chelsea.png")),
    ("coffee.png", include_bytes!("photos/coffee.png")),
    ("rocket.jpg", include_bytes!("photos/rocket.jpg")),
    ("hubble_deep_field.jpg", include_bytes!("photos/hubble_deep_field.jpg")),
];

/// Where each photograph comes from and under which terms.
pub const LICENSES: &str = include_str!("photos/LICENSES.md");

/// The built-in photographs, decoded: (file name, RGB image).
pub fn builtin() -> Result<Vec<(&'static str, RgbImage)>> {
    FILES.iter().map(|&(name, bytes)| Ok((name, decode(bytes, name)?))).collect()
}

/// Writes the photographs (their original bytes) and `LICENSES.md` into `dir`, creating it.
/// Returns the paths written.
pub fn export(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let licenses = [("LICENSES.md", LICENSES.as_bytes())];
    let mut written = Vec::new();
    for &(name, bytes) in FILES.iter().chain(&licenses) {
        let path = dir.join(name);
        crate::io::write_atomic(&path, |w| {
            use std::io::Write;
            w.write_all(bytes).with_context(|| format!("cannot write {}", path.display()))
        })?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_photos_decode_to_their_documented_sizes() {
        let sizes: Vec<_> = builtin().unwrap().iter().map(|(n, img)| (*n, img.dimensions())).collect();
        assert_eq!(
            sizes,
            [
                ("astronaut.png", (512, 512)),
                ("chelsea.png", (451, 300)),
                ("coffee.png", (600, 400)),
                ("rocket.jpg", (640, 427)),
                ("hubble_deep_field.jpg", (1000, 872)),
            ]
        );
        for (name, ..) in FILES {
            assert!(LICENSES.contains(name), "{name} is missing from LICENSES.md");
        }
    }
}
