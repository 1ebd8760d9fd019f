//! The modules build.rs compiled from `kernels/*.cu`, embedded in the binary: PTX text, and a
//! fatbin of that PTX plus machine code for `SASS` (sm_90 by default) that the driver loads.

/// One `kernels/<name>.cu` file, compiled.
pub struct KernelModule {
    pub name: &'static str,
    pub ptx: &'static str,
    /// The PTX and the `SASS` machine code, as cuModuleLoadData takes them.
    pub fatbin: &'static [u8],
    /// The `extern "C" __global__` entry points in it.
    pub entries: &'static [&'static str],
}

include!(concat!(env!("OUT_DIR"), "/kernels.rs"));

/// The module that defines kernel `entry`.
pub fn module_of(entry: &str) -> Option<&'static KernelModule> {
    MODULES.iter().find(|m| m.entries.contains(&entry))
}

/// The PTX ISA version of a compiled module (e.g. "9.0").
pub fn ptx_isa(module: &KernelModule) -> Option<&'static str> {
    module.ptx.lines().find_map(|l| l.strip_prefix(".version ")).map(str::trim)
}
