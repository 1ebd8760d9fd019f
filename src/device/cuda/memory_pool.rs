//! A caching allocator for device buffers.
//!
//! A training step allocates the same sizes every iteration. Buffers go back to a free list keyed
//! by their rounded capacity when dropped and are handed out again, so once the first step has
//! run no further cuMemAlloc/cuMemFree happens. Contents of a reused buffer are whatever the last
//! user left: callers that need zeros ask for them.
//!
//! The emulated device (`--device cuda-emu`) keeps its "device memory" in host allocations
//! behind the same pool; a fresh one is filled with NaN, so a kernel that reads memory nobody
//! wrote produces NaN instead of a plausible zero.

use crate::Result;
use anyhow::anyhow;
use cudarc::driver::{CudaSlice, CudaStream, DevicePtr, DevicePtrMut};
use std::alloc::Layout;
use std::collections::HashMap;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

/// Where the pool's memory comes from.
pub(super) enum Source {
    /// cuMemAlloc on the device of this stream.
    Driver(Arc<CudaStream>),
    /// The host heap, for the emulated device.
    Host,
}

pub(super) struct Pool {
    source: Source,
    free: Mutex<HashMap<usize, Vec<Memory>>>,
}

/// One allocation of `cap` f32.
pub(super) enum Memory {
    Driver(CudaSlice<f32>),
    Host(HostMemory),
}

/// 256-byte aligned host memory, as cuMemAlloc's (the kernels read float4 and double from it).
pub(super) struct HostMemory {
    ptr: NonNull<f32>,
    cap: usize,
}

// SAFETY: HostMemory owns its allocation exclusively, like a Box<[f32]>.
unsafe impl Send for HostMemory {}
unsafe impl Sync for HostMemory {}

const HOST_ALIGN: usize = 256;

impl HostMemory {
    fn new(cap: usize) -> Result<HostMemory> {
        let layout = Layout::array::<f32>(cap.max(1))
            .and_then(|l| l.align_to(HOST_ALIGN))
            .map_err(|_| anyhow!("cannot allocate {cap} floats for the emulated device"))?;
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { std::alloc::alloc(layout) } as *mut f32;
        let ptr = NonNull::new(raw)
            .ok_or_else(|| anyhow!("cannot allocate {} MiB for the emulated device", (cap * 4) >> 20))?;
        // SAFETY: the allocation holds cap.max(1) f32.
        unsafe { std::slice::from_raw_parts_mut(ptr.as_ptr(), cap.max(1)) }.fill(f32::NAN);
        Ok(HostMemory { ptr, cap })
    }
}

impl Drop for HostMemory {
    fn drop(&mut self) {
        let layout = Layout::array::<f32>(self.cap.max(1)).unwrap().align_to(HOST_ALIGN).unwrap();
        // SAFETY: allocated in HostMemory::new with this layout.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr() as *mut u8, layout) }
    }
}

impl Memory {
    fn cap(&self) -> usize {
        match self {
            Memory::Driver(s) => s.len(),
            Memory::Host(h) => h.cap,
        }
    }
}

/// Rounds a request up so that nearby sizes share buffers: to 256 elements below 64 Ki, above that
/// to 1/16 of the largest power of two not above the size (at most 6.25% waste).
fn capacity_for(len: usize) -> usize {
    let len = len.max(1);
    if len <= 1 << 16 {
        return len.div_ceil(256) * 256;
    }
    let step = (1usize << len.ilog2()) >> 4;
    len.div_ceil(step) * step
}

impl Pool {
    pub(super) fn new(source: Source) -> Self {
        Pool { source, free: Mutex::new(HashMap::new()) }
    }

    pub(super) fn take(self: &Arc<Self>, len: usize) -> Result<CudaBuf> {
        let cap = capacity_for(len);
        let reused = self.free.lock().unwrap().get_mut(&cap).and_then(Vec::pop);
        let memory = match (reused, &self.source) {
            (Some(m), _) => m,
            // SAFETY: f32 has no invalid bit patterns; callers treat the contents as undefined.
            (None, Source::Driver(stream)) => Memory::Driver(
                unsafe { stream.alloc::<f32>(cap) }
                    .map_err(|e| anyhow!("cannot allocate {} MiB on the GPU: {e}", (cap * 4) >> 20))?,
            ),
            (None, Source::Host) => Memory::Host(HostMemory::new(cap)?),
        };
        Ok(CudaBuf { memory: Some(memory), len, pool: self.clone() })
    }

    fn give_back(&self, memory: Memory) {
        self.free.lock().unwrap().entry(memory.cap()).or_default().push(memory);
    }
}

/// A device buffer of `len` f32 that returns to its pool when dropped.
pub struct CudaBuf {
    memory: Option<Memory>,
    len: usize,
    pool: Arc<Pool>,
}

impl CudaBuf {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(super) fn memory(&self) -> &Memory {
        self.memory.as_ref().unwrap()
    }

    pub(super) fn memory_mut(&mut self) -> &mut Memory {
        self.memory.as_mut().unwrap()
    }

    /// The numbers of an emulated-device buffer (empty for a GPU buffer).
    pub(super) fn host(&self) -> &[f32] {
        match self.memory() {
            // SAFETY: the allocation holds cap >= len initialised f32, borrowed with &self.
            Memory::Host(h) => unsafe { std::slice::from_raw_parts(h.ptr.as_ptr(), self.len) },
            Memory::Driver(_) => &[],
        }
    }

    pub(super) fn host_mut(&mut self) -> &mut [f32] {
        let len = self.len;
        match self.memory_mut() {
            // SAFETY: as host, exclusively borrowed with &mut self.
            Memory::Host(h) => unsafe { std::slice::from_raw_parts_mut(h.ptr.as_ptr(), len) },
            Memory::Driver(_) => &mut [],
        }
    }

    /// The device address of element 0 (a host address on the emulated device), for reading.
    fn address(&self) -> u64 {
        match self.memory() {
            Memory::Driver(s) => s.device_ptr(s.stream()).0,
            Memory::Host(h) => h.ptr.as_ptr() as u64,
        }
    }

    /// The address for writing: cudarc records a write (not a read) on the buffer, which is what
    /// its cross-stream synchronisation needs once a second stream exists.
    fn address_mut(&mut self) -> u64 {
        match self.memory_mut() {
            Memory::Driver(s) => {
                let stream = s.stream().clone();
                let (ptr, record_write) = s.device_ptr_mut(&stream);
                drop(record_write);
                ptr
            }
            Memory::Host(h) => h.ptr.as_ptr() as u64,
        }
    }

    /// The whole buffer as an engine view (see `view.rs`).
    pub fn dev_view(&self) -> super::DevView<'_> {
        // SAFETY: the address covers len <= capacity floats and lives as long as &self.
        unsafe { super::DevView::from_raw(self.address(), self.len) }
    }

    /// The whole buffer as a writable engine view.
    pub fn dev_view_mut(&mut self) -> super::DevViewMut<'_> {
        // SAFETY: as dev_view, and &mut self makes the view exclusive.
        unsafe { super::DevViewMut::from_raw(self.address_mut(), self.len) }
    }
}

impl Drop for CudaBuf {
    fn drop(&mut self) {
        if let Some(m) = self.memory.take() {
            self.pool.give_back(m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::capacity_for;

    #[test]
    fn capacities_cover_requests_with_little_waste() {
        for len in [1, 255, 256, 257, 65536, 65537, 1_000_000, 16_777_216, 16_777_217] {
            let cap = capacity_for(len);
            assert!(cap >= len);
            assert!(cap as f64 <= len as f64 * 1.0625 + 256.0, "{len} -> {cap}");
        }
    }
}
