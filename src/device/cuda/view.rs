//! Device-memory views the engine passes to its kernels.
//!
//! A kernel's pointer argument is a plain device address, so a view is an address, a length and
//! a lifetime tying it to the buffer it came from. Unlike cudarc's views these can be split and
//! sub-sliced by value, which is what handing a layer the gradients of its weight AND bias (two
//! ranges of one flat buffer) needs. All work runs on one stream per device, so no cross-stream
//! event tracking is lost.

use std::marker::PhantomData;
use std::ops::Range;

const F32: u64 = std::mem::size_of::<f32>() as u64;

/// Read-only view of `len` f32 on the device.
#[derive(Clone, Copy, Debug)]
pub struct DevView<'a> {
    ptr: u64,
    len: usize,
    _m: PhantomData<&'a [f32]>,
}

/// Writable view of `len` f32 on the device.
#[derive(Debug)]
pub struct DevViewMut<'a> {
    ptr: u64,
    len: usize,
    _m: PhantomData<&'a mut [f32]>,
}

impl<'a> DevView<'a> {
    /// # Safety
    /// `ptr` must address `len` f32 of device memory that stays allocated and unwritten for `'a`.
    pub(super) unsafe fn from_raw(ptr: u64, len: usize) -> Self {
        DevView { ptr, len, _m: PhantomData }
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The address, as a kernel argument.
    pub fn arg(&self) -> &u64 {
        &self.ptr
    }
    pub fn slice(self, r: Range<usize>) -> DevView<'a> {
        assert!(r.start <= r.end && r.end <= self.len, "device slice {r:?} out of bounds for {}", self.len);
        DevView { ptr: self.ptr + r.start as u64 * F32, len: r.end - r.start, _m: PhantomData }
    }
}

impl<'a> DevViewMut<'a> {
    /// # Safety
    /// `ptr` must address `len` f32 of device memory that stays allocated and exclusively
    /// borrowed for `'a`.
    pub(super) unsafe fn from_raw(ptr: u64, len: usize) -> Self {
        DevViewMut { ptr, len, _m: PhantomData }
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The address, as a kernel argument.
    pub fn arg(&self) -> &u64 {
        &self.ptr
    }
    pub fn slice(self, r: Range<usize>) -> DevViewMut<'a> {
        assert!(r.start <= r.end && r.end <= self.len, "device slice {r:?} out of bounds for {}", self.len);
        DevViewMut { ptr: self.ptr + r.start as u64 * F32, len: r.end - r.start, _m: PhantomData }
    }
    /// Two disjoint halves at `mid`.
    pub fn split_at(self, mid: usize) -> (DevViewMut<'a>, DevViewMut<'a>) {
        assert!(mid <= self.len);
        let b = DevViewMut { ptr: self.ptr + mid as u64 * F32, len: self.len - mid, _m: PhantomData };
        (DevViewMut { ptr: self.ptr, len: mid, _m: PhantomData }, b)
    }
}
