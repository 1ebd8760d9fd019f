//! Packs: many 8-bit RGB images in one file, read through a memory map without copies.
//!
//! Layout (version 1, all integers little-endian):
//!
//! ```text
//! 0   preamble, 64 bytes:
//!       magic "DDRPACK\0" | version u32 | count u32 | table offset u64 | table length u64 |
//!       file length u64 | table CRC-32 u32 | preamble CRC-32 u32 (of bytes 0..44) | 16 zero bytes
//! 64  pixels: image after image, each h rows of w pixels of c bytes (HWC), starting on a
//!     64-byte boundary (c is 3 for photos, 1 to 64 for a pack of condition maps)
//! ..  table: `count` entries of 48 bytes
//!       h u32 | w u32 | c u32 | pixel CRC-32 u32 | offset u64 | length u64 |
//!       name offset u32 | name length u32 | 8 zero bytes
//!     then the names, UTF-8, back to back
//! ```
//!
//! The table sits after the pixels so a pack is written in one streaming pass, whatever its size;
//! the preamble, written last, points to it. Opening checks everything that could make a read go
//! wrong (magic, version, both header checksums, the file length, every offset and size), so a
//! truncated or damaged file is an error naming it, never a panic. Pixel checksums are checked on
//! an image's first read ([`Pack::image`]) or all at once ([`Pack::verify`]).
//!
//! Writes are atomic (`<file>.tmp`, fsync, rename): a failed `pack` never leaves a half-written
//! file under the pack's name, and a reader that has the old pack mapped keeps reading the old
//! file.

use super::Image;
use crate::io::AtomicFile;
use crate::Result;
use anyhow::{bail, ensure, Context};
use memmap2::Mmap;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};

pub const MAGIC: &[u8; 8] = b"DDRPACK\0";
pub const VERSION: u32 = 1;
const PREAMBLE: usize = 64;
const ENTRY: usize = 48;
const ALIGN: u64 = 64;
/// Photos have 3 channels (or 1); a pack of condition maps has one channel per map.
pub const MAX_CHANNELS: usize = super::cond_maps::MAX_MAPS;

/// Where one image lives in a pack.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub crc: u32,
    pub offset: usize,
    pub len: usize,
    pub name: String,
}

/// One image of an open pack: its shape, name and pixels (borrowed from the map).
pub struct PackImage<'a> {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub name: &'a str,
    pub pixels: &'a [u8],
}

const UNCHECKED: u8 = 0;
const GOOD: u8 = 1;
const BAD: u8 = 2;

/// An open pack.
pub struct Pack {
    path: PathBuf,
    map: Mmap,
    entries: Vec<Entry>,
    checked: Vec<AtomicU8>,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

impl Pack {
    /// True when `path` is a file that starts with the pack magic (whether or not the rest is
    /// valid: [`Pack::open`] says what is wrong with it).
    pub fn is_pack(path: &Path) -> bool {
        use std::io::Read;
        let mut head = [0u8; 8];
        std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok_and(|_| &head == MAGIC)
    }

    /// Maps and validates `path`. Errors name the file and what is wrong with it.
    pub fn open(path: &Path) -> Result<Pack> {
        let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        // SAFETY: the map is read-only. Packs are only ever replaced by rename (see
        // `PackWriter`), which leaves this file's contents untouched; another program writing
        // into a pack in place while it is open is outside what this reader can defend against.
        let map = unsafe { Mmap::map(&file) }.with_context(|| format!("cannot map {}", path.display()))?;
        let (entries, _) = parse(&map).with_context(|| format!("{} is not a valid pack", path.display()))?;
        let checked = entries.iter().map(|_| AtomicU8::new(UNCHECKED)).collect();
        #[cfg(unix)]
        {
            // Crops touch a few rows here and there: read-ahead would only bring in pages that
            // are dropped again unused.
            let _ = map.advise(memmap2::Advice::Random);
        }
        Ok(Pack { path: path.to_owned(), map, entries, checked })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Image `i`, its checksum verified on the first read (a damaged image is an error every
    /// time it is read).
    pub fn image(&self, i: usize) -> Result<PackImage<'_>> {
        let e = self.entries.get(i).with_context(|| {
            format!("{}: no image {i} (the pack holds {})", self.path.display(), self.len())
        })?;
        let pixels = &self.map[e.offset..e.offset + e.len];
        match self.checked[i].load(Ordering::Acquire) {
            GOOD => {}
            BAD => bail!("{}", self.corrupt(e)),
            _ => {
                let ok = crc32fast::hash(pixels) == e.crc;
                self.checked[i].store(if ok { GOOD } else { BAD }, Ordering::Release);
                // The check read every page of the image; let them go (they stay in the page
                // cache) so resident memory does not grow with the part of the pack seen.
                self.release(i, 0, e.h);
                ensure!(ok, "{}", self.corrupt(e));
            }
        }
        Ok(PackImage { h: e.h, w: e.w, c: e.c, name: &e.name, pixels })
    }

    fn corrupt(&self, e: &Entry) -> String {
        format!(
            "{}: image `{}` is corrupt (its pixels do not match their checksum)",
            self.path.display(),
            e.name
        )
    }

    /// Checks every image's checksum; the first damaged one is an error naming it.
    pub fn verify(&self) -> Result<()> {
        (0..self.len()).try_for_each(|i| self.image(i).map(|_| ()))
    }

    /// The window of image `i` with top-left (`y`, `x`) and size `h x w`, as f32 planes in
    /// [0, 1]. The rows read are released afterwards (see [`Pack::release`]).
    pub fn window(&self, i: usize, y: usize, x: usize, h: usize, w: usize) -> Result<Image> {
        let img = self.image(i)?;
        ensure!(
            y + h <= img.h && x + w <= img.w,
            "{}: window {h}x{w} at ({y}, {x}) leaves image `{}` ({}x{})",
            self.path.display(),
            img.name,
            img.h,
            img.w
        );
        let c = img.c;
        let mut data = vec![0.0f32; c * h * w];
        for r in 0..h {
            let row = &img.pixels[((y + r) * img.w + x) * c..((y + r) * img.w + x + w) * c];
            for (ch, plane) in data.chunks_exact_mut(h * w).enumerate() {
                let dst = &mut plane[r * w..(r + 1) * w];
                for (d, &s) in dst.iter_mut().zip(row[ch..].iter().step_by(c)) {
                    *d = s as f32 / 255.0;
                }
            }
        }
        self.release(i, y, y + h);
        Image::new(c, h, w, data)
    }

    /// Drops this process's mapping of rows `y0..y1` of image `i`. The pages stay in the page
    /// cache, so a later read costs a minor fault, not a disk read; what goes is their share of
    /// this process's resident memory, which would otherwise grow to the whole pack as crops
    /// wander over it.
    pub fn release(&self, i: usize, y0: usize, y1: usize) {
        #[cfg(unix)]
        {
            let e = &self.entries[i];
            let row = e.w * e.c;
            // A page fault maps more than the page: the kernel's fault-around block and whole
            // large page-cache folios, up to 2 MiB. Releasing only the rows read left about
            // 240 KiB per crop mapped (measured on Linux 6.18), which piled up with the size of
            // the pack; so the span is widened to 2 MiB boundaries.
            let start = align_down(e.offset + y0 * row, MAP_GRANULE);
            let end = align_up(e.offset + y1.min(e.h) * row, MAP_GRANULE).min(self.map.len());
            if end > start {
                // SAFETY: the map is a read-only shared file mapping. MADV_DONTNEED on it only
                // unmaps pages; the next access maps the same file bytes again, so no borrowed
                // slice (here or on another thread) ever sees different contents.
                // A failure only means the pages stay mapped a while longer.
                let _ = unsafe {
                    self.map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
                };
            }
        }
        #[cfg(not(unix))]
        let _ = (i, y0, y1);
    }
}

/// The largest block a fault on a file mapping may map at once (a PMD-sized folio on x86-64 and
/// arm64 with 4 KiB pages).
#[cfg(unix)]
const MAP_GRANULE: usize = 2 << 20;

#[cfg(unix)]
fn align_down(v: usize, a: usize) -> usize {
    v / a * a
}

#[cfg(unix)]
fn align_up(v: usize, a: usize) -> usize {
    v.div_ceil(a) * a
}

/// Validates a whole pack held in `b`; returns its entries and the table offset.
fn parse(b: &[u8]) -> Result<(Vec<Entry>, usize)> {
    ensure!(
        b.len() >= PREAMBLE,
        "the file is {} bytes long, too short for a pack header ({PREAMBLE} bytes); was it truncated?",
        b.len()
    );
    ensure!(&b[..8] == MAGIC, "wrong magic bytes: this is not a ddr-engine pack");
    ensure!(
        crc32fast::hash(&b[..44]) == u32_at(b, 44),
        "the header is damaged (its checksum does not match)"
    );
    let version = u32_at(b, 8);
    ensure!(
        version == VERSION,
        "pack version {version} is not supported (this build reads version {VERSION})"
    );
    let count = u32_at(b, 12) as usize;
    let (table_off, table_len, file_len) = (u64_at(b, 16), u64_at(b, 24), u64_at(b, 32));
    ensure!(
        file_len == b.len() as u64,
        "the header says the file is {file_len} bytes but it is {} bytes{}",
        b.len(),
        if (b.len() as u64) < file_len { ": it was truncated" } else { "" }
    );
    let table_end = table_off.checked_add(table_len);
    ensure!(
        table_off >= PREAMBLE as u64 && table_end == Some(file_len),
        "the image table ({table_len} bytes at {table_off}) does not end the file"
    );
    let (table_off, table_len) = (table_off as usize, table_len as usize);
    let table = &b[table_off..];
    ensure!(
        crc32fast::hash(table) == u32_at(b, 40),
        "the image table is damaged (its checksum does not match)"
    );
    let names_at = count
        .checked_mul(ENTRY)
        .filter(|&n| n <= table_len)
        .with_context(|| format!("the table is too short for {count} images"))?;
    let names = &table[names_at..];
    let mut entries = Vec::with_capacity(count);
    for i in 0..count {
        let t = &table[i * ENTRY..(i + 1) * ENTRY];
        let (h, w, c) = (u32_at(t, 0) as usize, u32_at(t, 4) as usize, u32_at(t, 8) as usize);
        let (offset, len) = (u64_at(t, 16), u64_at(t, 24));
        let (name_off, name_len) = (u32_at(t, 32) as usize, u32_at(t, 36) as usize);
        let name = name_off
            .checked_add(name_len)
            .and_then(|end| names.get(name_off..end))
            .with_context(|| format!("image {i}: its name lies outside the table"))?;
        let name = std::str::from_utf8(name).map_err(|_| {
            anyhow::anyhow!("image {i}: its name is not UTF-8 ({})", String::from_utf8_lossy(name))
        })?;
        ensure!(
            h > 0 && w > 0 && (1..=MAX_CHANNELS).contains(&c),
            "image {i} (`{name}`): impossible shape {h}x{w}x{c}"
        );
        // Checked: a forged shape must not wrap around to the recorded length.
        let want = (h as u64).checked_mul(w as u64).and_then(|v| v.checked_mul(c as u64));
        let want = want
            .filter(|&v| v <= isize::MAX as u64)
            .with_context(|| format!("image {i} (`{name}`): a {h}x{w}x{c} image is too large to address"))?;
        ensure!(len == want, "image {i} (`{name}`): {len} bytes recorded for a {h}x{w}x{c} image");
        ensure!(
            offset >= PREAMBLE as u64 && offset.checked_add(len).is_some_and(|e| e <= table_off as u64),
            "image {i} (`{name}`): its pixels ({len} bytes at {offset}) lie outside the pixel area"
        );
        entries.push(Entry {
            h,
            w,
            c,
            crc: u32_at(t, 12),
            offset: offset as usize,
            len: len as usize,
            name: name.to_owned(),
        });
    }
    Ok((entries, table_off))
}

/// Writes a pack image by image; nothing appears under the pack's name until
/// [`PackWriter::finish`] succeeds.
pub struct PackWriter {
    file: AtomicFile,
    path: PathBuf,
    pos: u64,
    table: Vec<u8>,
    names: Vec<u8>,
    count: u32,
}

impl PackWriter {
    pub fn create(path: &Path) -> Result<PackWriter> {
        let mut file = AtomicFile::create(path)?;
        file.writer()
            .write_all(&[0u8; PREAMBLE])
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(PackWriter {
            file,
            path: path.to_owned(),
            pos: PREAMBLE as u64,
            table: Vec::new(),
            names: Vec::new(),
            count: 0,
        })
    }

    fn io<T>(&self, r: std::io::Result<T>) -> Result<T> {
        r.with_context(|| format!("cannot write {}", self.file.tmp_path().display()))
    }

    /// Appends an image of `h` rows of `w` pixels of `c` bytes (HWC).
    pub fn add(&mut self, name: &str, h: usize, w: usize, c: usize, pixels: &[u8]) -> Result<()> {
        ensure!(
            pixels.len() == h * w * c && h > 0 && w > 0 && (1..=MAX_CHANNELS).contains(&c),
            "`{name}`: {} bytes do not make a {h}x{w}x{c} image",
            pixels.len()
        );
        ensure!(
            h <= u32::MAX as usize && w <= u32::MAX as usize && self.count < u32::MAX,
            "`{name}`: too large for a pack"
        );
        let pad = (ALIGN - self.pos % ALIGN) % ALIGN;
        let r = self.file.writer().write_all(&[0u8; ALIGN as usize][..pad as usize]);
        self.io(r)?;
        let offset = self.pos + pad;
        let r = self.file.writer().write_all(pixels);
        self.io(r)?;
        self.pos = offset + pixels.len() as u64;
        for v in [h as u32, w as u32, c as u32, crc32fast::hash(pixels)] {
            self.table.extend_from_slice(&v.to_le_bytes());
        }
        self.table.extend_from_slice(&offset.to_le_bytes());
        self.table.extend_from_slice(&(pixels.len() as u64).to_le_bytes());
        self.table.extend_from_slice(&(self.names.len() as u32).to_le_bytes());
        self.table.extend_from_slice(&(name.len() as u32).to_le_bytes());
        self.table.extend_from_slice(&[0u8; 8]);
        self.names.extend_from_slice(name.as_bytes());
        self.count += 1;
        Ok(())
    }

    pub fn add_rgb(&mut self, name: &str, img: &image::RgbImage) -> Result<()> {
        let (w, h) = img.dimensions();
        self.add(name, h as usize, w as usize, 3, img.as_raw())
    }

    /// Writes the table and the header and puts the pack in place. Returns its size in bytes.
    pub fn finish(mut self) -> Result<u64> {
        let mut table = std::mem::take(&mut self.table);
        table.extend_from_slice(&self.names);
        let table_off = self.pos;
        let file_len = table_off + table.len() as u64;
        let mut pre = Vec::with_capacity(PREAMBLE);
        pre.extend_from_slice(MAGIC);
        pre.extend_from_slice(&VERSION.to_le_bytes());
        pre.extend_from_slice(&self.count.to_le_bytes());
        pre.extend_from_slice(&table_off.to_le_bytes());
        pre.extend_from_slice(&(table.len() as u64).to_le_bytes());
        pre.extend_from_slice(&file_len.to_le_bytes());
        pre.extend_from_slice(&crc32fast::hash(&table).to_le_bytes());
        let crc = crc32fast::hash(&pre);
        pre.extend_from_slice(&crc.to_le_bytes());
        pre.resize(PREAMBLE, 0);
        let w = self.file.writer();
        let r = w.write_all(&table).and_then(|_| w.seek(SeekFrom::Start(0))).and_then(|_| w.write_all(&pre));
        self.io(r)?;
        let path = self.path.clone();
        self.file.commit().with_context(|| format!("cannot finish {}", path.display()))?;
        Ok(file_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preamble_and_entries_have_their_documented_sizes() {
        let dir = std::env::temp_dir().join(format!("ddr-pack-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.pack");
        let mut w = PackWriter::create(&path).unwrap();
        w.add("one", 2, 3, 3, &[7u8; 18]).unwrap();
        w.add("two", 1, 1, 1, &[9u8; 1]).unwrap();
        let len = w.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len() as u64, len);
        // 64 preamble + 18 pixels, padded to 128 for the second image + 1 pixel, table.
        assert_eq!(u64_at(&bytes, 16), 129);
        assert_eq!(len, 129 + 2 * ENTRY as u64 + 6);
        let (entries, _) = parse(&bytes).unwrap();
        assert_eq!(entries[1].offset, 128);
        assert_eq!(entries[0].name, "one");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
