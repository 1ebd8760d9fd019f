//! SFT-GAN's generator through the CLI: `sr` with condition maps from a .npy file or a folder
//! (the output moving with the maps, tiles equal to whole images, clear refusals for missing or
//! misshapen maps), and `train` on varying degradations whose maps it reads.

mod common;

use common::cli::{bare_checkpoint, ddr, err, ok, train_gan_smoke, train_refused};
use ddr_engine::data::{image_io, Image};
use ddr_engine::infer::{super_resolve_with, Tiling};
use ddr_engine::io::npy;
use ddr_engine::nn::checkpoint;
use ddr_engine::nn::models::Arch;
use ddr_engine::{Device, Rng};
use std::path::Path;

const ARCH: Arch = Arch::Sftgan { nf: 8, nb: 2, cond_in: 2, cond_mid: 8, cond_nf: 4, cond_down: 4 };

fn save_png(path: &Path, img: &Image) {
    image_io::save_png(path, &img.to_rgb8().unwrap()).unwrap();
}

fn random(rng: &mut Rng, c: usize, h: usize, w: usize, lo: f32, hi: f32) -> Image {
    Image::new(c, h, w, (0..c * h * w).map(|_| lo + (hi - lo) * rng.uniform_f32()).collect()).unwrap()
}

#[test]
fn sr_reads_condition_maps_and_refuses_wrong_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (mut net, mut p) = ARCH.build(&Device::Cpu, 5).unwrap();
    // Large weights so that the maps move the output visibly after rounding to 8 bits.
    let values: Vec<f32> = p.values.to_vec().unwrap().iter().map(|v| v * 8.0).collect();
    p.load_values(&values).unwrap();
    let ck = bare_checkpoint(&ARCH, values);
    let ckpt = dir.path().join("sft.safetensors");
    checkpoint::save(&ckpt, &ck).unwrap();
    let mut rng = Rng::new(6);
    let (h, w) = (11, 14);
    let img = random(&mut rng, 3, h, w, 0.2, 0.8);
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    save_png(&input.join("a.png"), &img);
    let img = Image::from_rgb8(&image_io::load(&input.join("a.png")).unwrap());
    let maps_dir = dir.path().join("maps");
    std::fs::create_dir(&maps_dir).unwrap();
    let (low, high) =
        (random(&mut rng, 2, h * 4, w * 4, 0.0, 0.1), random(&mut rng, 2, h * 4, w * 4, 0.9, 1.0));
    let write_maps = |path: &Path, m: &Image| npy::write(path, &[m.c, m.h, m.w], &m.data).unwrap();
    write_maps(&maps_dir.join("a.npy"), &low);
    write_maps(&dir.path().join("high.npy"), &high);

    let s = |p: &Path| p.to_str().unwrap().to_string();
    let sr = |cond: &Path, out: &Path| {
        ddr(&["sr", "--ckpt", &s(&ckpt), "--input", &s(&input), "--cond", &s(cond), "--output", &s(out)])
    };
    let (out_low, out_high) = (dir.path().join("out_low"), dir.path().join("out_high"));
    ok(sr(&maps_dir, &out_low));
    ok(sr(&dir.path().join("high.npy"), &out_high));
    let (a, b) =
        (std::fs::read(out_low.join("a.png")).unwrap(), std::fs::read(out_high.join("a.png")).unwrap());
    assert_ne!(a, b, "the condition maps do not reach the output");
    // The CLI's output is the library's, rounded.
    let want = super_resolve_with(net.as_mut(), &mut p, &img, Some(&low), None).unwrap();
    assert_eq!(image_io::load(&out_low.join("a.png")).unwrap(), want.to_rgb8().unwrap());
    // Tiles cut the maps with the image: equal to the whole image (nb 2: an overlap of 8 covers
    // the receptive field, as for MSRResNet).
    let tiled =
        super_resolve_with(net.as_mut(), &mut p, &img, Some(&low), Some(Tiling { tile: 8, overlap: 8 }))
            .unwrap();
    let d = want.data.iter().zip(&tiled.data).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(d <= 1e-5, "tiled output differs by {d}");

    // Refusals, each before anything is written.
    let out = dir.path().join("out_bad");
    let e = err(ddr(&["sr", "--ckpt", &s(&ckpt), "--input", &s(&input), "--output", &s(&out)]));
    assert!(e.contains("reads 2 condition maps") && e.contains("--cond"), "{e}");
    let e = err(sr(&dir.path().join("missing"), &out));
    assert!(e.contains("does not exist") || e.contains("No such file"), "{e}");
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let e = err(sr(&dir.path().join("empty"), &out));
    assert!(e.contains("no condition maps for") && e.contains("a.npy"), "{e}");
    write_maps(&dir.path().join("small.npy"), &random(&mut rng, 2, h, w, 0.0, 1.0));
    let e = err(sr(&dir.path().join("small.npy"), &out));
    assert!(e.contains("for a 11x14 image this network reads 2x44x56"), "{e}");
    npy::write(&dir.path().join("flat.npy"), &[2 * 44, 56], &vec![0.5f32; 2 * 44 * 56]).unwrap();
    let e = err(sr(&dir.path().join("flat.npy"), &out));
    assert!(e.contains("3-D array"), "{e}");
    let mut nan = low.clone();
    nan.data[7] = f32::NAN;
    write_maps(&dir.path().join("nan.npy"), &nan);
    let e = err(sr(&dir.path().join("nan.npy"), &out));
    assert!(e.contains("NaN"), "{e}");
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none(), "nothing written");

    // An unconditioned network refuses maps.
    let plain = Arch::Msrresnet { nf: 4, nb: 1, scale: 4, global_residual: true };
    let (_, pp) = plain.build(&Device::Cpu, 0).unwrap();
    let plain_ck = bare_checkpoint(&plain, pp.values.to_vec().unwrap());
    checkpoint::save(&dir.path().join("plain.safetensors"), &plain_ck).unwrap();
    let e = err(ddr(&[
        "sr",
        "--ckpt",
        &s(&dir.path().join("plain.safetensors")),
        "--input",
        &s(&input),
        "--cond",
        &s(&maps_dir),
        "--output",
        &s(&out),
    ]));
    assert!(e.contains("takes no condition maps"), "{e}");
}

const SFT_TRAIN: &str = r#"
[model]
kind = "sftgan"
nf = 8
nb = 1
cond_in = 2
cond_mid = 8
cond_nf = 4
cond_down = 4

[data]
train = "PACK"
val = "builtin"
lr_patch = 8
batch = 2
val_crop = 64
val_images = 2
workers = 1
varying = { blur_max = 3.0, noise_max = 30.0, kernel = 13 }

[run]
iterations = 4
ckpt_every = 2
val_every = 2
log_every = 1
"#;

#[test]
fn sftgan_trains_on_varying_degradations_and_runs_with_its_maps() {
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("builtin.pack");
    ok(ddr(&["data", "pack", "--builtin", "-o", pack.to_str().unwrap()]));
    let cfg_text = SFT_TRAIN.replace("PACK", pack.to_str().unwrap());
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let cfg = write("sft.toml", &cfg_text);
    let run = dir.path().join("run");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    ok(ddr(&["train", "--config", &cfg, "--out", &s(&run), "--quiet"]));
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert!(metrics.contains("\"val_psnr_y\""), "validation ran with maps: {metrics}");
    // The trained generator super-resolves with maps.
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let mut rng = Rng::new(9);
    save_png(&input.join("a.png"), &random(&mut rng, 3, 10, 12, 0.0, 1.0));
    let maps = random(&mut rng, 2, 40, 48, 0.0, 1.0);
    npy::write(&dir.path().join("a.npy"), &[2, 40, 48], &maps.data).unwrap();
    let model = run.join("model.safetensors");
    ok(ddr(&[
        "sr",
        "--ckpt",
        &s(&model),
        "--input",
        &s(&input),
        "--cond",
        &s(&dir.path().join("a.npy")),
        "--output",
        &s(&dir.path().join("out")),
    ]));
    assert!(dir.path().join("out/a.png").exists());

    // GAN mode, against SRGAN's discriminator here (tests/cli_sftgan_maps.rs uses SFT-GAN's).
    let gan_run = train_gan_smoke(dir.path(), &cfg_text, &model, "");
    let gan_metrics = std::fs::read_to_string(gan_run.join("metrics.jsonl")).unwrap();
    assert!(gan_metrics.contains("\"l_g_gan\"") && gan_metrics.contains("\"l_d_real\""), "{gan_metrics}");

    // MSRResNet trains on the same data and ignores the maps (SFT-GAN's baseline).
    let plain = cfg_text
        .replace("kind = \"sftgan\"", "kind = \"msrresnet\"\nscale = 4\nglobal_residual = true")
        .replace("cond_in = 2\ncond_mid = 8\ncond_nf = 4\ncond_down = 4\n", "");
    ok(ddr(&[
        "train",
        "--config",
        &write("plain.toml", &plain),
        "--out",
        &s(&dir.path().join("plain")),
        "--quiet",
        "--set",
        "run.iterations=2",
    ]));

    // Refusals that name the fix.
    let refused = |text: &str| train_refused(dir.path(), text);
    let e = refused(&cfg_text.replace("varying = { blur_max = 3.0, noise_max = 30.0, kernel = 13 }\n", ""));
    assert!(e.contains("set data.varying"), "{e}");
    let e = refused(&cfg_text.replace("cond_in = 2", "cond_in = 3"));
    assert!(e.contains("cond_in = 2"), "{e}");
    let e = refused(&cfg_text.replace("[data]\n", "[data]\ndegradations = \"noise:5\"\n"));
    assert!(e.contains("replaces data.degradations"), "{e}");
    let e = refused(&cfg_text.replace("kernel = 13", "kernel = 12"));
    assert!(e.contains("kernel must be odd"), "{e}");
}
