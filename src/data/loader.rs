//! The training loader: random paired crops from a pack, augmented and degraded on the fly,
//! batched as NCHW tensors, prefetched on background threads.
//!
//! **Determinism.** Batch `step` is a pure function of (seed, step): sample `i` of it draws
//! everything (image, position, augmentation, degradation parameters, noise) from
//! `Rng::derive(seed, [LOADER_STREAM, step, i])`. Worker threads only compute batches ahead of
//! time, so a resumed run, or one with another number of workers, sees the same bytes.
//!
//! **LR made on the fly, as if from the whole image.** LR patches are computed from the HR crop
//! at every step rather than read from a pre-computed LR pack, because random degradations
//! cannot be pre-computed and one code path serves clean and degraded training alike. A naive
//! crop-then-degrade would make the patch borders different from the same patch of a degraded
//! whole image: bicubic taps, blur kernels and JPEG blocks would see mirrored crop edges instead
//! of the real neighbours. So each sample reads a larger HR window, sized by walking the
//! pipeline backwards (each step's reach: `2n + 2` input pixels for a 1/n resize, the radius for
//! a blur, 16 pixels and 16-aligned blocks for JPEG), runs the steps on it, and keeps the
//! patch. The result equals the same patch of the whole image degraded with the same
//! parameters (noise aside, which is only equal in distribution); a test holds it to that.
//! Each image is used with its height and width cut down to a multiple of the scale (BasicSR's
//! "mod crop"), so every resize step sees an exact integer ratio.
//!
//! **Varying degradations** (`LoaderConfig::varying`) are the exception: their blur and noise
//! ramp across each patch, so the patch is the frame they are defined on, and it is degraded on
//! its own (reflected borders). The batch then carries the per-pixel maps as well.
//!
//! **User maps** (`Loader::with_maps`: a second pack, entry for entry with the photos', from
//! `data pack --maps`) are cut at the HR patch's place and flipped with it; the batch carries
//! them as its condition.
//!
//! **Memory.** Pixels are read straight from the pack's memory map, and the rows a crop touched
//! are released right after (`Pack::release`), so resident memory depends on the batch size and
//! the prefetch depth, not on the size of the pack.

use super::degrade::{Applied, Pipeline};
use super::degrade_map::{degrade_varying, VaryingDegradation, MAP_CHANNELS};
use super::pack::Pack;
use super::Image;
use crate::{Device, Result, Rng, Tensor};
use anyhow::{bail, ensure, Context};
use std::collections::BTreeMap;
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// First key of every loader random stream, so loader draws never coincide with another user
/// of the same seed.
const LOADER_STREAM: u64 = 0x4C4F_4144; // "LOAD"

/// How batches are made.
#[derive(Clone, Debug)]
pub struct LoaderConfig {
    /// Samples per batch.
    pub batch: usize,
    /// LR patch side p; the HR patch is p * scale.
    pub lr_patch: usize,
    /// SR factor.
    pub scale: usize,
    /// Random horizontal flip, vertical flip and transpose (rot90 with a flip), each with
    /// probability 0.5, applied to LR and HR alike.
    pub augment: bool,
    /// Degradations that turn the HR window into LR, steps with their probabilities. Without a
    /// resize step, `bicubic:1/scale` is put first (the clean bicubic LR of the papers);
    /// otherwise the resize steps must be `1/n` shrinks, always applied, whose product is
    /// `1/scale` (e.g. FAIG: `blur:21:2@0.5,bilinear:1/4,noise:25.5@0.5`).
    pub degradations: Pipeline,
    /// Round LR to 8-bit levels at the end, as a stored LR image would be.
    pub round_lr: bool,
    /// Blur and noise that vary across each patch, instead of `degradations`: each HR patch is
    /// blurred on its own (reflected borders), shrunk by bicubic and made noisy, and the batch
    /// carries the per-pixel maps (`Batch::cond`), flipped with the patch.
    pub varying: Option<VaryingDegradation>,
    pub seed: u64,
    /// Background threads computing batches ahead; 0 computes each batch in `next()`.
    pub workers: usize,
    /// Batches computed ahead of the one being consumed (at least 1 when workers > 0).
    pub prefetch: usize,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        LoaderConfig {
            batch: 16,
            lr_patch: 32,
            scale: 4,
            augment: true,
            degradations: Pipeline::default(),
            round_lr: true,
            varying: None,
            seed: 0,
            workers: 1,
            prefetch: 4,
        }
    }
}

/// What one sample of a batch is.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleInfo {
    /// Index of the image in the pack.
    pub image: usize,
    /// Top-left corner of the LR patch in LR pixels (HR: times the scale), before augmentation.
    pub y: usize,
    pub x: usize,
    pub hflip: bool,
    pub vflip: bool,
    pub transpose: bool,
    /// The degradation steps as drawn; `None` where a step's coin said no.
    pub steps: Vec<Option<Applied>>,
}

/// One training batch on the CPU.
pub struct Batch {
    pub step: u64,
    /// [B, 3, p, p]
    pub lr: Tensor,
    /// [B, 3, p*scale, p*scale]
    pub hr: Tensor,
    /// With varying degradations, their maps: [B, 2, p*scale, p*scale] (blur, noise; each over
    /// its maximum); with user maps, theirs: [B, K, p*scale, p*scale].
    pub cond: Option<Tensor>,
    pub samples: Vec<SampleInfo>,
}

/// A batch as plain vectors: what worker threads hand over.
struct RawBatch {
    lr: Vec<f32>,
    hr: Vec<f32>,
    cond: Vec<f32>,
    samples: Vec<SampleInfo>,
}

/// The half-open interval `[a, b)` of samples along one axis.
type Span = (usize, usize);

/// Everything a batch is computed from, shared with the workers.
struct Source {
    pack: Arc<Pack>,
    /// User-supplied condition maps, entry for entry with `pack` (`data pack --maps`).
    maps: Option<Arc<Pack>>,
    cfg: LoaderConfig,
    pipeline: Pipeline,
}

pub struct Loader {
    src: Arc<Source>,
    next_step: u64,
    prefetch: Option<Prefetch>,
}

fn align_down(v: usize, a: usize) -> usize {
    v / a * a
}

fn align_up(v: usize, a: usize) -> usize {
    v.div_ceil(a) * a
}

/// The shrink factor n of a `1/n` resize step, if `f` is one.
fn shrink_of(f: f64) -> Option<usize> {
    let n = (1.0 / f).round();
    (n >= 1.0 && (1.0 / f - n).abs() < 1e-9).then_some(n as usize)
}

impl Applied {
    fn shrink(&self) -> Option<usize> {
        match *self {
            Applied::Bicubic { factor } | Applied::Bilinear { factor } => shrink_of(factor),
            _ => None,
        }
    }

    /// The input span (of an axis `len` long) that outputs `out` need in order to equal the
    /// whole-image result.
    fn input_span(&self, (a, b): Span, len: usize) -> Span {
        match *self {
            Applied::Bicubic { .. } | Applied::Bilinear { .. } => {
                let n = self.shrink().expect("checked in Loader::new");
                // Antialiased bicubic reaches 2n input pixels either side of a sample centre.
                let m = 2 * n + 2;
                (align_down((n * a).saturating_sub(m), n), align_up(n * b + m, n).min(len))
            }
            Applied::Blur { size, .. } => (a.saturating_sub(size / 2), (b + size / 2).min(len)),
            Applied::Noise { .. } => (a, b),
            // JPEG works in 8x8 blocks (16x8 with 4:2:2 chroma) and its decoder smooths chroma
            // across block edges: whole blocks plus one block of margin.
            Applied::Jpeg { .. } => (align_down(a.saturating_sub(16), 16), align_up(b + 16, 16).min(len)),
        }
    }
}

impl Source {
    /// Sample `i` of batch `step`: LR, HR, the condition maps (empty without varying
    /// degradations) and what was drawn.
    fn sample(&self, step: u64, i: usize) -> Result<(Image, Image, Vec<f32>, SampleInfo)> {
        let cfg = &self.cfg;
        let (p, s) = (cfg.lr_patch, cfg.scale);
        let mut rng = Rng::derive(cfg.seed, &[LOADER_STREAM, step, i as u64]);
        let image = rng.below(self.pack.len() as u64) as usize;
        let e = &self.pack.entries()[image];
        let (lh, lw) = (e.h / s, e.w / s);
        let y = rng.below((lh - p + 1) as u64) as usize;
        let x = rng.below((lw - p + 1) as u64) as usize;
        let steps = self.pipeline.sample(&mut rng);
        let (hflip, vflip, transpose) = if cfg.augment {
            (rng.bernoulli(0.5), rng.bernoulli(0.5), rng.bernoulli(0.5))
        } else {
            (false, false, false)
        };
        let flip = |img: &Image| augment(img, hflip, vflip, transpose);
        if let Some(v) = &cfg.varying {
            let hr = self.pack.window(image, y * s, x * s, p * s, p * s)?;
            let d = degrade_varying(&hr, s, v, &mut rng)?;
            let mut lr = d.lr;
            if cfg.round_lr {
                lr.quantize();
            }
            let maps = flip(&Image::new(MAP_CHANNELS, p * s, p * s, d.maps)?);
            let info = SampleInfo { image, y, x, hflip, vflip, transpose, steps: vec![] };
            return Ok((flip(&lr), flip(&hr), maps.data, info));
        }

        // Walk the applied steps backwards from the LR patch to the HR window they need.
        let active: Vec<&Applied> = steps.iter().flatten().collect();
        let mut sizes = vec![(lh * s, lw * s)];
        for a in &active {
            let (h, w) = *sizes.last().unwrap();
            let n = a.shrink().unwrap_or(1);
            sizes.push((h / n, w / n));
        }
        let mut spans = vec![((y, y + p), (x, x + p))];
        for (k, a) in active.iter().enumerate().rev() {
            let (ys, xs) = spans[0];
            let (h, w) = sizes[k];
            spans.insert(0, (a.input_span(ys, h), a.input_span(xs, w)));
        }

        let ((y0, y1), (x0, x1)) = spans[0];
        let hr_window = self.pack.window(image, y0, x0, y1 - y0, x1 - x0)?;
        let hr = hr_window.crop(y * s - y0, x * s - x0, p * s, p * s)?;
        let (mut cur, mut off) = (hr_window, (y0, x0));
        for (k, a) in active.iter().enumerate() {
            let ((ya, yb), (xa, xb)) = spans[k];
            cur = cur.crop(ya - off.0, xa - off.1, yb - ya, xb - xa)?;
            cur = a.apply(&cur, &mut rng)?;
            let n = a.shrink().unwrap_or(1);
            off = (ya / n, xa / n);
        }
        let mut lr = cur.crop(y - off.0, x - off.1, p, p)?;
        if cfg.round_lr {
            lr.quantize();
        }
        let cond = match &self.maps {
            Some(m) => flip(&m.window(image, y * s, x * s, p * s, p * s)?).data,
            None => Vec::new(),
        };
        let info = SampleInfo { image, y, x, hflip, vflip, transpose, steps };
        Ok((flip(&lr), flip(&hr), cond, info))
    }

    fn batch(&self, step: u64) -> Result<RawBatch> {
        let cfg = &self.cfg;
        let (p, s) = (cfg.lr_patch, cfg.scale);
        let mut out = RawBatch {
            lr: Vec::with_capacity(cfg.batch * 3 * p * p),
            hr: Vec::with_capacity(cfg.batch * 3 * p * p * s * s),
            cond: Vec::new(),
            samples: Vec::with_capacity(cfg.batch),
        };
        for i in 0..cfg.batch {
            let (lr, hr, cond, info) =
                self.sample(step, i).with_context(|| format!("loader step {step}, sample {i}"))?;
            out.lr.extend_from_slice(&lr.data);
            out.hr.extend_from_slice(&hr.data);
            out.cond.extend_from_slice(&cond);
            out.samples.push(info);
        }
        Ok(out)
    }
}

/// Flips and transposes a square patch the way the sample's coins said.
fn augment(img: &Image, hflip: bool, vflip: bool, transpose: bool) -> Image {
    if !(hflip || vflip || transpose) {
        return img.clone();
    }
    let (h, w) = (img.h, img.w);
    let mut out = img.clone();
    for (src, dst) in img.data.chunks_exact(h * w).zip(out.data.chunks_exact_mut(h * w)) {
        for yy in 0..h {
            for xx in 0..w {
                let sy = if vflip { h - 1 - yy } else { yy };
                let sx = if hflip { w - 1 - xx } else { xx };
                let (ty, tx) = if transpose { (xx, yy) } else { (yy, xx) };
                dst[ty * w + tx] = src[sy * w + sx];
            }
        }
    }
    out
}

impl Loader {
    /// Checks the configuration against the pack; starts no thread until the first `next()`.
    pub fn new(pack: Arc<Pack>, cfg: LoaderConfig) -> Result<Loader> {
        Self::with_maps(pack, None, cfg)
    }

    /// [`Loader::new`] with condition maps read beside the photos: `maps` holds, entry for
    /// entry, the maps of `pack`'s images at their size; each batch carries the HR patch's maps
    /// (`Batch::cond`), flipped with it.
    pub fn with_maps(pack: Arc<Pack>, maps: Option<Arc<Pack>>, cfg: LoaderConfig) -> Result<Loader> {
        if let Some(m) = &maps {
            ensure!(
                cfg.varying.is_none(),
                "loader: varying degradations bring their own maps; user maps cannot go with them"
            );
            ensure!(
                m.len() == pack.len(),
                "{} holds {} entries, the photos' pack {} {}: pack photos and maps together (data pack --maps)",
                m.path().display(),
                m.len(),
                pack.path().display(),
                pack.len()
            );
            let channels = m.entries().first().map_or(0, |e| e.c);
            for (e, f) in pack.entries().iter().zip(m.entries()) {
                ensure!(
                    (&e.name, e.h, e.w, channels) == (&f.name, f.h, f.w, f.c),
                    "{}: entry `{}` ({}x{}, {} maps) does not match the photo `{}` ({}x{}) of {} \
                     (or the maps before it)",
                    m.path().display(),
                    f.name,
                    f.h,
                    f.w,
                    f.c,
                    e.name,
                    e.h,
                    e.w,
                    pack.path().display()
                );
            }
        }
        ensure!(
            cfg.batch > 0 && cfg.lr_patch > 0 && cfg.scale > 0,
            "batch, patch and scale must be positive"
        );
        ensure!(!pack.is_empty(), "{}: the pack holds no image", pack.path().display());
        if let Some(v) = &cfg.varying {
            v.validate()?;
            ensure!(
                cfg.degradations.steps.is_empty(),
                "loader: varying degradations replace the degradation pipeline; `{}` cannot go with them",
                cfg.degradations
            );
        }
        let mut pipeline = cfg.degradations.clone();
        // Scale 1 (restoration at the input's size) has no resize to add.
        if cfg.scale > 1 && !pipeline.steps.iter().any(|s| s.op.factor().is_some()) {
            let spec = format!("bicubic:1/{}", cfg.scale);
            let mut steps = spec.parse::<Pipeline>()?.steps;
            steps.extend(pipeline.steps);
            pipeline.steps = steps;
        }
        let mut total = 1usize;
        for step in &pipeline.steps {
            if let Some(f) = step.op.factor() {
                let Some(n) = shrink_of(f) else {
                    bail!("loader: `{}` is not a 1/n shrink (n a whole number)", step.op);
                };
                ensure!(
                    step.prob >= 1.0,
                    "loader: resize step `{}` must always apply (no @probability)",
                    step.op
                );
                total *= n;
            }
        }
        ensure!(
            total == cfg.scale,
            "loader: the resize steps of `{pipeline}` shrink by {total}, not by the scale {}",
            cfg.scale
        );
        let hr = cfg.lr_patch * cfg.scale;
        for e in pack.entries() {
            ensure!(
                e.c == 3,
                "{}: image `{}` has {} channel(s); the loader needs RGB",
                pack.path().display(),
                e.name,
                e.c
            );
            ensure!(
                e.h / cfg.scale >= cfg.lr_patch && e.w / cfg.scale >= cfg.lr_patch,
                "{}: image `{}` ({}x{}) is smaller than the {hr}x{hr} HR patch; re-pack without \
                 it or use a smaller patch",
                pack.path().display(),
                e.name,
                e.h,
                e.w
            );
        }
        Ok(Loader { src: Arc::new(Source { pack, maps, cfg, pipeline }), next_step: 0, prefetch: None })
    }

    pub fn config(&self) -> &LoaderConfig {
        &self.src.cfg
    }

    /// The pipeline in use (with the default bicubic step if one was put first).
    pub fn pipeline(&self) -> &Pipeline {
        &self.src.pipeline
    }

    /// Batch `step`, computed here and now: a pure function of (seed, step).
    pub fn batch(&self, step: u64) -> Result<Batch> {
        self.src.batch(step).and_then(|raw| self.to_batch(step, raw))
    }

    fn to_batch(&self, step: u64, raw: RawBatch) -> Result<Batch> {
        let cfg = &self.src.cfg;
        let (b, p, s) = (cfg.batch, cfg.lr_patch, cfg.scale);
        Ok(Batch {
            step,
            lr: Tensor::from_vec(raw.lr, &[b, 3, p, p], &Device::Cpu)?,
            hr: Tensor::from_vec(raw.hr, &[b, 3, p * s, p * s], &Device::Cpu)?,
            cond: match (cfg.varying, &self.src.maps) {
                (Some(_), _) => {
                    Some(Tensor::from_vec(raw.cond, &[b, MAP_CHANNELS, p * s, p * s], &Device::Cpu)?)
                }
                (None, Some(m)) => {
                    let k = m.entries()[0].c;
                    Some(Tensor::from_vec(raw.cond, &[b, k, p * s, p * s], &Device::Cpu)?)
                }
                (None, None) => None,
            },
            samples: raw.samples,
        })
    }

    /// The step the next call to [`Loader::next`] returns.
    pub fn step(&self) -> u64 {
        self.next_step
    }

    /// Makes `next()` continue at `step` (to resume a run); batches prefetched for other steps
    /// are dropped.
    pub fn seek(&mut self, step: u64) {
        self.prefetch = None;
        self.next_step = step;
    }

    /// The batch for the current step, then advances. With workers, the following batches are
    /// being computed in the background meanwhile.
    #[allow(clippy::should_implement_trait)] // fallible, and never ends: not an Iterator
    pub fn next(&mut self) -> Result<Batch> {
        let step = self.next_step;
        let raw = if self.src.cfg.workers == 0 {
            self.src.batch(step)
        } else {
            let src = &self.src;
            self.prefetch.get_or_insert_with(|| Prefetch::start(src, step)).take(step)
        };
        self.next_step += 1;
        self.to_batch(step, raw?)
    }
}

/// Worker threads that claim steps in order, at most `prefetch` ahead of the consumer.
struct Prefetch {
    ctrl: Arc<(Mutex<Ctrl>, Condvar)>,
    rx: Receiver<(u64, Result<RawBatch>)>,
    ready: BTreeMap<u64, Result<RawBatch>>,
    ahead: u64,
    workers: Vec<JoinHandle<()>>,
}

struct Ctrl {
    next_claim: u64,
    limit: u64,
    stop: bool,
}

impl Prefetch {
    fn start(src: &Arc<Source>, first: u64) -> Prefetch {
        let ahead = src.cfg.prefetch.max(1) as u64;
        let ctrl = Arc::new((
            Mutex::new(Ctrl { next_claim: first, limit: first + ahead, stop: false }),
            Condvar::new(),
        ));
        let (tx, rx) = channel();
        let workers = (0..src.cfg.workers)
            .map(|_| {
                let (src, ctrl, tx) = (src.clone(), ctrl.clone(), tx.clone());
                std::thread::spawn(move || loop {
                    let step = {
                        let (lock, cv) = &*ctrl;
                        let mut c = lock.lock().unwrap();
                        while !c.stop && c.next_claim >= c.limit {
                            c = cv.wait(c).unwrap();
                        }
                        if c.stop {
                            return;
                        }
                        c.next_claim += 1;
                        c.next_claim - 1
                    };
                    if tx.send((step, src.batch(step))).is_err() {
                        return;
                    }
                })
            })
            .collect();
        Prefetch { ctrl, rx, ready: BTreeMap::new(), ahead, workers }
    }

    fn take(&mut self, step: u64) -> Result<RawBatch> {
        let raw = loop {
            if let Some(r) = self.ready.remove(&step) {
                break r;
            }
            let (s, r) = self.rx.recv().map_err(|_| {
                anyhow::anyhow!(
                    "the loader's worker threads stopped without a batch (a bug: see the message above)"
                )
            })?;
            self.ready.insert(s, r);
        };
        let (lock, cv) = &*self.ctrl;
        lock.lock().unwrap().limit = step + 1 + self.ahead;
        cv.notify_all();
        raw
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        let (lock, cv) = &*self.ctrl;
        lock.lock().unwrap().stop = true;
        cv.notify_all();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn augment_is_the_eight_symmetries_of_the_square() {
        let img = Image::new(1, 2, 2, vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let a = |h, v, t| augment(&img, h, v, t).data;
        assert_eq!(a(false, false, false), [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(a(true, false, false), [2.0, 1.0, 4.0, 3.0]);
        assert_eq!(a(false, true, false), [3.0, 4.0, 1.0, 2.0]);
        assert_eq!(a(false, false, true), [1.0, 3.0, 2.0, 4.0]);
        let mut all: Vec<_> = (0..8)
            .map(|k| a(k & 1 != 0, k & 2 != 0, k & 4 != 0))
            .map(|d| d.iter().map(|v| *v as u8).collect::<Vec<_>>())
            .collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 8);
    }

    #[test]
    fn spans_cover_each_steps_reach() {
        let bic = Applied::Bicubic { factor: 0.25 };
        assert_eq!(bic.input_span((10, 42), 400), (28, 180));
        assert_eq!(bic.input_span((0, 5), 24), (0, 24));
        let blur = Applied::Blur { size: 21, sigma: 2.0 };
        assert_eq!(blur.input_span((3, 40), 45), (0, 45));
        let jpeg = Applied::Jpeg { quality: 50 };
        assert_eq!(jpeg.input_span((40, 50), 100), (16, 80));
        assert_eq!(shrink_of(0.25), Some(4));
        assert_eq!(shrink_of(1.0 / 3.0), Some(3));
        assert_eq!(shrink_of(0.3), None);
    }
}
