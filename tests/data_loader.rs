//! The training loader: same (seed, step) -> same bytes whatever the workers and the starting
//! step; LR patches equal the same patch of the whole image degraded; clear errors.

use ddr_engine::data::degrade::{apply_all, Pipeline};
use ddr_engine::data::degrade_map::{degrade_varying, VaryingDegradation};
use ddr_engine::data::loader::{Batch, Loader, LoaderConfig};
use ddr_engine::data::pack::{Pack, PackWriter};
use ddr_engine::Rng;
use std::path::Path;
use std::sync::Arc;

/// A pack of textured images (smooth gradients plus fine noise, so every filter matters) with
/// sizes that are not multiples of the scale.
fn make_pack(path: &Path, sizes: &[(usize, usize)]) -> Arc<Pack> {
    let mut rng = Rng::new(5);
    let mut w = PackWriter::create(path).unwrap();
    for (i, &(h, wd)) in sizes.iter().enumerate() {
        let mut px = Vec::with_capacity(h * wd * 3);
        for y in 0..h {
            for x in 0..wd {
                for c in 0..3 {
                    let smooth = 128.0 + 90.0 * ((x as f64 * 0.07 + c as f64) + y as f64 * 0.05).sin();
                    px.push((smooth + 30.0 * (rng.uniform() - 0.5)) as u8);
                }
            }
        }
        w.add(&format!("synthetic_{i}"), h, wd, 3, &px).unwrap();
    }
    w.finish().unwrap();
    Arc::new(Pack::open(path).unwrap())
}

fn cfg(spec: &str, scale: usize, workers: usize) -> LoaderConfig {
    LoaderConfig {
        batch: 5,
        lr_patch: 8,
        scale,
        augment: true,
        degradations: spec.parse().unwrap(),
        round_lr: true,
        varying: None,
        seed: 42,
        workers,
        prefetch: 3,
    }
}

fn bytes(b: &Batch) -> (Vec<u32>, Vec<u32>) {
    let bits = |t: &ddr_engine::Tensor| t.to_vec().unwrap().iter().map(|v| v.to_bits()).collect();
    (bits(&b.lr), bits(&b.hr))
}

#[test]
fn batches_depend_on_seed_and_step_only() {
    let dir = tempfile::tempdir().unwrap();
    let pack = make_pack(&dir.path().join("p.pack"), &[(70, 90), (83, 61), (64, 64)]);
    let spec = "blur:7:0.5-2@0.5,bicubic:1/4,noise:5-20@0.5,jpeg:40-90@0.5";
    let reference = Loader::new(pack.clone(), cfg(spec, 4, 0)).unwrap();
    let want: Vec<_> = (0..8).map(|s| bytes(&reference.batch(s).unwrap())).collect();

    for workers in [0, 1, 3] {
        let mut l = Loader::new(pack.clone(), cfg(spec, 4, workers)).unwrap();
        for (s, w) in want.iter().enumerate() {
            let b = l.next().unwrap();
            assert_eq!(b.step, s as u64);
            assert_eq!(&bytes(&b), w, "workers {workers}, step {s}");
        }
        // Resuming at step 5 (as after a restart) gives the same batches again.
        l.seek(5);
        for (s, w) in want.iter().enumerate().skip(5) {
            assert_eq!(&bytes(&l.next().unwrap()), w, "workers {workers}, resumed step {s}");
        }
    }
    // A fresh loader that starts at step 6.
    let mut l = Loader::new(pack.clone(), cfg(spec, 4, 2)).unwrap();
    l.seek(6);
    assert_eq!(bytes(&l.next().unwrap()), want[6]);

    // The steps differ from each other, and another seed gives other batches.
    assert_ne!(want[0], want[1]);
    let mut other = cfg(spec, 4, 0);
    other.seed = 43;
    let other = Loader::new(pack, other).unwrap();
    assert_ne!(bytes(&other.batch(0).unwrap()), want[0]);
}

#[test]
fn batches_have_the_configured_shapes_and_hr_is_the_pack_crop() {
    let dir = tempfile::tempdir().unwrap();
    let pack = make_pack(&dir.path().join("p.pack"), &[(70, 90), (83, 61)]);
    let mut c = cfg("", 4, 0);
    c.augment = false;
    let l = Loader::new(pack.clone(), c).unwrap();
    let b = l.batch(3).unwrap();
    assert_eq!(b.lr.shape(), [5, 3, 8, 8]);
    assert_eq!(b.hr.shape(), [5, 3, 32, 32]);
    let hr = b.hr.to_vec().unwrap();
    for (i, s) in b.samples.iter().enumerate() {
        let want = pack.window(s.image, s.y * 4, s.x * 4, 32, 32).unwrap();
        assert_eq!(&hr[i * 3 * 32 * 32..(i + 1) * 3 * 32 * 32], &want.data[..]);
    }
    assert_eq!(l.pipeline().to_string(), "bicubic:0.25");
}

/// The LR patch of each sample must equal the same patch of the whole (mod-cropped) image run
/// through the same drawn steps: the window the loader reads is wide enough for every step.
fn check_patches_match_whole_image(spec: &str, scale: usize) {
    let dir = tempfile::tempdir().unwrap();
    let pack = make_pack(&dir.path().join("p.pack"), &[(70, 90), (83, 61), (200, 48)]);
    let mut c = cfg(spec, scale, 0);
    c.augment = false;
    c.batch = 12;
    let l = Loader::new(pack.clone(), c).unwrap();
    for step in 0..3 {
        let b = l.batch(step).unwrap();
        let lr = b.lr.to_vec().unwrap();
        for (i, s) in b.samples.iter().enumerate() {
            let e = &pack.entries()[s.image];
            let (h, w) = (e.h / scale * scale, e.w / scale * scale);
            let whole = pack.window(s.image, 0, 0, h, w).unwrap();
            let mut rng = Rng::new(0);
            let mut want = apply_all(&whole, &s.steps, &mut rng).unwrap().crop(s.y, s.x, 8, 8).unwrap();
            want.quantize();
            let got = &lr[i * 192..(i + 1) * 192];
            assert_eq!(got, &want.data[..], "{spec}: step {step} sample {i}: {s:?}");
        }
    }
}

#[test]
fn lr_patches_equal_the_whole_image_degraded() {
    check_patches_match_whole_image("", 4);
    check_patches_match_whole_image("blur:9:1-3,bicubic:1/4", 4);
    check_patches_match_whole_image("blur:21:2@0.5,bilinear:1/4", 4);
    check_patches_match_whole_image("bicubic:1/2,blur:5:1.2,jpeg:30-80", 2);
    check_patches_match_whole_image("bilinear:1/2,bicubic:1/3", 6);
}

#[test]
fn bad_configurations_are_refused_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let pack = make_pack(&dir.path().join("p.pack"), &[(70, 90), (20, 90)]);
    let err = |c: LoaderConfig| format!("{:#}", Loader::new(pack.clone(), c).err().unwrap());
    let e = err(cfg("", 4, 0));
    assert!(e.contains("synthetic_1") && e.contains("smaller than the 32x32"), "{e}");

    let pack2 = make_pack(&dir.path().join("q.pack"), &[(70, 90)]);
    let err2 = |c: LoaderConfig| format!("{:#}", Loader::new(pack2.clone(), c).err().unwrap());
    assert!(err2(cfg("bicubic:1/2", 4, 0)).contains("not by the scale 4"));
    assert!(err2(cfg("bicubic:0.3", 4, 0)).contains("not a 1/n shrink"));
    assert!(err2(cfg("bilinear:1/4@0.5", 4, 0)).contains("must always apply"));
}

#[test]
fn probabilities_are_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let pack = make_pack(&dir.path().join("p.pack"), &[(70, 90)]);
    let mut c = cfg("blur:21:2@0.5,bilinear:1/4,noise:25.5@0.5", 4, 0);
    c.batch = 50;
    let b = Loader::new(pack, c).unwrap().batch(0).unwrap();
    let blurred = b.samples.iter().filter(|s| s.steps[0].is_some()).count();
    let noisy = b.samples.iter().filter(|s| s.steps[2].is_some()).count();
    // Binomial(50, 0.5) lies in 12..=38 with probability 1 - 1e-4; the seed is fixed anyway.
    assert!((12..=38).contains(&blurred) && (12..=38).contains(&noisy), "{blurred} {noisy}");
    let pipeline: Pipeline = "blur:21:2@0.5,bilinear:1/4,noise:25.5@0.5".parse().unwrap();
    assert_eq!(pipeline.steps.len(), b.samples[0].steps.len());
}

/// Varying degradations: each sample is its HR patch degraded on its own with the sample's draws,
/// its maps flipped with it; the same (seed, step) gives the same bytes whatever the workers; a
/// pipeline beside them is refused.
#[test]
fn varying_degradations_carry_their_maps_with_the_patch() {
    let dir = tempfile::tempdir().unwrap();
    let pack = make_pack(&dir.path().join("p.pack"), &[(70, 90), (83, 61)]);
    let v = VaryingDegradation { blur_max: 3.0, noise_max: 30.0, kernel: 13, blind: false };
    let with = |workers, augment| LoaderConfig { varying: Some(v), augment, ..cfg("", 4, workers) };
    let b = Loader::new(pack.clone(), with(0, false)).unwrap().batch(3).unwrap();
    let cond = b.cond.as_ref().expect("maps");
    assert_eq!(cond.shape(), [5, 2, 32, 32]);
    let maps = cond.to_vec().unwrap();
    assert!(maps.iter().all(|m| (0.0..=1.0).contains(m)));
    // Unaugmented, each sample's maps are the ramps drawn for it, sampled on the HR patch.
    let lr = b.lr.to_vec().unwrap();
    for (i, s) in b.samples.iter().enumerate() {
        let hr = pack.window(s.image, s.y * 4, s.x * 4, 32, 32).unwrap();
        let map = &maps[i * 2 * 32 * 32..(i + 1) * 2 * 32 * 32];
        // The sample's random stream is private to the loader, so the maps are checked by their
        // geometry: each is a linear ramp (second differences vanish).
        for plane in map.chunks_exact(32 * 32) {
            for y in 0..32 {
                for x in 1..31 {
                    let d2 = plane[y * 32 + x - 1] - 2.0 * plane[y * 32 + x] + plane[y * 32 + x + 1];
                    assert!(d2.abs() < 1e-5, "sample {i}: the map is not a ramp");
                }
            }
        }
        // The LR patch is the HR patch's degradation: close to its bicubic shrink on average.
        let mut rng = Rng::new(0);
        let clean =
            degrade_varying(&hr, 4, &VaryingDegradation { blur_max: 0.0, noise_max: 0.0, ..v }, &mut rng)
                .unwrap();
        let mine = &lr[i * 3 * 64..(i + 1) * 3 * 64];
        let mean_diff: f32 = mine.iter().zip(&clean.lr.data).map(|(a, b)| (a - b).abs()).sum::<f32>() / 192.0;
        assert!(mean_diff < 0.1, "sample {i}: LR is far from its HR patch ({mean_diff})");
    }
    let want = bytes(&Loader::new(pack.clone(), with(0, true)).unwrap().batch(5).unwrap());
    let mut l = Loader::new(pack.clone(), with(2, true)).unwrap();
    l.seek(5);
    let got = l.next().unwrap();
    assert_eq!(bytes(&got), want);
    let a = Loader::new(pack.clone(), with(0, true)).unwrap().batch(5).unwrap();
    assert_eq!(a.cond.unwrap().to_vec().unwrap(), got.cond.unwrap().to_vec().unwrap());
    let both = LoaderConfig { varying: Some(v), ..cfg("noise:5", 4, 0) };
    let e = Loader::new(pack, both).err().expect("refused").to_string();
    assert!(e.contains("replace the degradation pipeline"), "{e}");
}
