//! Photos on disk (and, on request, the built-in ones) into one pack: decoded a few at a time in
//! parallel, prepared (shrink, mod-crop, sub-images), written in a fixed order.

use super::cond_maps;
use super::image_io::{self, list_photos};
use super::pack::PackWriter;
use super::photos;
use super::prepare::Prepare;
use super::Image;
use crate::device::cpu;
use crate::io::clobbered;
use crate::Result;
use anyhow::{bail, ensure, Context};
use image::RgbImage;
use rayon::prelude::*;
use std::path::PathBuf;

/// What to pack and how.
pub struct PackPhotos {
    /// Folders of photos (one level deep, sorted by name) and/or image files.
    pub inputs: Vec<PathBuf>,
    pub output: PathBuf,
    /// Also pack the built-in photos, after the files.
    pub builtin: bool,
    pub prepare: Prepare,
    /// Skip unreadable images (each reported through [`PackEvent::Skipped`]) instead of failing.
    pub skip_bad: bool,
    /// Condition maps beside the photos (a folder of `<name>.npy` or `<name>/` PNG maps, see
    /// [`super::cond_maps`]) and the pack to write them to, entry for entry with the photos'.
    pub maps: Option<(PathBuf, PathBuf)>,
}

/// What happened, as it happens (for progress bars and warnings).
pub enum PackEvent<'a> {
    /// The number of photos found, before any is read.
    Found(usize),
    /// One photo was packed.
    Packed,
    /// One photo could not be read and was skipped (only with `skip_bad`); the error names it.
    Skipped { error: &'a anyhow::Error },
}

/// What was written.
pub struct Packed {
    /// Pack entries (sub-images count one each).
    pub entries: usize,
    /// Photos read.
    pub photos: usize,
    pub skipped: usize,
    /// Folder entries that are not PNG or JPEG images.
    pub ignored: usize,
    pub bytes: u64,
}

/// Where a photo comes from: a file on disk, or the built-in ones.
enum Source {
    File(PathBuf),
    Builtin(&'static str, &'static [u8]),
}

impl Source {
    fn name(&self) -> String {
        match self {
            Source::File(p) => p.file_stem().unwrap_or_default().to_string_lossy().into(),
            Source::Builtin(n, _) => n.rsplit_once('.').map_or(*n, |(s, _)| s).to_owned(),
        }
    }

    fn load(&self) -> Result<RgbImage> {
        match self {
            Source::File(p) => image_io::load(p),
            Source::Builtin(n, b) => image_io::decode(b, n),
        }
    }

    fn describe(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Builtin(n, _) => format!("built-in {n}"),
        }
    }
}

/// One packed entry: its name, pixels and (with `--maps`) condition maps.
type Prepared = (String, RgbImage, Option<Image>);

/// `src` prepared for the pack, with its maps cut the same way.
fn prepare(job: &PackPhotos, src: &Source) -> Result<Vec<Prepared>> {
    let img = src.load()?;
    let (full_h, full_w) = (img.height() as usize, img.width() as usize);
    // load's errors name the file already; the later steps' do not.
    let list = job.prepare.apply(&src.name(), img).with_context(|| src.describe())?;
    let Some((dir, _)) = &job.maps else {
        return Ok(list.into_iter().map(|(n, i)| (n, i, None)).collect());
    };
    let maps = cond_maps::read_for(dir, &src.name(), full_h, full_w).with_context(|| src.describe())?;
    // Only a top-left crop (--mod-crop) may have happened: checked in pack_photos.
    list.into_iter()
        .map(|(n, i)| {
            let m = maps.crop(0, 0, i.height() as usize, i.width() as usize)?;
            Ok((n, i, Some(m)))
        })
        .collect()
}

/// Writes the pack (and the maps' pack); each appears only when complete, so a failed run leaves
/// existing packs as they were.
pub fn pack_photos(job: &PackPhotos, on: &mut dyn FnMut(PackEvent)) -> Result<Packed> {
    job.prepare.check()?;
    if let Some((_, out)) = &job.maps {
        ensure!(out != &job.output, "the maps' pack and the photos' pack are both {}", out.display());
        ensure!(
            job.prepare.downscale.is_none_or(|n| n == 1) && job.prepare.sub_images.is_none(),
            "--maps packs the photos at their own size: --downscale and --sub-size would need the maps \
             resampled and cut alike; prepare the photos and maps first, then pack them"
        );
    }
    let (files, ignored) = list_photos(&job.inputs)?;
    let outputs = std::iter::once(job.output.clone()).chain(job.maps.as_ref().map(|(_, m)| m.clone()));
    if let Some(photo) = clobbered(outputs, &files) {
        bail!(
            "{} is one of the photos to pack: the pack would replace it; choose another -o",
            photo.display()
        );
    }
    let mut sources: Vec<Source> = files.into_iter().map(Source::File).collect();
    if job.builtin {
        sources.extend(photos::FILES.iter().map(|&(n, b)| Source::Builtin(n, b)));
    }
    ensure!(!sources.is_empty(), "no PNG or JPEG images in {:?} (and --builtin not given)", job.inputs);
    on(PackEvent::Found(sources.len()));
    let mut writer = PackWriter::create(&job.output)?;
    let mut map_writer = job.maps.as_ref().map(|(_, out)| PackWriter::create(out)).transpose()?;
    let mut map_count = None;
    let (mut entries, mut skipped) = (0usize, 0usize);
    // Decode a few photos in parallel, write them in order: bounded memory, stable order.
    let chunk = 2 * cpu::threads().max(1);
    for group in sources.chunks(chunk) {
        let done: Vec<Result<Vec<Prepared>>> = group.par_iter().map(|s| prepare(job, s)).collect();
        for result in done {
            match result {
                Ok(list) => {
                    for (name, img, maps) in &list {
                        writer.add_rgb(name, img)?;
                        if let (Some(w), Some(m)) = (map_writer.as_mut(), maps) {
                            let first = *map_count.get_or_insert(m.c);
                            ensure!(
                                m.c == first,
                                "`{name}` has {} condition maps, the images before it {first}",
                                m.c
                            );
                            w.add(name, m.h, m.w, m.c, &cond_maps::to_hwc_bytes(m))?;
                        }
                    }
                    entries += list.len();
                    on(PackEvent::Packed);
                }
                Err(error) if job.skip_bad => {
                    on(PackEvent::Skipped { error: &error });
                    skipped += 1;
                }
                Err(e) => {
                    return Err(e.context(format!(
                        "cannot pack {} (nothing written; --skip-bad skips unreadable images)",
                        job.output.display()
                    )));
                }
            }
        }
    }
    ensure!(entries > 0, "every image was skipped: no pack written");
    // The maps first: if they cannot be written, the photos' pack stays as it was too.
    let map_bytes = map_writer.map(PackWriter::finish).transpose()?.unwrap_or(0);
    let bytes = map_bytes + writer.finish()?;
    Ok(Packed { entries, photos: sources.len() - skipped, skipped, ignored, bytes })
}
