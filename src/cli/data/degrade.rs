//! `ddr-engine data degrade`: a degraded LR test set on disk.

use crate::data::degrade::Pipeline;
use crate::data::degrade_set::{list_images, DegradeSet};
use crate::Result;
use clap::Args;
use std::path::PathBuf;

/// Make a degraded LR test set: one PNG per image plus manifest.json.
///
/// Runs every image of INPUT (a folder of photos or a pack) through the degradation pipeline
/// and writes <name>.png into OUT, clipped and rounded to 8 bits, plus manifest.json listing each
/// image's size and the parameters drawn for it. The same seed and pipeline give the same bytes;
/// each image draws from its own stream keyed by (seed, pipeline, image index). Files are
/// moved into OUT only when every image succeeded: a failed run leaves an existing set as it was.
///
/// Pipeline steps, comma-separated, in the order they apply:
///   bicubic:F     MATLAB bicubic resize by F (0.25, 1/4, 2); output ceil(n F)
///   bilinear:F    bilinear resize, half-pixel centres, no antialiasing (as FAIG's data)
///   blur:K:S      isotropic Gaussian blur, K x K (K odd), sigma S, reflect-101 borders
///   noise:S       Gaussian noise, sigma S on the 0-255 scale
///   jpeg:Q        JPEG round trip at quality Q (1-100)
/// S and Q may be ranges lo-hi, drawn per image; a step may end in @P (probability P).
///
/// Examples (the DDR paper's test sets, from HR photos):
///
///   ddr-engine data degrade hr/ -o clean --pipeline bicubic:1/4
///   ddr-engine data degrade hr/ -o blur  --pipeline bicubic:1/4,blur:15:2-4
///   ddr-engine data degrade hr/ -o noise --pipeline bicubic:1/4,noise:5-30
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub struct DegradeArgs {
    /// A folder of photos, an image file, or a pack.
    #[arg(value_name = "INPUT")]
    input: PathBuf,
    /// Folder for the LR images and manifest.json (created if missing).
    #[arg(short, long, value_name = "DIR")]
    output: PathBuf,
    /// The degradation steps (see above).
    #[arg(short, long, value_name = "SPEC")]
    pipeline: Pipeline,
    /// Seed for every random draw.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Crop each HR image down to a multiple of N first (e.g. 4 for x1/4, so LR x 4 = HR).
    #[arg(long, value_name = "N")]
    mod_crop: Option<usize>,
    /// Also write the (mod-cropped) HR images into this folder, as ground truth.
    #[arg(long, value_name = "DIR")]
    hr: Option<PathBuf>,
}

pub fn degrade(a: DegradeArgs) -> Result<()> {
    let set = DegradeSet {
        input: a.input,
        output: a.output,
        pipeline: a.pipeline,
        seed: a.seed,
        mod_crop: a.mod_crop,
        hr: a.hr,
    };
    let images = list_images(&set.input)?;
    let pb = super::progress(images.len(), "degrading");
    let manifest = set.write(&images, &|| pb.inc(1));
    pb.finish_and_clear();
    println!(
        "{}: {} images degraded by `{}` (seed {}); parameters in {}",
        set.output.display(),
        images.len(),
        set.pipeline,
        set.seed,
        manifest?.display()
    );
    Ok(())
}
