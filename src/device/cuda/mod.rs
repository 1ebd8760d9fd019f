//! The CUDA backend: one context and one stream per device, kernels from the PTX that build.rs
//! embedded, and a caching allocator so a training step never calls cuMemAlloc once warm.
//!
//! cudarc loads libcuda dynamically, so this module builds everywhere. cudarc panics when the
//! library or a symbol is missing; every entry point here checks first and runs the rest under
//! [`guard`], which turns a panic into an error message and keeps the panic text off the terminal.

// An entry point takes its shapes as plain numbers and its buffers one by one, exactly as the
// kernel it mirrors does, so that both backends read the same; a struct per call would hide that.
#![allow(clippy::too_many_arguments)]

/// Launches kernel `$name` (a `&'static str`) with the given arguments, in the order of its CUDA
/// signature, on a GPU or on the emulated device.
macro_rules! launch {
    ($dev:expr, $name:expr, $cfg:expr, $($arg:expr),* $(,)?) => {{
        let dev: &$crate::device::cuda::CudaDevice = $dev;
        dev.launch($name, $cfg, &[$($crate::device::cuda::KernelArg::new($arg)),*])
    }};
}

mod emulator;
mod gemm;
mod memory_pool;
pub mod registry;
mod view;

pub mod batchnorm;
pub mod conv2d;
pub mod elementwise;
pub mod linear;
pub mod loss;
pub mod lstm;
pub mod optim;
pub mod pixel_shuffle;
pub mod pool2d;
pub mod tsne;
pub mod upsample;

pub use gemm::ConvMath;
pub use memory_pool::CudaBuf;
pub use view::{DevView, DevViewMut};

use crate::Result;
use anyhow::anyhow;
use cudarc::driver::{CudaContext, CudaFunction, CudaModule, CudaStream, DeviceRepr, LaunchConfig};
use memory_pool::{Memory, Pool, Source};
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

thread_local! {
    static QUIET_PANICS: Cell<bool> = const { Cell::new(false) };
}

/// Whether a panic on this thread is being caught by [`guard`] (the binary's panic hook stays
/// silent then).
pub fn panics_are_guarded() -> bool {
    QUIET_PANICS.with(|q| q.get())
}

/// Runs `f`, turning a panic inside cudarc into an `Err` with the panic's message.
pub fn guard<T>(f: impl FnOnce() -> std::result::Result<T, String>) -> std::result::Result<T, String> {
    let prev = QUIET_PANICS.with(|q| q.replace(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET_PANICS.with(|q| q.set(prev));
    match r {
        Ok(r) => r,
        Err(p) => Err(p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "the CUDA driver library failed".to_string())),
    }
}

fn driver_library_present() -> bool {
    // SAFETY: only tries to dlopen the library names cudarc would use; loads nothing else.
    unsafe { cudarc::driver::sys::is_culib_present() }
}

/// What `ddr-engine info` reports about one GPU.
#[derive(Clone, Debug, serde::Serialize)]
pub struct GpuInfo {
    pub ordinal: usize,
    pub name: String,
    pub memory_bytes: usize,
    pub compute_capability: (i32, i32),
}

/// The driver's CUDA version (e.g. 13000 for 13.0) and the GPUs it sees, or why there are none.
pub fn probe() -> std::result::Result<(i32, Vec<GpuInfo>), String> {
    if !driver_library_present() {
        return Err("no CUDA driver library (libcuda.so) found".into());
    }
    guard(|| {
        let mut version = 0i32;
        // SAFETY: plain out-parameter call into the driver.
        unsafe { cudarc::driver::sys::cuDriverGetVersion(&mut version) }
            .result()
            .map_err(|e| format!("cuDriverGetVersion failed: {e}"))?;
        cudarc::driver::result::init().map_err(|e| format!("cuInit failed: {e}"))?;
        let n = CudaContext::device_count().map_err(|e| format!("cannot count devices: {e}"))?;
        let mut gpus = Vec::new();
        for i in 0..n.max(0) as usize {
            let dev = cudarc::driver::result::device::get(i as i32).map_err(|e| e.to_string())?;
            // SAFETY: dev is a valid device handle from cuDeviceGet.
            let (name, mem, major, minor) = unsafe {
                use cudarc::driver::sys::CUdevice_attribute as A;
                let major = cudarc::driver::result::device::get_attribute(
                    dev,
                    A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                );
                let minor = cudarc::driver::result::device::get_attribute(
                    dev,
                    A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                );
                (
                    cudarc::driver::result::device::get_name(dev),
                    cudarc::driver::result::device::total_mem(dev),
                    major,
                    minor,
                )
            };
            gpus.push(GpuInfo {
                ordinal: i,
                name: name.map_err(|e| e.to_string())?,
                memory_bytes: mem.map_err(|e| e.to_string())?,
                compute_capability: (major.map_err(|e| e.to_string())?, minor.map_err(|e| e.to_string())?),
            });
        }
        Ok((version, gpus))
    })
}

/// One argument of a kernel launch: where its value is and how many bytes it has, as
/// cuLaunchKernel takes it (the emulated device checks the size against the kernel's signature).
#[derive(Clone, Copy)]
pub struct KernelArg<'a> {
    ptr: *mut std::ffi::c_void,
    size: usize,
    _value: std::marker::PhantomData<&'a ()>,
}

impl<'a> KernelArg<'a> {
    pub fn new<T: DeviceRepr>(value: &'a T) -> Self {
        KernelArg {
            ptr: value as *const T as *mut _,
            size: std::mem::size_of::<T>(),
            _value: std::marker::PhantomData,
        }
    }
}

/// A kernel argument as cudarc's launch builder takes it: a reference whose address is pushed
/// unchanged (the builder pushes `&T as *mut c_void`).
#[repr(transparent)]
struct RawArg(u8);
// SAFETY: only ever used by reference, to hand cudarc an address it passes on to the driver.
unsafe impl DeviceRepr for RawArg {}

/// What executes the kernels of a [`CudaDevice`].
enum Backend {
    /// A GPU through the CUDA driver: the PTX build.rs embedded.
    Driver {
        ctx: Arc<CudaContext>,
        stream: Arc<CudaStream>,
        modules: Mutex<HashMap<&'static str, Arc<CudaModule>>>,
        functions: Mutex<HashMap<&'static str, CudaFunction>>,
    },
    /// The same `kernels/*.cu` compiled for the host (kernels/emu): a testing device.
    Emulated,
}

/// Number of SMs the emulated device reports: an H100 SXM's, so that launch shapes that depend
/// on it (CudaDevice::grid_1d) are those of the GPUs this project is lent.
const EMULATED_SMS: u32 = 132;

/// One opened device: the GPU's context and the stream all work is queued on (or the emulator),
/// loaded kernels, buffer pool.
pub struct CudaDevice {
    ordinal: usize,
    name: String,
    sm_count: u32,
    backend: Backend,
    pool: Arc<Pool>,
    /// The [`ConvMath`] of the GEMM-shaped kernels, as its `u8` tag.
    conv_math: AtomicU8,
    /// `DDR_CUDA_SYNC_LAUNCHES=1`: wait for every kernel and report a failure under its name.
    sync_launches: bool,
}

fn sync_launches_from_env() -> bool {
    std::env::var("DDR_CUDA_SYNC_LAUNCHES").is_ok_and(|v| v == "1")
}

impl CudaDevice {
    /// Opens device `ordinal`, or says in one line why it cannot be used.
    pub fn open(ordinal: usize) -> std::result::Result<Arc<CudaDevice>, String> {
        if registry::MODULES.is_empty() {
            return Err("no CUDA kernels were compiled into this build (nvcc was not found when \
                        it was built; see scripts/install-nvcc.sh)"
                .into());
        }
        let (_, gpus) = probe()?;
        if ordinal >= gpus.len() {
            return Err(if gpus.is_empty() {
                "the CUDA driver sees no GPU".to_string()
            } else {
                format!("no CUDA device {ordinal} (found {})", gpus.len())
            });
        }
        let conv_math = ConvMath::from_env()?;
        guard(|| {
            let ctx = CudaContext::new(ordinal).map_err(|e| format!("cannot create a context: {e}"))?;
            let stream = ctx.default_stream();
            let sm_count = ctx
                .attribute(cudarc::driver::sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
                .map_err(|e| e.to_string())? as u32;
            Ok(Arc::new(CudaDevice {
                ordinal,
                name: gpus[ordinal].name.clone(),
                sm_count,
                pool: Arc::new(Pool::new(Source::Driver(stream.clone()))),
                backend: Backend::Driver {
                    ctx,
                    stream,
                    modules: Mutex::new(HashMap::new()),
                    functions: Mutex::new(HashMap::new()),
                },
                conv_math: AtomicU8::new(conv_math as u8),
                sync_launches: sync_launches_from_env(),
            }))
        })
    }

    /// Opens the emulated CUDA device (`--device cuda-emu`): the kernels of `kernels/*.cu`
    /// compiled for the host and run there, thread by thread, behind the same launchers. Slow,
    /// and for testing: `auto` never picks it.
    pub fn open_emulated() -> std::result::Result<Arc<CudaDevice>, String> {
        if !emulator::AVAILABLE {
            return Err("this build has no emulated CUDA device (no C++ compiler was found when it was \
                        built)"
                .into());
        }
        Ok(Arc::new(CudaDevice {
            ordinal: 0,
            name: "emulated CUDA device (kernels/*.cu run on the CPU, for testing)".into(),
            sm_count: EMULATED_SMS,
            backend: Backend::Emulated,
            pool: Arc::new(Pool::new(Source::Host)),
            conv_math: AtomicU8::new(ConvMath::from_env()? as u8),
            sync_launches: sync_launches_from_env(),
        }))
    }

    /// Whether this build has the emulated device.
    pub fn emulator_available() -> bool {
        emulator::AVAILABLE
    }

    pub fn ordinal(&self) -> usize {
        self.ordinal
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this is the emulated device rather than a GPU.
    pub fn is_emulated(&self) -> bool {
        matches!(self.backend, Backend::Emulated)
    }

    pub fn synchronize(&self) -> Result<()> {
        match &self.backend {
            Backend::Driver { stream, .. } => {
                stream.synchronize().map_err(|e| anyhow!("CUDA synchronize failed: {e}"))
            }
            // The emulator runs every launch to completion before it returns.
            Backend::Emulated => Ok(()),
        }
    }

    /// Runs kernel `entry` on `cfg` with `args` in the order of its signature.
    pub fn launch(&self, entry: &'static str, cfg: LaunchConfig, args: &[KernelArg]) -> Result<()> {
        match &self.backend {
            Backend::Driver { stream, .. } => {
                let f = self.function(entry)?;
                let mut b = stream.launch_builder(&f);
                for a in args {
                    // SAFETY: a.ptr points at a live value of a.size bytes (KernelArg::new);
                    // RawArg is only a way to hand cudarc that address.
                    cudarc::driver::PushKernelArg::arg(&mut b, unsafe { &*(a.ptr as *const RawArg) });
                }
                // SAFETY: the launchers pass arguments whose types and order match the kernel's
                // signature in kernels/, and buffer lengths that the kernel's index bounds rely on.
                unsafe { b.launch(cfg) }.map_err(|e| anyhow!("kernel {entry} failed to launch: {e}"))?;
                if self.sync_launches {
                    stream.synchronize().map_err(|e| anyhow!("kernel {entry} failed: {e}"))?;
                }
                Ok(())
            }
            Backend::Emulated => emulator::launch(entry, cfg, args),
        }
    }

    /// The kernel `entry` (e.g. "relu_fwd_f32") of a GPU, loading its module on first use.
    fn function(&self, entry: &'static str) -> Result<CudaFunction> {
        let Backend::Driver { ctx, modules, functions, .. } = &self.backend else {
            anyhow::bail!("kernel {entry}: the emulated device has no PTX functions");
        };
        if let Some(f) = functions.lock().unwrap().get(entry) {
            return Ok(f.clone());
        }
        let module_def =
            registry::module_of(entry).ok_or_else(|| anyhow!("kernel {entry} is not in this build's PTX"))?;
        let module = {
            let mut modules = modules.lock().unwrap();
            match modules.get(module_def.name) {
                Some(m) => m.clone(),
                None => {
                    // The fatbin: the driver picks the machine code built for this GPU, or
                    // JIT-compiles the PTX in it for any other.
                    let image = cudarc::nvrtc::Ptx::from_binary(module_def.fatbin.to_vec());
                    let m = ctx
                        .load_module(image)
                        .map_err(|e| anyhow!("loading PTX module {} failed: {e}", module_def.name))?;
                    modules.insert(module_def.name, m.clone());
                    m
                }
            }
        };
        let f = module
            .load_function(entry)
            .map_err(|e| anyhow!("kernel {entry} not found in module {}: {e}", module_def.name))?;
        functions.lock().unwrap().insert(entry, f.clone());
        Ok(f)
    }

    /// The arithmetic the GEMM-shaped kernels (conv2d and linear, forward and backward) use on
    /// this device: `DDR_CUDA_CONV_MATH` when the device was opened, F32 by default.
    pub fn conv_math(&self) -> ConvMath {
        ConvMath::from_tag(self.conv_math.load(Ordering::Relaxed))
    }

    /// Switches the GEMM-shaped kernels of this device to `math` for every later launch.
    pub fn set_conv_math(&self, math: ConvMath) {
        self.conv_math.store(math as u8, Ordering::Relaxed);
    }

    /// Bytes the device can still allocate (buffers idle in the pool not counted); the host's
    /// available memory for the emulated device.
    pub fn free_memory(&self) -> Result<u64> {
        match &self.backend {
            Backend::Driver { ctx, .. } => {
                let (free, _total) = ctx.mem_get_info().map_err(|e| anyhow!("cuMemGetInfo failed: {e}"))?;
                Ok(free as u64)
            }
            Backend::Emulated => super::memory::available_bytes(&super::Device::Cpu)
                .ok_or_else(|| anyhow!("the host does not say how much memory it has free")),
        }
    }

    /// A buffer of `len` f32 from the pool. Its contents are undefined (not zeroed).
    pub fn alloc(&self, len: usize) -> Result<CudaBuf> {
        self.pool.take(len)
    }

    pub fn alloc_zeros(&self, len: usize) -> Result<CudaBuf> {
        let mut b = self.pool.take(len)?;
        match b.memory_mut() {
            Memory::Driver(s) => {
                let stream = s.stream().clone();
                stream
                    .memset_zeros(&mut s.slice_mut(0..len))
                    .map_err(|e| anyhow!("cuMemsetD8 failed: {e}"))?
            }
            Memory::Host(_) => b.host_mut().fill(0.0),
        }
        Ok(b)
    }

    pub fn upload(&self, data: &[f32]) -> Result<CudaBuf> {
        let mut b = self.pool.take(data.len())?;
        match b.memory_mut() {
            Memory::Driver(s) => {
                let stream = s.stream().clone();
                stream
                    .memcpy_htod(data, &mut s.slice_mut(0..data.len()))
                    .map_err(|e| anyhow!("host-to-device copy failed: {e}"))?
            }
            Memory::Host(_) => b.host_mut().copy_from_slice(data),
        }
        Ok(b)
    }

    pub fn download(&self, buf: &CudaBuf) -> Result<Vec<f32>> {
        match buf.memory() {
            Memory::Driver(s) => {
                let mut out = vec![0f32; buf.len()];
                s.stream()
                    .memcpy_dtoh(&s.slice(0..buf.len()), &mut out)
                    .map_err(|e| anyhow!("device-to-host copy failed: {e}"))?;
                self.synchronize()?;
                Ok(out)
            }
            Memory::Host(_) => Ok(buf.host().to_vec()),
        }
    }

    /// A new buffer holding a copy of `buf`.
    pub fn duplicate(&self, buf: &CudaBuf) -> Result<CudaBuf> {
        let mut nb = self.pool.take(buf.len())?;
        match (buf.memory(), nb.memory_mut()) {
            (Memory::Driver(src), Memory::Driver(dst)) => src
                .stream()
                .memcpy_dtod(&src.slice(0..buf.len()), &mut dst.slice_mut(0..buf.len()))
                .map_err(|e| anyhow!("device copy failed: {e}"))?,
            (Memory::Host(_), Memory::Host(_)) => nb.host_mut().copy_from_slice(buf.host()),
            _ => anyhow::bail!("cannot copy between a GPU and the emulated device"),
        }
        Ok(nb)
    }

    /// A 1-D launch shape for a grid-stride loop over `n` elements.
    pub fn grid_1d(&self, n: usize) -> LaunchConfig {
        const BLOCK: u32 = 256;
        let blocks = n.div_ceil(BLOCK as usize).clamp(1, (self.sm_count * 16) as usize) as u32;
        LaunchConfig { grid_dim: (blocks, 1, 1), block_dim: (BLOCK, 1, 1), shared_mem_bytes: 0 }
    }
}
