//! The PTX modules build.rs compiled from `kernels/*.cu`, embedded in the binary.

/// One `kernels/<name>.cu` file, compiled.
pub struct KernelModule {
    pub name: &'static str,
    pub ptx: &'static str,
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
