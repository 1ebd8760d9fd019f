//! `ddr-engine data ...` end to end on tiny generated folders.

mod common;

use common::cli::ddr;
use std::path::Path;

fn ok(args: &[&str]) -> String {
    let out = ddr(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?} failed: {err}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Stderr of a run that must fail (non-zero exit, no panic).
fn fails(args: &[&str]) -> String {
    let out = ddr(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{args:?} should have failed");
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// A folder of small textured photos: two PNGs and a JPEG.
fn photos(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for (i, (name, w, h)) in [("a.png", 70, 50), ("b.png", 64, 64), ("c.jpg", 81, 47)].into_iter().enumerate()
    {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            let v = (x * 7 + y * 13 + i as u32 * 50) % 256;
            image::Rgb([v as u8, (255 - v) as u8, ((x * y) % 256) as u8])
        });
        img.save(dir.join(name)).unwrap();
    }
}

/// A temporary folder with `photos/` filled by [`photos`].
fn photo_dir() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("photos");
    photos(&src);
    (dir, src)
}

/// `data degrade SRC -o OUT --pipeline SPEC` followed by `extra`.
fn degrade<'a>(src: &'a Path, out: &'a Path, spec: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["data", "degrade", s(src), "-o", s(out), "--pipeline", spec];
    v.extend_from_slice(extra);
    v
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn pack_stops_on_a_corrupt_image_or_skips_it_with_a_warning() {
    let (dir, src) = photo_dir();
    std::fs::write(src.join("broken.png"), b"\x89PNG\r\n\x1a\n not really").unwrap();
    let out = dir.path().join("p.pack");

    // An existing pack must survive the failed run untouched.
    ok(&["data", "pack", s(&src.join("a.png")), "-o", s(&out)]);
    let before = std::fs::read(&out).unwrap();
    let err = fails(&["data", "pack", s(&src), "-o", s(&out)]);
    assert!(err.contains("broken.png") && err.contains("nothing written"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), before);
    assert!(!dir.path().join("p.pack.tmp").exists());

    let o = ddr(&["data", "pack", s(&src), "-o", s(&out), "--skip-bad"]);
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("warning") && err.contains("broken.png"), "{err}");
    let stdout = ok(&["data", "verify", s(&out)]);
    assert!(stdout.contains("3 images"), "{stdout}");
}

#[test]
fn pack_refuses_to_replace_one_of_its_photos() {
    let (_dir, src) = photo_dir();
    let photo = src.join("a.png");
    let before = std::fs::read(&photo).unwrap();
    let e = fails(&["data", "pack", s(&photo), "-o", s(&photo)]);
    assert!(e.contains("is one of the photos to pack"), "{e}");
    let e = fails(&["data", "pack", s(&src), "-o", s(&photo)]);
    assert!(e.contains("is one of the photos to pack"), "{e}");
    assert_eq!(std::fs::read(&photo).unwrap(), before);
}

#[test]
fn pack_cuts_sub_images_and_verify_catches_damage() {
    let (dir, src) = photo_dir();
    let out = dir.path().join("p.pack");
    let args = ["data", "pack", s(&src), "-o", s(&out), "--mod-crop", "4"];
    let stdout = ok(&[&args[..], &["--sub-size", "32", "--sub-step", "24"]].concat());
    // After mod-crop 4: 68x48 -> 3x2 windows, 64x64 -> 3x3, 80x44 -> 3x2 (tails included).
    assert!(stdout.contains("21 images from 3 photos"), "{stdout}");

    let mut bytes = std::fs::read(&out).unwrap();
    bytes[200] ^= 0xff;
    std::fs::write(&out, &bytes).unwrap();
    let err = fails(&["data", "verify", s(&out)]);
    assert!(err.contains("p.pack") && err.contains("corrupt"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

fn read_manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
}

#[test]
fn degrade_is_deterministic_and_records_each_images_parameters() {
    let (dir, src) = photo_dir();
    let spec = "blur:7:1-3,bicubic:1/2,noise:5-30,jpeg:40-90";
    let run = |out: &str, seed: &str| {
        let out = dir.path().join(out);
        ok(&degrade(&src, &out, spec, &["--seed", seed, "--mod-crop", "2"]));
        out
    };
    let (a, b, c) = (run("a", "7"), run("b", "7"), run("c", "8"));
    for name in ["a.png", "b.png", "c.png"] {
        let (x, y) = (std::fs::read(a.join(name)).unwrap(), std::fs::read(b.join(name)).unwrap());
        assert_eq!(x, y, "{name}: same seed, different bytes");
        assert_ne!(x, std::fs::read(c.join(name)).unwrap(), "{name}: seed ignored");
    }
    let m = read_manifest(&a);
    assert_eq!(m["pipeline"], "blur:7:1-3,bicubic:0.5,noise:5-30,jpeg:40-90");
    let images = m["images"].as_array().unwrap();
    assert_eq!(images.len(), 3);
    let first = &images[0];
    assert_eq!(first["name"], "a");
    assert_eq!(first["hr_size"], serde_json::json!([50, 70]));
    assert_eq!(first["lr_size"], serde_json::json!([25, 35]));
    let steps = first["steps"].as_array().unwrap();
    assert_eq!(steps[0]["op"], "blur");
    let sigma = steps[0]["sigma"].as_f64().unwrap();
    assert!((1.0..3.0).contains(&sigma));
    let q = steps[3]["quality"].as_u64().unwrap();
    assert!((40..=90).contains(&q));
    // Images draw independently: not all three got the same blur.
    let sigmas: Vec<_> = images.iter().map(|i| i["steps"][0]["sigma"].clone()).collect();
    assert!(sigmas[0] != sigmas[1] || sigmas[1] != sigmas[2]);
    let lr = image::open(a.join("a.png")).unwrap();
    assert_eq!((lr.width(), lr.height()), (35, 25));
}

#[test]
fn degrade_reads_packs_and_marks_skipped_steps() {
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("p.pack");
    ok(&["data", "pack", "--builtin", "-o", s(&pack), "--downscale", "4"]);
    let out = dir.path().join("lr");
    let hr = dir.path().join("hr");
    let spec = "bicubic:1/4,noise:10@0.5";
    let extra = ["--hr", s(&hr), "--mod-crop", "4"];
    ok(&degrade(&pack, &out, spec, &extra));
    let m = read_manifest(&out);
    let images = m["images"].as_array().unwrap();
    assert_eq!(images.len(), 5);
    let skipped = images.iter().filter(|i| i["steps"][1]["skipped"] == true).count();
    assert!(skipped < 5, "probability 0.5 skipped every image");
    let astro_hr = image::open(hr.join("astronaut.png")).unwrap();
    assert_eq!(astro_hr.width(), 128);
    let astro_lr = image::open(out.join("astronaut.png")).unwrap();
    assert_eq!(astro_lr.width(), 32);
}

#[test]
fn bad_arguments_are_clear_errors() {
    let (dir, src) = photo_dir();
    let out = dir.path().join("o");
    let err = fails(&degrade(&src, &out, "blur:4:2", &[]));
    assert!(err.contains("odd"), "{err}");
    let err = fails(&["data", "pack", s(&dir.path().join("nowhere")), "-o", s(&out)]);
    assert!(err.contains("nowhere"), "{err}");
    let not_pack = src.join("a.png");
    let err = fails(&["data", "verify", s(&not_pack)]);
    assert!(err.contains("a.png") && err.contains("wrong magic"), "{err}");
}

#[test]
fn every_data_command_explains_itself_with_an_example() {
    for cmd in ["pack", "degrade", "verify", "export-photos", "bench-loader"] {
        let help = ok(&["data", cmd, "--help"]);
        assert!(help.contains("Example"), "{cmd}: {help}");
    }
}

#[test]
fn export_photos_writes_the_photos_and_their_licences() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ph");
    ok(&["data", "export-photos", s(&out)]);
    let licences = std::fs::read_to_string(out.join("LICENSES.md")).unwrap();
    for f in ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "hubble_deep_field.jpg"] {
        assert!(out.join(f).exists() && licences.contains(f), "{f}");
    }
}

#[test]
fn bench_loader_reports_rate_and_memory() {
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("p.pack");
    ok(&["data", "pack", "--builtin", "-o", s(&pack)]);
    let out = ok(&[
        "data",
        "bench-loader",
        s(&pack),
        "--batches",
        "3",
        "--warmup",
        "1",
        "--batch",
        "2",
        "--degradations",
        "blur:21:2@0.5,bilinear:1/4,noise:25.5@0.5",
    ]);
    assert!(out.contains("batches/s") && out.contains("peak"), "{out}");
}

#[test]
fn a_failed_degrade_leaves_the_previous_set_intact() {
    let (dir, src) = photo_dir();
    let out = dir.path().join("set");
    let spec = "bicubic:1/2,noise:5-30";
    let first = ["--seed", "1", "--mod-crop", "4"];
    ok(&degrade(&src, &out, spec, &first));
    let before: Vec<Vec<u8>> =
        ["a.png", "b.png", "manifest.json"].iter().map(|f| std::fs::read(out.join(f)).unwrap()).collect();
    // A 2x2 photo cannot be mod-cropped to 4: this run fails after degrading the others (with
    // another seed, so replaced files would differ).
    image::RgbImage::new(2, 2).save(src.join("z.png")).unwrap();
    let err = fails(&degrade(&src, &out, spec, &["--seed", "2", "--mod-crop", "4"]));
    assert!(err.contains("z") && err.contains("mod-crop"), "{err}");
    for (f, b) in ["a.png", "b.png", "manifest.json"].iter().zip(&before) {
        assert_eq!(&std::fs::read(out.join(f)).unwrap(), b, "{f} was touched");
    }
    assert!(!out.join("z.png").exists() && !out.join(".ddr-partial").exists());
    // Writing the outputs over the photos themselves is refused.
    let err = fails(&degrade(&src, &src, spec, &[]));
    assert!(err.contains("input folder"), "{err}");
}
