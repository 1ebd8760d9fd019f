//! `ddr-engine data ...`: packs, degraded test sets, built-in photos, loader speed.

use super::GlobalArgs;
use crate::data::degrade::{apply_all, Pipeline};
use crate::data::image_io::{self, list_photos};
use crate::data::loader::{Loader, LoaderConfig};
use crate::data::pack::{Pack, PackWriter, MAGIC};
use crate::data::prepare::{Prepare, SubImages};
use crate::data::{photos, Image};
use crate::device::cpu;
use crate::io::write_atomic;
use crate::{Result, Rng};
use anyhow::{bail, ensure, Context};
use clap::{Args, Subcommand};
use image::RgbImage;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Args)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Subcommand)]
enum DataCommand {
    Pack(PackArgs),
    Degrade(DegradeArgs),
    Verify(VerifyArgs),
    ExportPhotos(ExportArgs),
    BenchLoader(BenchArgs),
}

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
struct PackArgs {
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
}

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
struct DegradeArgs {
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

/// Check a pack: its header, and every image's checksum.
///
/// Example:  ddr-engine data verify train.pack
#[derive(Args)]
#[command(verbatim_doc_comment)]
struct VerifyArgs {
    #[arg(value_name = "PACK")]
    pack: PathBuf,
}

/// Write the built-in public-domain / CC0 photos and their LICENSES.md into a folder.
///
/// Example:  ddr-engine data export-photos photos/builtin
#[derive(Args)]
#[command(verbatim_doc_comment)]
struct ExportArgs {
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

/// Measure the training loader: batches per second and peak resident memory.
///
/// Pulls BATCHES batches from the loader (after a warm-up) as fast as it delivers them and
/// reports the rate and the process's peak resident set size (VmHWM, Linux). With
/// --degradations the on-the-fly degradations are included.
///
/// Example (the paper's training batches, FAIG's degradations):
///
///   ddr-engine data bench-loader train.pack --degradations 'blur:21:2@0.5,bilinear:1/4,noise:25.5@0.5'
#[derive(Args)]
#[command(verbatim_doc_comment)]
struct BenchArgs {
    #[arg(value_name = "PACK")]
    pack: PathBuf,
    /// Batches to time.
    #[arg(long, default_value_t = 200)]
    batches: u64,
    /// Batches pulled before timing starts.
    #[arg(long, default_value_t = 10)]
    warmup: u64,
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// LR patch side.
    #[arg(long, default_value_t = 32)]
    patch: usize,
    #[arg(long, default_value_t = 4)]
    scale: usize,
    /// Background loader threads.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    #[arg(long, default_value_t = 4)]
    prefetch: usize,
    /// Degradation steps (as for `degrade`, with @P probabilities); default: bicubic only.
    #[arg(long, value_name = "SPEC", default_value = "")]
    degradations: Pipeline,
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

pub fn run(global: &GlobalArgs, args: DataArgs) -> Result<()> {
    cpu::set_threads(global.threads)?;
    match args.command {
        DataCommand::Pack(a) => pack(a),
        DataCommand::Degrade(a) => degrade(a),
        DataCommand::Verify(a) => verify(a),
        DataCommand::ExportPhotos(a) => {
            for p in photos::export(&a.dir)? {
                println!("{}", p.display());
            }
            Ok(())
        }
        DataCommand::BenchLoader(a) => bench_loader(a),
    }
}

fn progress(len: usize, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len as u64);
    let style = ProgressStyle::with_template(&format!(
        "{what} {{bar:40}} {{pos}}/{{len}} [{{elapsed_precise}}, {{eta}} left] {{msg}}"
    ))
    .expect("a valid template");
    pb.set_style(style);
    pb
}

/// Where the photos come from: files on disk, or the built-in ones.
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

fn pack(a: PackArgs) -> Result<()> {
    let prep = Prepare {
        downscale: a.downscale,
        mod_crop: a.mod_crop,
        sub_images: a.sub_size.map(|size| SubImages {
            size,
            step: a.sub_step.unwrap_or((size / 2).max(1)),
            thresh: a.sub_thresh,
        }),
    };
    prep.check()?;
    let (files, ignored) = list_photos(&a.inputs)?;
    let mut sources: Vec<Source> = files.into_iter().map(Source::File).collect();
    if a.builtin {
        sources.extend(photos::FILES.iter().map(|&(n, b)| Source::Builtin(n, b)));
    }
    ensure!(!sources.is_empty(), "no PNG or JPEG images in {:?} (and --builtin not given)", a.inputs);
    let pb = progress(sources.len(), "packing");
    let mut writer = PackWriter::create(&a.output)?;
    let (mut entries, mut skipped) = (0usize, 0usize);
    // Decode a few photos in parallel, write them in order: bounded memory, stable order.
    let chunk = 2 * cpu::threads().max(1);
    for group in sources.chunks(chunk) {
        let done: Vec<Result<Vec<(String, RgbImage)>>> = group
            .par_iter()
            .map(|s| s.load().and_then(|img| prep.apply(&s.name(), img)).with_context(|| s.describe()))
            .collect();
        for (source, result) in group.iter().zip(done) {
            match result {
                Ok(list) => {
                    for (name, img) in &list {
                        writer.add_rgb(name, img)?;
                    }
                    entries += list.len();
                }
                Err(e) if a.skip_bad => {
                    pb.suspend(|| eprintln!("warning: skipping {}: {e:#}", source.describe()));
                    skipped += 1;
                }
                Err(e) => {
                    pb.finish_and_clear();
                    return Err(e.context(format!(
                        "cannot pack {} (nothing written; --skip-bad skips unreadable images)",
                        a.output.display()
                    )));
                }
            }
            pb.inc(1);
        }
    }
    pb.finish_and_clear();
    ensure!(entries > 0, "every image was skipped: no pack written");
    let bytes = writer.finish()?;
    println!(
        "{}: {entries} images from {} photos, {:.1} MiB{}{}",
        a.output.display(),
        sources.len() - skipped,
        bytes as f64 / (1 << 20) as f64,
        if skipped > 0 { format!("; skipped {skipped} unreadable") } else { String::new() },
        if ignored > 0 { format!("; ignored {ignored} non-image entries") } else { String::new() }
    );
    Ok(())
}

/// True when `path` is a file starting with the pack magic.
fn is_pack(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 8];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok_and(|_| &head == MAGIC)
}

/// Stream key for `degrade`, so its draws never coincide with the loader's.
const DEGRADE_STREAM: u64 = 0x4445_4752; // "DEGR"

fn degrade(a: DegradeArgs) -> Result<()> {
    ensure!(!a.pipeline.steps.is_empty(), "--pipeline has no steps");
    // The inputs as (name, loader) pairs, in a fixed order so that image i is always the same.
    type Load = Box<dyn Fn() -> Result<Image> + Send + Sync>;
    let mut inputs: Vec<(String, Load)> = Vec::new();
    if is_pack(&a.input) {
        let pack = Arc::new(Pack::open(&a.input)?);
        for (i, e) in pack.entries().iter().enumerate() {
            let pack = pack.clone();
            let (h, w) = (e.h, e.w);
            inputs.push((e.name.clone(), Box::new(move || pack.window(i, 0, 0, h, w))));
        }
    } else {
        let (files, _) = list_photos(std::slice::from_ref(&a.input))?;
        for f in files {
            let name = f.file_stem().unwrap_or_default().to_string_lossy().into_owned();
            inputs.push((name, Box::new(move || Ok(Image::from_rgb8(&image_io::load(&f)?)))));
        }
    }
    ensure!(!inputs.is_empty(), "{}: no images", a.input.display());
    let mut names: Vec<&str> = inputs.iter().map(|(n, _)| n.as_str()).collect();
    names.sort();
    if let Some(d) = names.windows(2).find(|w| w[0] == w[1]) {
        bail!("{}: two images are named `{}`; their outputs would collide", a.input.display(), d[0]);
    }
    let input = std::fs::canonicalize(&a.input).ok();
    let mut stages = Vec::new();
    for dir in std::iter::once(&a.output).chain(&a.hr) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        ensure!(
            std::fs::canonicalize(dir).ok() != input,
            "{} is the input folder: the outputs would replace the photos",
            dir.display()
        );
        stages.push(Staging::new(dir)?);
    }

    let pb = progress(inputs.len(), "degrading");
    let key = a.pipeline.hash();
    let records: Vec<serde_json::Value> = inputs
        .par_iter()
        .enumerate()
        .map(|(i, (name, load))| {
            let mut hr = load()?;
            if let Some(n) = a.mod_crop.filter(|&n| n > 1) {
                ensure!(hr.h >= n && hr.w >= n, "{name}: smaller than --mod-crop {n}");
                hr = hr.crop(0, 0, hr.h / n * n, hr.w / n * n)?;
            }
            let mut rng = Rng::derive(a.seed, &[DEGRADE_STREAM, key, i as u64]);
            let steps = a.pipeline.sample(&mut rng);
            let lr = apply_all(&hr, &steps, &mut rng).with_context(|| name.clone())?;
            let file = format!("{name}.png");
            image_io::save_png(&stages[0].dir.join(&file), &lr.to_rgb8()?)?;
            if let Some(hr_stage) = stages.get(1) {
                image_io::save_png(&hr_stage.dir.join(&file), &hr.to_rgb8()?)?;
            }
            pb.inc(1);
            let steps: Vec<serde_json::Value> = a
                .pipeline
                .steps
                .iter()
                .zip(&steps)
                .map(|(step, drawn)| match drawn {
                    Some(d) => serde_json::to_value(d).expect("plain data"),
                    None => serde_json::json!({"op": step.op.to_string(), "skipped": true}),
                })
                .collect();
            Ok(serde_json::json!({
                "index": i, "name": name, "file": file,
                "hr_size": [hr.h, hr.w], "lr_size": [lr.h, lr.w], "steps": steps,
            }))
        })
        .collect::<Result<_>>()?;
    pb.finish_and_clear();
    let manifest = serde_json::json!({
        "ddr_engine": env!("CARGO_PKG_VERSION"),
        "input": a.input.display().to_string(),
        "pipeline": a.pipeline.to_string(),
        "seed": a.seed,
        "mod_crop": a.mod_crop,
        "rounding": "clip to [0, 1], x255, round half to even",
        "images": records,
    });
    write_atomic(&stages[0].dir.join("manifest.json"), |w| {
        serde_json::to_writer_pretty(&mut *w, &manifest)?;
        Ok(())
    })?;
    // HR first, the LR folder (whose manifest moves last) at the very end.
    for stage in stages.into_iter().rev() {
        stage.commit()?;
    }
    let path = a.output.join("manifest.json");
    println!(
        "{}: {} images degraded by `{}` (seed {}); parameters in {}",
        a.output.display(),
        inputs.len(),
        a.pipeline,
        a.seed,
        path.display()
    );
    Ok(())
}

/// A hidden folder inside an output folder where a run writes everything first; only a run that
/// succeeds moves its files into place (the manifest last), so a failed run leaves the previous
/// set complete and consistent with its manifest.
struct Staging {
    dir: PathBuf,
    target: PathBuf,
    done: bool,
}

impl Staging {
    fn new(target: &Path) -> Result<Staging> {
        let dir = target.join(".ddr-partial");
        // Left over by a run that was killed: nothing in it was ever moved into place.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Staging { dir, target: target.to_owned(), done: false })
    }

    fn commit(mut self) -> Result<()> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .with_context(|| format!("cannot list {}", self.dir.display()))?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()?;
        // The manifest goes last: while it is old, the files it lists are still being replaced.
        files.sort_by_key(|p| p.file_name().is_some_and(|n| n == "manifest.json"));
        for f in files {
            let to = self.target.join(f.file_name().expect("a listed file"));
            std::fs::rename(&f, &to)
                .with_context(|| format!("cannot move {} to {}", f.display(), to.display()))?;
        }
        self.done = true;
        std::fs::remove_dir(&self.dir).with_context(|| format!("cannot remove {}", self.dir.display()))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn verify(a: VerifyArgs) -> Result<()> {
    let pack = Pack::open(&a.pack)?;
    let pb = progress(pack.len(), "verifying");
    for i in 0..pack.len() {
        pack.image(i)?;
        pb.inc(1);
    }
    pb.finish_and_clear();
    let pixels: usize = pack.entries().iter().map(|e| e.len).sum();
    println!(
        "{}: {} images, {:.1} MiB of pixels, every checksum good",
        a.pack.display(),
        pack.len(),
        pixels as f64 / (1 << 20) as f64
    );
    Ok(())
}

/// Peak and current resident set size in KiB (Linux `/proc/self/status`).
fn rss_kib() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field =
        |key: &str| status.lines().find(|l| l.starts_with(key))?.split_whitespace().nth(1)?.parse().ok();
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

fn bench_loader(a: BenchArgs) -> Result<()> {
    let pack = Arc::new(Pack::open(&a.pack)?);
    let cfg = LoaderConfig {
        batch: a.batch,
        lr_patch: a.patch,
        scale: a.scale,
        augment: true,
        degradations: a.degradations,
        round_lr: true,
        seed: a.seed,
        workers: a.workers,
        prefetch: a.prefetch,
    };
    let pixels: usize = pack.entries().iter().map(|e| e.len).sum();
    let mut loader = Loader::new(pack.clone(), cfg)?;
    for _ in 0..a.warmup {
        loader.next()?;
    }
    let t = std::time::Instant::now();
    for _ in 0..a.batches {
        loader.next()?;
    }
    let secs = t.elapsed().as_secs_f64();
    let (hwm, rss) = rss_kib().unwrap_or((0, 0));
    let mib = |k: u64| k as f64 / 1024.0;
    println!(
        "pack {} ({} images, {:.1} MiB of pixels); pipeline `{}`",
        a.pack.display(),
        pack.len(),
        pixels as f64 / (1 << 20) as f64,
        loader.pipeline()
    );
    println!(
        "{} batches of {} x LR {p}x{p} / HR {hp}x{hp} with {} worker(s): {:.3} s, {:.1} batches/s",
        a.batches,
        a.batch,
        a.workers,
        secs,
        a.batches as f64 / secs,
        p = a.patch,
        hp = a.patch * a.scale
    );
    println!("resident memory: peak {:.1} MiB, now {:.1} MiB", mib(hwm), mib(rss));
    Ok(())
}
