//! Fuzzing the readers of untrusted files (packs, safetensors checkpoints, .npy arrays) with
//! mutated valid files: bit flips, boundary integers, truncations, insertions, splices, and for
//! packs the same damage with the checksums made valid again (so the parser behind them is
//! reached). No input may panic, hang, or ask for an allocation beyond [`ALLOC_LIMIT`].
//!
//! The inputs are a fixed sequence from `DDR_FUZZ_SEED` (default 0); the run stops after
//! `DDR_FUZZ_SECONDS` (default 20). A failure prints the case number and writes the input to
//! the temporary folder, so `DDR_FUZZ_SEED` and the number reproduce it.

use ddr_engine::data::pack::{Pack, PackWriter};
use ddr_engine::io::npy;
use ddr_engine::nn::checkpoint::{self, Checkpoint};
use ddr_engine::nn::models::Arch;
use ddr_engine::{Device, Rng};
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// More than any valid seed file below needs by a factor of hundreds.
const ALLOC_LIMIT: usize = 256 << 20;

/// The system allocator, refusing (and reporting) any single request above [`ALLOC_LIMIT`]:
/// a reader that trusts a size field asks for gigabytes.
struct Capped;

static CASE: AtomicU64 = AtomicU64::new(u64::MAX);
static LARGEST: AtomicUsize = AtomicUsize::new(0);
static LARGEST_CASE: AtomicU64 = AtomicU64::new(0);

fn note_size(size: usize) {
    if size > LARGEST.fetch_max(size, Ordering::Relaxed) {
        LARGEST_CASE.store(CASE.load(Ordering::Relaxed), Ordering::Relaxed);
    }
}

/// Whether a request of `size` bytes may go to the system allocator (over the limit it is
/// reported and refused).
fn admit(size: usize) -> bool {
    if size > ALLOC_LIMIT {
        report_oversize(size);
        return false;
    }
    note_size(size);
    true
}

unsafe impl GlobalAlloc for Capped {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if admit(layout.size()) {
            unsafe { System.alloc(layout) }
        } else {
            std::ptr::null_mut()
        }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if admit(layout.size()) {
            unsafe { System.alloc_zeroed(layout) }
        } else {
            std::ptr::null_mut()
        }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if admit(new_size) {
            unsafe { System.realloc(ptr, layout, new_size) }
        } else {
            std::ptr::null_mut()
        }
    }
}

#[global_allocator]
static ALLOCATOR: Capped = Capped;

/// Writes "oversized allocation of N bytes in case C" without allocating (the process then
/// aborts in handle_alloc_error, or the reader reports the failure as an error).
fn report_oversize(size: usize) {
    fn digits(mut v: u64, buf: &mut [u8; 20]) -> &[u8] {
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                return &buf[i..];
            }
        }
    }
    let (mut a, mut b) = ([0u8; 20], [0u8; 20]);
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(b"\nFUZZ FAILURE: an allocation of ");
    let _ = err.write_all(digits(size as u64, &mut a));
    let _ = err.write_all(b" bytes in case ");
    let _ = err.write_all(digits(CASE.load(Ordering::Relaxed), &mut b));
    let _ = err.write_all(b"\n");
    OVERSIZE.store(true, Ordering::Relaxed);
}

static OVERSIZE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A network of a few hundred parameters: small seed checkpoints keep the fuzzer fast.
fn small_arch() -> Arch {
    Arch::Msrresnet { nf: 4, nb: 1, scale: 2, global_residual: true }
}

/// The valid files the mutations start from.
struct Seeds {
    packs: Vec<Vec<u8>>,
    checkpoints: Vec<Vec<u8>>,
    npys: Vec<Vec<u8>>,
}

fn seeds(dir: &Path) -> Seeds {
    let mut rng = Rng::new(1);
    let path = dir.join("seed.pack");
    let mut w = PackWriter::create(&path).unwrap();
    for (i, (h, wd, c)) in
        [(5usize, 7usize, 3usize), (1, 1, 3), (9, 4, 1), (16, 12, 3)].into_iter().enumerate()
    {
        let px: Vec<u8> = (0..h * wd * c).map(|_| rng.below(256) as u8).collect();
        w.add(&format!("img_{i}"), h, wd, c, &px).unwrap();
    }
    w.finish().unwrap();
    let pack = std::fs::read(&path).unwrap();
    let arch = small_arch();
    let (_, p) = arch.build(&Device::Cpu, 3).unwrap();
    let params = p.values.to_vec().unwrap();
    let ck = Checkpoint {
        arch,
        step: 7,
        params: params.clone(),
        params_ema: Some(params),
        buffers: Vec::new(),
        optim: None,
        meta: BTreeMap::from([("note".to_string(), "seed".to_string())]),
    };
    let path = dir.join("seed.safetensors");
    checkpoint::save(&path, &ck).unwrap();
    let ckpt = std::fs::read(&path).unwrap();
    let npys = vec![
        npy::encode(&[6, 3], &(0..18).map(|v| v as f32).collect::<Vec<_>>()).unwrap(),
        npy::encode(&[5], &[1i64, 2, 3, 4, 5]).unwrap(),
        npy::encode(&[2, 2, 2], &[0.5f64; 8]).unwrap(),
        npy::encode(&[4], &[1u8, 2, 3, 4]).unwrap(),
    ];
    Seeds { packs: vec![pack], checkpoints: vec![ckpt], npys }
}

const INTERESTING: [u64; 10] =
    [0, 1, 0x7F, 0xFF, 0xFFFF, 0x7FFF_FFFF, 0xFFFF_FFFF, 1 << 32, i64::MAX as u64, u64::MAX];

/// One random damage to `b`.
fn mutate(b: &mut Vec<u8>, other: &[u8], rng: &mut Rng) {
    let at = |rng: &mut Rng, len: usize| rng.below(len.max(1) as u64) as usize;
    match rng.below(8) {
        0 => {
            for _ in 0..1 + rng.below(8) {
                let i = at(rng, b.len());
                if let Some(x) = b.get_mut(i) {
                    *x ^= 1 << rng.below(8);
                }
            }
        }
        1 => {
            let i = at(rng, b.len());
            if let Some(x) = b.get_mut(i) {
                *x = [0u8, 0xFF, 0x7F, 0x80, b'9', b'-', b'"', b'{'][rng.below(8) as usize];
            }
        }
        2 | 3 => {
            // A little-endian integer field (u32 or u64) set to a boundary value.
            let width = if rng.bernoulli(0.5) { 4 } else { 8 };
            let v = INTERESTING[rng.below(INTERESTING.len() as u64) as usize].to_le_bytes();
            let i = at(rng, b.len().saturating_sub(width));
            if i + width <= b.len() {
                b[i..i + width].copy_from_slice(&v[..width]);
            }
        }
        4 => {
            let n = at(rng, b.len());
            b.truncate(n);
        }
        5 => {
            let i = at(rng, b.len());
            let extra: Vec<u8> = (0..1 + rng.below(64)).map(|_| rng.below(256) as u8).collect();
            b.splice(i..i, extra);
        }
        6 => {
            // A decimal number in a text header (npy shape, safetensors JSON) made huge or odd.
            let digits: Vec<usize> = (0..b.len()).filter(|&i| b[i].is_ascii_digit()).collect();
            if !digits.is_empty() {
                let i = digits[at(rng, digits.len())];
                let repl: &[u8] =
                    [&b"99999999999999999999"[..], b"18446744073709551615", b"0", b"4294967296", b"-1"]
                        [rng.below(5) as usize];
                b.splice(i..i + 1, repl.iter().copied());
            }
        }
        _ => {
            // A chunk of another valid file spliced in.
            if !other.is_empty() && !b.is_empty() {
                let (i, j) = (at(rng, b.len()), at(rng, other.len()));
                let n = (1 + at(rng, 256)).min(b.len() - i).min(other.len() - j);
                b[i..i + n].copy_from_slice(&other[j..j + n]);
            }
        }
    }
}

/// Makes a damaged pack's checksums valid again, where its header still says where they are.
fn fix_pack_checksums(b: &mut [u8]) {
    if b.len() < 48 {
        return;
    }
    let table = u64::from_le_bytes(b[16..24].try_into().unwrap()) as usize;
    if table < 48 || table > b.len() {
        return;
    }
    let crc = crc32fast::hash(&b[table..]);
    b[40..44].copy_from_slice(&crc.to_le_bytes());
    let crc = crc32fast::hash(&b[..44]);
    b[44..48].copy_from_slice(&crc.to_le_bytes());
}

fn read_pack(path: &Path) {
    if let Ok(p) = Pack::open(path) {
        let _ = p.verify();
        for i in 0..p.len() {
            if p.image(i).is_ok() {
                let e = &p.entries()[i];
                let _ = p.window(i, 0, 0, e.h.min(4), e.w.min(4));
            }
        }
    }
}

fn read_checkpoint(path: &Path) {
    let _ = checkpoint::load(path, None);
    let _ = checkpoint::load(path, Some(&small_arch()));
    let _ = checkpoint::load_extra(path, "params.");
}

fn read_npy(bytes: &[u8]) {
    if let Ok(a) = npy::parse(bytes) {
        let _ = a.to_f64_matrix("fuzz");
        let _ = a.to_i64_vec("fuzz");
    }
}

#[test]
fn damaged_packs_checkpoints_and_npy_files_never_panic_hang_or_overallocate() {
    let dir = tempfile::tempdir().unwrap();
    let seeds = seeds(dir.path());
    let seed = env_u64("DDR_FUZZ_SEED", 0);
    let budget = Duration::from_secs(env_u64("DDR_FUZZ_SECONDS", 20));
    let quiet_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    LARGEST.store(0, Ordering::Relaxed);
    LARGEST_CASE.store(0, Ordering::Relaxed);
    let start = Instant::now();
    let (mut counts, mut slowest) = ([0u64; 3], (Duration::ZERO, 0u64));
    let mut case = 0u64;
    let mut failure = None;
    while start.elapsed() < budget && failure.is_none() {
        let mut rng = Rng::derive(seed, &[case]);
        let kind = (case % 3) as usize;
        let pool = [&seeds.packs, &seeds.checkpoints, &seeds.npys][kind];
        let mut b = pool[rng.below(pool.len() as u64) as usize].clone();
        let other = [&seeds.packs, &seeds.checkpoints, &seeds.npys][rng.below(3) as usize][0].clone();
        for _ in 0..1 + rng.below(4) {
            mutate(&mut b, &other, &mut rng);
        }
        if kind == 0 && rng.bernoulli(0.5) {
            fix_pack_checksums(&mut b);
        }
        CASE.store(case, Ordering::Relaxed);
        let path = dir.path().join(["case.pack", "case.safetensors", "case.npy"][kind]);
        std::fs::write(&path, &b).unwrap();
        let t0 = Instant::now();
        let outcome = std::panic::catch_unwind(|| match kind {
            0 => read_pack(&path),
            1 => read_checkpoint(&path),
            _ => read_npy(&b),
        });
        let took = t0.elapsed();
        if took > slowest.0 {
            slowest = (took, case);
        }
        if outcome.is_err() || took > Duration::from_secs(5) || OVERSIZE.load(Ordering::Relaxed) {
            let keep = dir.path().join(format!("failing_case_{case}"));
            let _ = std::fs::copy(&path, &keep);
            failure = Some(format!(
                "case {case} ({}): {}; input kept at {} (rerun with DDR_FUZZ_SEED={seed})",
                ["pack", "safetensors", "npy"][kind],
                if outcome.is_err() {
                    "panicked".to_string()
                } else {
                    format!("took {took:?} or over-allocated")
                },
                keep.display()
            ));
            std::mem::forget(dir);
            break;
        }
        counts[kind] += 1;
        case += 1;
    }
    std::panic::set_hook(quiet_hook);
    CASE.store(u64::MAX, Ordering::Relaxed);
    if let Some(f) = failure {
        panic!("{f}");
    }
    eprintln!(
        "fuzzed {case} inputs in {:.1} s (seed {seed}): {} packs, {} checkpoints, {} .npy; slowest {:?} (case {}); largest allocation {} bytes (case {})",
        start.elapsed().as_secs_f64(),
        counts[0],
        counts[1],
        counts[2],
        slowest.0,
        slowest.1,
        LARGEST.load(Ordering::Relaxed),
        LARGEST_CASE.load(Ordering::Relaxed)
    );
    assert!(case > 100, "only {case} inputs in the time budget");
}
