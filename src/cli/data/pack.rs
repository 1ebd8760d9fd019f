//! `ddr-engine data pack`: photos into one pack.

use crate::data::pack_photos::{pack_photos, PackEvent, PackPhotos};
use crate::data::prepare::{Prepare, SubImages};
use crate::Result;
use clap::Args;
use std::path::PathBuf;

/// Pack photos (PNG/JPEG) into one memory-mapped file for training.
///
/// Reads the images in each folder (one level deep, sorted by name) and each file given,
/// turns them into 8-bit RGB (grey is repeated, alpha dropped), optionally shrinks, crops and cuts
/// them, and writes one pack: a checksummed header and raw pixels that the loader maps without
/// copying. The pack appears only when complete; a failed run leaves an existing pack untouched.
///
/// Example (BasicSR-style DIV2K preparation of the fetched wallpapers, halved first):
///
///   ddr-engine data pack photos/wallpapers --downscale 2 --sub-size 480 --sub-step 240 -o train.pack
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub struct PackArgs {
    /// Folders of photos and/or image files.
    #[arg(value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// The pack to write.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// Also pack the built-in public-domain photos (astronaut, chelsea, coffee, rocket, hubble).
    #[arg(long)]
    builtin: bool,
    /// Shrink every photo by N first (MATLAB bicubic, rounded to 8 bits), e.g. 2 for the
    /// JPEG wallpapers, whose compression artefacts halving washes out.
    #[arg(long, value_name = "N")]
    downscale: Option<usize>,
    /// Crop height and width down to a multiple of N (top-left kept), e.g. the SR scale.
    #[arg(long, value_name = "N")]
    mod_crop: Option<usize>,
    /// Cut each photo into SIZE x SIZE sub-images (named <photo>_s001, ...); photos smaller than
    /// SIZE are kept whole.
    #[arg(long, value_name = "SIZE")]
    sub_size: Option<usize>,
    /// Distance between sub-images [default: SIZE / 2].
    #[arg(long, value_name = "STEP", requires = "sub_size")]
    sub_step: Option<usize>,
    /// Add a last sub-image flush with the right/bottom edge when more than PIXELS would be left
    /// uncovered.
    #[arg(long, value_name = "PIXELS", default_value_t = 0, requires = "sub_size")]
    sub_thresh: usize,
    /// Skip images that cannot be read, with a warning naming each. Without it the first bad
    /// image stops the run with an error naming it, and no pack is written.
    #[arg(long)]
    skip_bad: bool,
    /// Condition maps beside the photos (e.g. segmentation probabilities for SFT-GAN): a folder
    /// holding, for each photo <name>, <name>.npy (float array maps x height x width) or a folder
    /// <name>/ of grey PNG maps. They go, at 8 bits, into a second pack, entry for entry with
    /// the photos' (training reads it as `[data] maps`). Not with --downscale or --sub-size.
    #[arg(long, value_name = "DIR")]
    maps: Option<PathBuf>,
    /// Where the maps' pack goes [default: the output with `.maps.pack` for its extension].
    #[arg(long, value_name = "FILE", requires = "maps")]
    maps_output: Option<PathBuf>,
}

pub fn pack(a: PackArgs) -> Result<()> {
    let maps = a.maps.map(|dir| (dir, a.maps_output.unwrap_or_else(|| a.output.with_extension("maps.pack"))));
    let job = PackPhotos {
        prepare: Prepare {
            downscale: a.downscale,
            mod_crop: a.mod_crop,
            sub_images: a.sub_size.map(|size| SubImages {
                size,
                step: a.sub_step.unwrap_or((size / 2).max(1)),
                thresh: a.sub_thresh,
            }),
        },
        inputs: a.inputs,
        output: a.output,
        builtin: a.builtin,
        skip_bad: a.skip_bad,
        maps,
    };
    let pb = super::progress(0, "packing");
    let packed = pack_photos(&job, &mut |event| match event {
        PackEvent::Found(n) => pb.set_length(n as u64),
        PackEvent::Packed => pb.inc(1),
        PackEvent::Skipped { error } => {
            pb.suspend(|| eprintln!("warning: skipped {error:#}"));
            pb.inc(1);
        }
    });
    pb.finish_and_clear();
    let p = packed?;
    println!(
        "{}{}: {} images from {} photos, {:.1} MiB{}{}",
        job.output.display(),
        job.maps.as_ref().map_or(String::new(), |(_, m)| format!(" and their maps {}", m.display())),
        p.entries,
        p.photos,
        p.bytes as f64 / (1 << 20) as f64,
        if p.skipped > 0 { format!("; skipped {} unreadable", p.skipped) } else { String::new() },
        if p.ignored > 0 { format!("; ignored {} non-image entries", p.ignored) } else { String::new() }
    );
    Ok(())
}
