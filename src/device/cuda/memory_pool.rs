//! A caching allocator for device buffers.
//!
//! A training step allocates the same sizes every iteration. Buffers go back to a free list keyed
//! by their rounded capacity when dropped and are handed out again, so once the first step has
//! run no further cuMemAlloc/cuMemFree happens. Contents of a reused buffer are whatever the last
//! user left: callers that need zeros ask for them.

use crate::Result;
use anyhow::anyhow;
use cudarc::driver::{CudaSlice, CudaStream, CudaView, CudaViewMut};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub(super) struct Pool {
    stream: Arc<CudaStream>,
    free: Mutex<HashMap<usize, Vec<CudaSlice<f32>>>>,
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
    pub(super) fn new(stream: Arc<CudaStream>) -> Self {
        Pool { stream, free: Mutex::new(HashMap::new()) }
    }

    pub(super) fn take(self: &Arc<Self>, len: usize) -> Result<CudaBuf> {
        let cap = capacity_for(len);
        let reused = self.free.lock().unwrap().get_mut(&cap).and_then(Vec::pop);
        let slice = match reused {
            Some(s) => s,
            // SAFETY: f32 has no invalid bit patterns; callers treat the contents as undefined.
            None => unsafe { self.stream.alloc::<f32>(cap) }
                .map_err(|e| anyhow!("cannot allocate {} MiB on the GPU: {e}", (cap * 4) >> 20))?,
        };
        Ok(CudaBuf { slice: Some(slice), len, pool: self.clone() })
    }

    fn give_back(&self, slice: CudaSlice<f32>) {
        let cap = slice.len();
        self.free.lock().unwrap().entry(cap).or_default().push(slice);
    }
}

/// A device buffer of `len` f32 that returns to its pool when dropped.
pub struct CudaBuf {
    slice: Option<CudaSlice<f32>>,
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

    pub fn view(&self) -> CudaView<'_, f32> {
        self.slice.as_ref().unwrap().slice(0..self.len)
    }

    pub fn view_mut(&mut self) -> CudaViewMut<'_, f32> {
        let len = self.len;
        self.slice.as_mut().unwrap().slice_mut(0..len)
    }

    /// The whole buffer as an engine view (see `view.rs`).
    pub fn dev_view(&self) -> super::DevView<'_> {
        use cudarc::driver::DevicePtr;
        let s = self.slice.as_ref().unwrap();
        let (ptr, _sync) = s.device_ptr(&self.pool.stream);
        // SAFETY: the address covers len <= capacity floats and lives as long as &self.
        unsafe { super::DevView::from_raw(ptr, self.len) }
    }

    pub fn dev_view_mut(&mut self) -> super::DevViewMut<'_> {
        use cudarc::driver::DevicePtr;
        let s = self.slice.as_ref().unwrap();
        let (ptr, _sync) = s.device_ptr(&self.pool.stream);
        // SAFETY: as dev_view, and &mut self makes the view exclusive.
        unsafe { super::DevViewMut::from_raw(ptr, self.len) }
    }

    /// Elements `range` (within `len`).
    pub fn slice(&self, range: std::ops::Range<usize>) -> CudaView<'_, f32> {
        assert!(range.end <= self.len);
        self.slice.as_ref().unwrap().slice(range)
    }

    pub fn slice_mut(&mut self, range: std::ops::Range<usize>) -> CudaViewMut<'_, f32> {
        assert!(range.end <= self.len);
        self.slice.as_mut().unwrap().slice_mut(range)
    }
}

impl Drop for CudaBuf {
    fn drop(&mut self) {
        if let Some(s) = self.slice.take() {
            self.pool.give_back(s);
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
