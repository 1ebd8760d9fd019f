//! SFT-GAN's segmentation-style conditions through the CLI: per-pixel maps the user supplies
//! beside the photos (a .npy per photo or a folder of PNG maps), packed beside the photos,
//! cropped with each training patch, read at validation and by `sr` (MSE training, then GAN
//! training against SFT-GAN's own discriminator), with refusals for maps that do not fit.

mod common;

use common::cli::{ddr, err, ok, train_gan_smoke, train_refused};
use ddr_engine::data::loader::{Loader, LoaderConfig};
use ddr_engine::data::pack::Pack;
use ddr_engine::data::{image_io, Image};
use ddr_engine::io::npy;
use ddr_engine::Rng;
use std::path::Path;
use std::sync::Arc;

const K: usize = 3;
const H: usize = 40;
const W: usize = 48;

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

fn random(rng: &mut Rng, c: usize, h: usize, w: usize) -> Image {
    Image::new(c, h, w, (0..c * h * w).map(|_| rng.uniform_f32()).collect()).unwrap()
}

/// Photos p0 and p1 (H x W) in `dir/photos`, their maps in `dir/maps`: p0.npy and p1/*.png.
fn photos_and_maps(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (photos, maps) = (dir.join("photos"), dir.join("maps"));
    std::fs::create_dir_all(maps.join("p1")).unwrap();
    std::fs::create_dir_all(&photos).unwrap();
    let mut rng = Rng::new(3);
    for name in ["p0", "p1"] {
        image_io::save_png(
            &photos.join(format!("{name}.png")),
            &random(&mut rng, 3, H, W).to_rgb8().unwrap(),
        )
        .unwrap();
    }
    let m0 = random(&mut rng, K, H, W);
    npy::write(&maps.join("p0.npy"), &[K, H, W], &m0.data).unwrap();
    for k in 0..K {
        let grey = image::GrayImage::from_fn(W as u32, H as u32, |x, y| {
            image::Luma([((x * 5 + y * 3) as usize * (k + 1)) as u8])
        });
        grey.save(maps.join("p1").join(format!("{k}.png"))).unwrap();
    }
    (photos, maps)
}

const TRAIN: &str = r#"
[model]
kind = "sftgan"
nf = 8
nb = 1
cond_in = 3
cond_mid = 8
cond_nf = 4
cond_down = 4

[data]
train = "PACK"
maps = "MAPS"
val = "PHOTOS"
val_maps = "MAPDIR"
lr_patch = 8
batch = 2
val_crop = 0
workers = 1

[run]
iterations = 4
ckpt_every = 2
val_every = 2
log_every = 1
"#;

#[test]
fn user_maps_are_packed_trained_on_validated_with_and_read_by_sr() {
    let dir = tempfile::tempdir().unwrap();
    let (photos, maps) = photos_and_maps(dir.path());
    let pack = dir.path().join("train.pack");
    ok(ddr(&["data", "pack", &s(&photos), "--maps", &s(&maps), "-o", &s(&pack)]));
    let maps_pack = dir.path().join("train.maps.pack");

    // The maps' pack holds the maps entry for entry, at 8 bits.
    let mp = Pack::open(&maps_pack).unwrap();
    let names: Vec<&str> = mp.entries().iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["p0", "p1"]);
    assert!(mp.entries().iter().all(|e| (e.c, e.h, e.w) == (K, H, W)));
    let p1 = mp.window(1, 0, 0, H, W).unwrap();
    let want = |k: usize, y: usize, x: usize| ((x * 5 + y * 3) * (k + 1)) as u8 as f32 / 255.0;
    assert_eq!(p1.data[2 * H * W + 7 * W + 9], want(2, 7, 9));
    let m0 = npy::read(&maps.join("p0.npy")).unwrap();
    let npy::NpyData::F32(m0) = m0.data else { panic!("f32 maps") };
    let p0 = mp.window(0, 0, 0, H, W).unwrap();
    assert!(p0.data.iter().zip(&m0).all(|(a, b)| (a - b).abs() <= 0.5 / 255.0 + 1e-6));

    // Each batch carries the maps of its HR patches, where the loader cut them.
    let photos_pack = Arc::new(Pack::open(&pack).unwrap());
    let cfg =
        LoaderConfig { batch: 2, lr_patch: 4, scale: 4, augment: false, workers: 0, ..Default::default() };
    let loader =
        Loader::with_maps(photos_pack, Some(Arc::new(Pack::open(&maps_pack).unwrap())), cfg).unwrap();
    let b = loader.batch(3).unwrap();
    let cond = b.cond.expect("maps in the batch").to_vec().unwrap();
    for (i, info) in b.samples.iter().enumerate() {
        let window = mp.window(info.image, info.y * 4, info.x * 4, 16, 16).unwrap();
        assert_eq!(&cond[i * K * 256..(i + 1) * K * 256], &window.data[..], "sample {i}");
    }

    // Training with the maps (MSE, then GAN), validating on the photos with their maps.
    let cfg_text = TRAIN
        .replace("MAPS", &s(&maps_pack))
        .replace("MAPDIR", &s(&maps))
        .replace("PACK", &s(&pack))
        .replace("PHOTOS", &s(&photos));
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        s(&path)
    };
    let run = dir.path().join("run");
    ok(ddr(&["train", "--config", &write("sft.toml", &cfg_text), "--out", &s(&run), "--quiet"]));
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert!(metrics.contains("\"val_psnr_y\""), "validation ran with maps: {metrics}");
    let model = run.join("model.safetensors");
    let gan_run = train_gan_smoke(dir.path(), &cfg_text, &model, "discriminator = \"acd\"\n");
    assert!(std::fs::read_to_string(gan_run.join("metrics.jsonl")).unwrap().contains("\"l_g_gan\""));
    // SFT-GAN's own discriminator, saved under the reference's key names.
    let d = std::fs::read(gan_run.join("model_d.safetensors")).unwrap();
    let d = safetensors::SafeTensors::deserialize(&d).unwrap();
    assert!(d.names().contains(&"cls.2.weight") && d.names().contains(&"feature.21.running_var"));

    // `sr` finds each LR image's maps by name: p0.npy and the PNG folder p1/.
    let lr = dir.path().join("lr");
    std::fs::create_dir(&lr).unwrap();
    let mut rng = Rng::new(8);
    for name in ["p0", "p1"] {
        image_io::save_png(
            &lr.join(format!("{name}.png")),
            &random(&mut rng, 3, H / 4, W / 4).to_rgb8().unwrap(),
        )
        .unwrap();
    }
    let out = dir.path().join("sr");
    ok(ddr(&["sr", "--ckpt", &s(&model), "--input", &s(&lr), "--cond", &s(&maps), "--output", &s(&out)]));
    assert_eq!(image_io::load(&out.join("p1.png")).unwrap().dimensions(), (W as u32, H as u32));

    // Refusals that name the fix.
    let refused = |text: &str| train_refused(dir.path(), text);
    let e = refused(&cfg_text.replace("cond_in = 3", "cond_in = 2"));
    assert!(e.contains("holds 3 maps per photo") && e.contains("cond_in = 3"), "{e}");
    let e = refused(&cfg_text.replace(&format!("val_maps = \"{}\"\n", s(&maps)), ""));
    assert!(e.contains("set data.val_maps"), "{e}");
    let e = refused(
        &cfg_text
            .replace("[data]\n", "[data]\nvarying = { blur_max = 3.0, noise_max = 30.0, kernel = 13 }\n"),
    );
    assert!(e.contains("choose one"), "{e}");
    let two = dir.path().join("two_maps");
    std::fs::create_dir(&two).unwrap();
    for name in ["p0", "p1"] {
        npy::write(&two.join(format!("{name}.npy")), &[2, H, W], &vec![0.5f32; 2 * H * W]).unwrap();
    }
    let e = refused(
        &cfg_text.replace(&format!("val_maps = \"{}\"", s(&maps)), &format!("val_maps = \"{}\"", s(&two))),
    );
    assert!(e.contains("data.val_maps: 2 maps per photo"), "{e}");
    let other = dir.path().join("other.pack");
    ok(ddr(&["data", "pack", &s(&photos.join("p1.png")), "-o", &s(&other)]));
    let e = refused(&cfg_text.replace(&s(&pack), &s(&other)));
    assert!(e.contains("holds 2 entries") && e.contains("data pack --maps"), "{e}");
    let e =
        err(ddr(&["data", "pack", &s(&photos), "--maps", &s(&maps), "--downscale", "2", "-o", &s(&other)]));
    assert!(e.contains("--downscale"), "{e}");
    std::fs::remove_file(maps.join("p0.npy")).unwrap();
    let e =
        err(ddr(&["data", "pack", &s(&photos), "--maps", &s(&maps), "-o", &s(&dir.path().join("x.pack"))]));
    assert!(e.contains("no condition maps for `p0`"), "{e}");
    assert!(!dir.path().join("x.pack").exists() && !dir.path().join("x.maps.pack").exists());
}
