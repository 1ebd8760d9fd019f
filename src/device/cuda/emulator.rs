//! The emulated CUDA device's side of a launch: find the host-compiled kernel by name and run it
//! (kernels/emu/runtime.cpp). build.rs compiles every `kernels/*.cu` with kernels/emu/cuda_emu.h
//! into a static library when a C++ compiler is there, and sets `cfg(ddr_cuda_emu)`.

use super::KernelArg;
use crate::Result;
use cudarc::driver::LaunchConfig;

/// Whether this build has the emulated device.
pub(super) const AVAILABLE: bool = cfg!(ddr_cuda_emu);

#[cfg(ddr_cuda_emu)]
mod ffi {
    use std::ffi::{c_char, c_int, c_uchar, c_uint, c_void};

    /// `ddr_emu_kernel` in cuda_emu.h.
    #[repr(C)]
    pub struct Kernel {
        pub name: *const c_char,
        pub entry: *const c_void,
        pub arg_count: c_int,
        pub arg_sizes: *const c_uchar,
    }

    extern "C" {
        pub fn ddr_emu_find(name: *const c_char) -> *const Kernel;
        pub fn ddr_emu_launch(
            kernel: *const Kernel,
            grid: *const c_uint,
            block: *const c_uint,
            args: *mut *mut c_void,
            sizes: *const usize,
            nargs: usize,
            err: *mut c_char,
            errlen: usize,
        ) -> c_int;
    }
}

/// Runs kernel `entry` on the calling thread; returns when the whole grid has run.
#[cfg(ddr_cuda_emu)]
pub(super) fn launch(entry: &'static str, cfg: LaunchConfig, args: &[KernelArg]) -> Result<()> {
    use std::ffi::{c_char, CString};
    let name = CString::new(entry).map_err(|_| anyhow::anyhow!("kernel name {entry:?} has a NUL"))?;
    // SAFETY: name is a valid C string; the table lives for the whole program.
    let kernel = unsafe { ffi::ddr_emu_find(name.as_ptr()) };
    anyhow::ensure!(!kernel.is_null(), "kernel {entry} is not among the emulated kernels");
    let grid = [cfg.grid_dim.0, cfg.grid_dim.1, cfg.grid_dim.2];
    let block = [cfg.block_dim.0, cfg.block_dim.1, cfg.block_dim.2];
    anyhow::ensure!(
        cfg.shared_mem_bytes == 0,
        "kernel {entry}: the emulated device has no dynamic shared memory"
    );
    let mut ptrs: Vec<*mut std::ffi::c_void> = args.iter().map(|a| a.ptr).collect();
    let sizes: Vec<usize> = args.iter().map(|a| a.size).collect();
    let mut err = [0 as c_char; 512];
    // SAFETY: kernel comes from the table; every pointer in ptrs addresses a live argument value
    // of the size in sizes (KernelArg), and the runtime checks count and sizes against the
    // kernel's signature before it calls it. Buffers the kernel reads are host allocations of
    // the emulated pool, sized as the launcher checked.
    let rc = unsafe {
        ffi::ddr_emu_launch(
            kernel,
            grid.as_ptr(),
            block.as_ptr(),
            ptrs.as_mut_ptr(),
            sizes.as_ptr(),
            sizes.len(),
            err.as_mut_ptr(),
            err.len(),
        )
    };
    if rc != 0 {
        // SAFETY: the runtime wrote a NUL-terminated message into err.
        let msg = unsafe { std::ffi::CStr::from_ptr(err.as_ptr()) }.to_string_lossy();
        anyhow::bail!("kernel {entry} failed on the emulated device: {msg}");
    }
    Ok(())
}

#[cfg(not(ddr_cuda_emu))]
pub(super) fn launch(entry: &'static str, _cfg: LaunchConfig, _args: &[KernelArg]) -> Result<()> {
    anyhow::bail!("kernel {entry}: this build has no emulated CUDA device")
}
