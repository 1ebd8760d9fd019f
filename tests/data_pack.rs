//! Packs: bit-exact round trips, and damaged files give errors that name them, never a panic
//! and never wrong pixels.

use ddr_engine::data::pack::{Pack, PackWriter};
use ddr_engine::Rng;
use std::path::Path;

fn images() -> Vec<(String, usize, usize, usize, Vec<u8>)> {
    let mut rng = Rng::new(11);
    [(5, 7, 3), (1, 1, 3), (9, 4, 1), (3, 16, 3)]
        .iter()
        .enumerate()
        .map(|(i, &(h, w, c))| {
            let px = (0..h * w * c).map(|_| rng.below(256) as u8).collect();
            (format!("img_{i}.png"), h, w, c, px)
        })
        .collect()
}

fn write(path: &Path) {
    let mut w = PackWriter::create(path).unwrap();
    for (name, h, w_, c, px) in images() {
        w.add(&name, h, w_, c, &px).unwrap();
    }
    w.finish().unwrap();
}

/// A temporary folder holding a freshly written `p.pack`, its path and its bytes.
fn fresh() -> (tempfile::TempDir, std::path::PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.pack");
    write(&path);
    let bytes = std::fs::read(&path).unwrap();
    (dir, path, bytes)
}

fn err_of(r: Result<impl Sized, anyhow::Error>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn round_trip_is_bit_exact() {
    let (_dir, path, _) = fresh();
    let pack = Pack::open(&path).unwrap();
    pack.verify().unwrap();
    assert_eq!(pack.len(), 4);
    for (i, (name, h, w, c, px)) in images().into_iter().enumerate() {
        let img = pack.image(i).unwrap();
        assert_eq!((img.name, img.h, img.w, img.c), (name.as_str(), h, w, c));
        assert_eq!(img.pixels, &px[..]);
    }
    // A window reads the same bytes, as planes scaled to [0, 1].
    let win = pack.window(3, 1, 2, 2, 5).unwrap();
    let (_, _, w, c, px) = &images()[3];
    assert_eq!(win.data[0], px[(w + 2) * c] as f32 / 255.0);
    assert_eq!(win.data[10 + 4], px[(w + 6) * c + 1] as f32 / 255.0);
    assert!(pack.window(3, 2, 0, 2, 1).is_err());
    assert!(pack.image(4).is_err());
}

/// Writes `bytes` as `<dir>/bad.pack` and returns what opening it says; it must fail.
fn open_err(dir: &Path, bytes: &[u8]) -> String {
    let bad = dir.join("bad.pack");
    std::fs::write(&bad, bytes).unwrap();
    err_of(Pack::open(&bad))
}

fn assert_says(e: &str, words: &[&str]) {
    assert!(words.iter().all(|w| e.contains(w)), "{e}");
}

#[test]
fn truncated_and_foreign_files_are_errors_naming_the_file() {
    let (dir, _, good) = fresh();
    let d = dir.path();
    let e = open_err(d, &good[..good.len() - 10]);
    assert_says(&e, &["bad.pack", "truncated"]);
    assert_says(&open_err(d, &good[..20]), &["bad.pack", "too short"]);
    let mut foreign = good.clone();
    foreign[..8].copy_from_slice(b"GIF89a\0\0");
    assert_says(&open_err(d, &foreign), &["bad.pack", "wrong magic"]);
    let e = err_of(Pack::open(&d.join("missing.pack")));
    assert_says(&e, &["missing.pack"]);
}

/// `good` with image 0's table entry rewritten by `edit` and both checksums made valid again:
/// damage that only the pack's own consistency checks can catch.
fn with_entry_0(good: &[u8], edit: impl Fn(&mut [u8])) -> Vec<u8> {
    with_table(good, |t| edit(&mut t[..48]))
}

/// `good` with its table (entries, then names) rewritten by `edit`, checksums made valid again.
fn with_table(good: &[u8], edit: impl Fn(&mut [u8])) -> Vec<u8> {
    let mut b = good.to_vec();
    let table = u64::from_le_bytes(b[16..24].try_into().unwrap()) as usize;
    edit(&mut b[table..]);
    let table_crc = crc32fast::hash(&b[table..]);
    b[40..44].copy_from_slice(&table_crc.to_le_bytes());
    let header_crc = crc32fast::hash(&b[..44]);
    b[44..48].copy_from_slice(&header_crc.to_le_bytes());
    b
}

#[test]
fn a_shape_whose_size_overflows_is_refused() {
    // One image with more pixel bytes than the wrapped size below, so only the size check can
    // catch the entry.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.pack");
    let mut writer = PackWriter::create(&path).unwrap();
    writer.add("img_0.png", 120, 120, 3, &vec![7u8; 120 * 120 * 3]).unwrap();
    writer.finish().unwrap();
    let good = std::fs::read(&path).unwrap();
    // h x w x c = 1431693603 x 4294853786 x 3 wraps around 2^64 to a small byte count.
    let (h, w, c) = (1431693603u32, 4294853786u32, 3u32);
    let wrapped = (h as u64).wrapping_mul(w as u64).wrapping_mul(c as u64);
    assert!(wrapped <= 120 * 120 * 3, "the test needs a small wrapped size, got {wrapped}");
    let b = with_entry_0(&good, |e| {
        e[0..4].copy_from_slice(&h.to_le_bytes());
        e[4..8].copy_from_slice(&w.to_le_bytes());
        e[8..12].copy_from_slice(&c.to_le_bytes());
        e[24..32].copy_from_slice(&wrapped.to_le_bytes());
    });
    assert_says(&open_err(dir.path(), &b), &["bad.pack", "img_0.png", "too large"]);
}

#[test]
fn a_name_that_is_not_utf8_is_reported_as_such() {
    let (dir, _, good) = fresh();
    let b = with_table(&good, |t| {
        let name_at = 4 * 48 + u32::from_le_bytes(t[32..36].try_into().unwrap()) as usize;
        t[name_at] = 0xFF;
    });
    let e = open_err(dir.path(), &b);
    assert_says(&e, &["image 0", "not UTF-8"]);
    assert!(!e.contains("outside the table"), "{e}");
}

#[test]
fn damaged_header_and_pixels_are_caught() {
    let (dir, _, good) = fresh();
    let d = dir.path();

    // A flipped bit in the header's count field.
    let mut b = good.clone();
    b[12] ^= 1;
    assert_says(&open_err(d, &b), &["bad.pack", "header is damaged"]);

    // A flipped bit in the table (the last byte is part of a name).
    let mut b = good.clone();
    *b.last_mut().unwrap() ^= 0x20;
    assert_says(&open_err(d, &b), &["bad.pack", "table is damaged"]);

    // A flipped bit in the pixels of image 0 (they start at byte 64): the pack opens, the
    // other images read, image 0 is an error on every read.
    let mut b = good.clone();
    b[64 + 3] ^= 0x10;
    let bad = d.join("bad.pack");
    std::fs::write(&bad, &b).unwrap();
    let pack = Pack::open(&bad).unwrap();
    assert!(pack.image(1).is_ok());
    for _ in 0..2 {
        let e = err_of(pack.image(0));
        assert_says(&e, &["bad.pack", "img_0.png", "corrupt"]);
    }
    assert!(pack.window(0, 0, 0, 1, 1).is_err());
    assert_says(&err_of(pack.verify()), &["img_0.png"]);
}

#[test]
fn no_single_byte_damage_or_truncation_yields_wrong_pixels() {
    // Every byte flipped in turn, and every truncation: each file either fails to open, or
    // fails on the damaged image, or reads back exactly the original pixels (a flip in padding
    // or reserved bytes changes nothing that is read).
    let (dir, _, good) = fresh();
    let originals = images();
    let bad = dir.path().join("bad.pack");
    let check = |bytes: &[u8]| {
        std::fs::write(&bad, bytes).unwrap();
        let Ok(pack) = Pack::open(&bad) else { return };
        assert_eq!(pack.len(), originals.len());
        for (i, (name, h, w, c, px)) in originals.iter().enumerate() {
            if let Ok(img) = pack.image(i) {
                assert_eq!((img.name, img.h, img.w, img.c), (name.as_str(), *h, *w, *c));
                assert_eq!(img.pixels, &px[..], "image {i} read back wrong");
            }
        }
    };
    for at in 0..good.len() {
        let mut b = good.clone();
        b[at] ^= 0x04;
        check(&b);
    }
    for len in 0..good.len() {
        check(&good[..len]);
    }
}

#[test]
fn a_failed_write_leaves_the_old_pack_alone() {
    let (dir, path, before) = fresh();
    {
        let mut w = PackWriter::create(&path).unwrap();
        w.add("x", 1, 1, 3, &[1, 2, 3]).unwrap();
        assert!(w.add("wrong size", 2, 2, 3, &[0; 5]).is_err());
        // Dropped without finish(), as when an image fails to decode.
    }
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1, "the temporary file was left behind");
}

/// This process's resident memory backed by files, in KiB (Linux).
#[cfg(target_os = "linux")]
fn rss_file_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("RssFile:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn reading_windows_does_not_keep_the_pack_resident() {
    // 24 images of 512x512 (18 MiB): every image is checksummed in full on its first read and
    // cropped many times. Without releasing the pages read, all 18 MiB would stay resident.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.pack");
    let mut w = PackWriter::create(&path).unwrap();
    let px: Vec<u8> = (0..512 * 512 * 3).map(|i| (i % 251) as u8).collect();
    for i in 0..24 {
        w.add(&format!("{i}"), 512, 512, 3, &px).unwrap();
    }
    w.finish().unwrap();
    let pack = Pack::open(&path).unwrap();
    let before = rss_file_kib();
    let mut rng = Rng::new(3);
    for _ in 0..300 {
        let i = rng.below(24) as usize;
        let (y, x) = (rng.below(400) as usize, rng.below(400) as usize);
        pack.window(i, y, x, 100, 100).unwrap();
    }
    let grown = rss_file_kib().saturating_sub(before);
    assert!(grown < 6 * 1024, "file-backed resident memory grew by {grown} KiB");
}
