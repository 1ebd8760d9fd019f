//! `ddr-engine sr`: run a trained network on images.

use super::GlobalArgs;
use crate::data::{cond_maps, image_io, Image};
use crate::infer::{super_resolve_with, Tiling};
use crate::io::{clobbered, StagedDir};
use crate::nn::checkpoint::{self, WeightSet};
use crate::nn::models::Arch;
use crate::Result;
use anyhow::{bail, ensure, Context};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args)]
#[command(after_help = "Examples:
  ddr-engine sr --ckpt runs/msr_wgr/model.safetensors --input photo_lr.png --output out/
  ddr-engine sr --ckpt model.safetensors --input lr_folder/ --output sr_folder/ --tile 128
  ddr-engine sr --ckpt sft.safetensors --input lr_folder/ --cond maps_folder/ --output sr_folder/

A conditioned network (SFT-GAN) reads per-pixel maps beside each image: --cond names a .npy
file (one input image) or a folder holding, for each input <name>.png, either <name>.npy (a
float32 or float64 array maps x height x width) or a folder <name>/ of grey PNGs, one map each
in file-name order (level / 255). The maps have the size the network expects (for the
reference layout, 4x the input's: HR-size segmentation probabilities or degradation maps).

Each input image is written to --output as <name>.png (8-bit, values clipped to [0, 1]). The
outputs appear together once every image is done: a bad image leaves --output as it was.")]
pub struct SrArgs {
    /// A checkpoint from `ddr-engine train` (or a converted BasicSR one, with --arch).
    #[arg(long, value_name = "FILE")]
    ckpt: PathBuf,
    /// An image (PNG/JPEG) or a folder of them.
    #[arg(long, value_name = "PATH")]
    input: PathBuf,
    /// Output folder.
    #[arg(long, value_name = "DIR")]
    output: PathBuf,
    /// Process in tiles of this many LR pixels (saves memory on large images); at least 8 and
    /// at least --tile-overlap.
    #[arg(long, value_name = "N")]
    tile: Option<usize>,
    /// Context around each tile, in LR pixels; 40 makes tiled output equal whole-image output
    /// for MSRResNet with 16 blocks.
    #[arg(long, default_value_t = 40, value_name = "N")]
    tile_overlap: usize,
    /// Which weights: the exponential moving average (if the checkpoint has one) or the raw ones.
    #[arg(long, value_enum, default_value = "ema")]
    weights: WeightSet,
    /// Architecture for checkpoints that do not record one, e.g. msrresnet,nf=64,nb=16,scale=4,gr=true.
    #[arg(long, value_name = "SPEC")]
    arch: Option<Arch>,
    /// Condition maps for a conditioned network: a .npy file, or a folder of <name>.npy or
    /// <name>/ (PNG maps).
    #[arg(long, value_name = "PATH")]
    cond: Option<PathBuf>,
}

/// Where the maps of input `image` are: `cond` itself when it is a `.npy` file (one input),
/// else `<cond>/<stem>.npy` or the PNG folder `<cond>/<stem>/`.
fn maps_path(cond: &Path, image: &Path, inputs: usize) -> Result<PathBuf> {
    if !cond.is_dir() {
        ensure!(
            inputs == 1,
            "--cond {} is one file, for {inputs} input images: give a folder of <name>.npy or <name>/ maps",
            cond.display()
        );
        return Ok(cond.to_path_buf());
    }
    let stem = image.file_stem().unwrap_or_default().to_string_lossy();
    cond_maps::find(cond, &stem).with_context(|| format!("--cond for {}", image.display()))
}

pub fn run(global: &GlobalArgs, a: &SrArgs) -> Result<()> {
    let tiling = a.tile.map(|tile| Tiling { tile, overlap: a.tile_overlap });
    tiling.as_ref().map(Tiling::validate).transpose()?;
    let ck = checkpoint::load(&a.ckpt, a.arch.as_ref())?;
    let dev = global.open_device()?;
    let (mut net, mut p) = ck.instantiate(&dev, a.weights)?;
    let (inputs, _) = image_io::list_photos(std::slice::from_ref(&a.input))?;
    ensure!(!inputs.is_empty(), "no PNG or JPEG images in {}", a.input.display());
    let name = |path: &PathBuf| format!("{}.png", path.file_stem().unwrap_or_default().to_string_lossy());
    let output = |path: &PathBuf| a.output.join(name(path));
    let mut seen = std::collections::HashMap::new();
    for path in &inputs {
        if let Some(first) = seen.insert(name(path), path) {
            bail!("{} and {} would both be written as {}", first.display(), path.display(), name(path));
        }
    }
    if let Some(photo) = clobbered(inputs.iter().map(output), &inputs) {
        bail!(
            "{} is an input: writing the outputs into {} would replace it",
            photo.display(),
            a.output.display()
        );
    }
    std::fs::create_dir_all(&a.output).with_context(|| format!("cannot create {}", a.output.display()))?;
    // All outputs or none: a bad image late in a folder must not leave the earlier ones written
    // (and existing files replaced) beside an error.
    let staged = StagedDir::new(&a.output)?;
    let pb = indicatif::ProgressBar::new(inputs.len() as u64);
    match (net.condition(), &a.cond) {
        (Some(c), None) => bail!(
            "{} reads {} condition maps beside each image: give them with --cond",
            ck.arch.describe(),
            c.channels
        ),
        (None, Some(_)) => bail!("--cond: {} takes no condition maps", ck.arch.describe()),
        _ => {}
    }
    // Every map is found before anything is written.
    let maps: Vec<Option<PathBuf>> = inputs
        .iter()
        .map(|path| a.cond.as_deref().map(|c| maps_path(c, path, inputs.len())).transpose())
        .collect::<Result<_>>()?;
    for (path, maps) in inputs.iter().zip(&maps) {
        let img = Image::from_rgb8(&image_io::load(path)?);
        let maps = maps.as_deref().map(cond_maps::read).transpose()?;
        let out = super_resolve_with(net.as_mut(), &mut p, &img, maps.as_ref(), tiling)
            .with_context(|| format!("super-resolving {}", path.display()))?;
        image_io::save_png(&staged.path().join(name(path)), &out.to_rgb8()?)?;
        pb.inc(1);
    }
    staged.commit()?;
    pb.finish_and_clear();
    eprintln!("wrote {} images to {} ({}, {dev})", inputs.len(), a.output.display(), ck.arch.describe());
    Ok(())
}
