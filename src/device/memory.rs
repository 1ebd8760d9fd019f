//! How much memory a device has free, so that sizes a user can set (model width and depth, batch,
//! tile) are refused with a message before an allocation the machine cannot satisfy aborts the
//! process or drives it into the kernel's out-of-memory killer.

use super::Device;
use crate::Result;
use anyhow::bail;

/// Bytes that can be allocated on `dev` now: MemAvailable of /proc/meminfo on the CPU, the
/// driver's free memory on a GPU. `None` when the system does not say.
pub fn available_bytes(dev: &Device) -> Option<u64> {
    match dev {
        Device::Cpu => {
            let info = std::fs::read_to_string("/proc/meminfo").ok()?;
            let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            kib.checked_mul(1024)
        }
        Device::Cuda(d) => d.free_memory().ok(),
    }
}

/// Refuses a request for `bytes` (None: the size overflowed) on `dev` that cannot fit in its free
/// memory; `what` names the request in the message.
pub fn ensure_fits(dev: &Device, bytes: Option<u64>, what: &str) -> Result<()> {
    let Some(bytes) = bytes else { bail!("{what} needs more bytes than a 64-bit size can count") };
    if let Some(free) = available_bytes(dev) {
        if bytes > free {
            let place = match dev {
                Device::Cpu => "this machine".to_string(),
                Device::Cuda(d) if d.is_emulated() => "the emulated device (host memory)".to_string(),
                Device::Cuda(d) => format!("cuda:{}", d.ordinal()),
            };
            bail!("{what} needs {} but {place} has {} free", human(bytes), human(free));
        }
    }
    Ok(())
}

/// `1.5 GiB`, `12.0 MiB`, `900 B`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// `n` zeroed f32 values, or an error instead of the abort `vec![0.0; n]` gives when the memory
/// cannot be had. Zeroed pages come from the allocator (calloc), so this costs nothing extra.
pub fn zeroed_f32(n: usize) -> Result<Vec<f32>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let Ok(layout) = std::alloc::Layout::array::<f32>(n) else {
        bail!("{n} floats are more than an allocation can hold")
    };
    // SAFETY: the layout has a non-zero size; a non-null result is `n` zeroed f32 allocated by the
    // global allocator with exactly the layout `Vec<f32>` of capacity `n` uses.
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) } as *mut f32;
    if ptr.is_null() {
        bail!("cannot allocate {} of memory", human(layout.size() as u64));
    }
    // SAFETY: see above; length = capacity = n, all initialised (zero is a valid f32).
    Ok(unsafe { Vec::from_raw_parts(ptr, n, n) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_beyond_the_free_memory_is_refused_with_both_sizes() {
        let e = ensure_fits(&Device::Cpu, Some(u64::MAX / 2), "a test buffer").unwrap_err().to_string();
        assert!(e.contains("a test buffer needs") && e.contains("PiB") && e.contains("free"), "{e}");
        assert!(ensure_fits(&Device::Cpu, None, "x").unwrap_err().to_string().contains("64-bit"));
        ensure_fits(&Device::Cpu, Some(1024), "a small buffer").unwrap();
    }

    #[test]
    fn zeroed_vectors_are_zero_and_impossible_ones_are_errors() {
        assert_eq!(zeroed_f32(5).unwrap(), vec![0.0; 5]);
        assert!(zeroed_f32(0).unwrap().is_empty());
        assert!(zeroed_f32(usize::MAX / 8).is_err());
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(3 << 30), "3.0 GiB");
    }
}
