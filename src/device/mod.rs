//! Where computation runs: the CPU (always) or a CUDA GPU (when a driver, a device and compiled
//! kernels are all present). Chosen at run time with `--device auto|cpu|cuda[:N]|cuda-emu`.
//!
//! `cuda-emu` is the emulated CUDA device, for testing: the CUDA kernels compiled for the host
//! and run behind the same launchers as on a GPU, one fiber per CUDA thread (far slower than
//! the CPU backend). `auto` never picks it.
//!
//! Both backends expose the same op names: `cpu::elementwise::relu_fwd` and
//! `cuda::elementwise::relu_fwd` compute the same thing, and `kernels/elementwise.cu` holds the
//! CUDA source of the latter. `crate::ops` dispatches on where a tensor lives.

mod args;
pub mod cpu;
pub mod cuda;
pub mod memory;

pub use args::{AdamStep, Conv2dGeom};

use crate::Result;
use anyhow::bail;
use std::fmt;
use std::sync::Arc;

/// A compute backend. Cheap to clone.
#[derive(Clone)]
pub enum Device {
    Cpu,
    Cuda(Arc<cuda::CudaDevice>),
}

/// What the user asked for, before any device is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceSpec {
    Auto,
    Cpu,
    Cuda(usize),
    /// The emulated CUDA device (testing only).
    CudaEmu,
}

impl std::str::FromStr for DeviceSpec {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(DeviceSpec::Auto),
            "cpu" => Ok(DeviceSpec::Cpu),
            "cuda" => Ok(DeviceSpec::Cuda(0)),
            "cuda-emu" => Ok(DeviceSpec::CudaEmu),
            _ => match s.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(n)) => Ok(DeviceSpec::Cuda(n)),
                _ => Err(format!("'{s}' is not a device: use auto, cpu, cuda, cuda:N or cuda-emu")),
            },
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Auto => write!(f, "auto"),
            DeviceSpec::Cpu => write!(f, "cpu"),
            DeviceSpec::Cuda(n) => write!(f, "cuda:{n}"),
            DeviceSpec::CudaEmu => write!(f, "cuda-emu"),
        }
    }
}

impl Device {
    /// Opens the device the spec names. `Auto` picks CUDA device 0 when it is usable and falls
    /// back to the CPU otherwise; an explicit `cuda:N` that is not usable is an error whose
    /// message names the reason in one line.
    pub fn open(spec: DeviceSpec) -> Result<Device> {
        match spec {
            DeviceSpec::Cpu => Ok(Device::Cpu),
            DeviceSpec::Cuda(n) => match cuda::CudaDevice::open(n) {
                Ok(d) => Ok(Device::Cuda(d)),
                Err(reason) => bail!("--device cuda:{n} is not usable: {reason}"),
            },
            DeviceSpec::CudaEmu => match cuda::CudaDevice::open_emulated() {
                Ok(d) => Ok(Device::Cuda(d)),
                Err(reason) => bail!("--device cuda-emu is not usable: {reason}"),
            },
            DeviceSpec::Auto => Ok(match cuda::CudaDevice::open(0) {
                Ok(d) => Device::Cuda(d),
                Err(_) => Device::Cpu,
            }),
        }
    }

    pub fn same(&self, other: &Device) -> bool {
        match (self, other) {
            (Device::Cpu, Device::Cpu) => true,
            (Device::Cuda(a), Device::Cuda(b)) => {
                a.is_emulated() == b.is_emulated() && a.ordinal() == b.ordinal()
            }
            _ => false,
        }
    }

    /// Blocks until all queued work on the device is done (a no-op on the CPU).
    pub fn synchronize(&self) -> Result<()> {
        match self {
            Device::Cpu => Ok(()),
            Device::Cuda(d) => d.synchronize(),
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu ({} threads)", cpu::threads()),
            Device::Cuda(d) if d.is_emulated() => write!(f, "cuda-emu ({})", d.name()),
            Device::Cuda(d) => write!(f, "cuda:{} ({})", d.ordinal(), d.name()),
        }
    }
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_device_specs() {
        assert_eq!("auto".parse::<DeviceSpec>(), Ok(DeviceSpec::Auto));
        assert_eq!("cpu".parse::<DeviceSpec>(), Ok(DeviceSpec::Cpu));
        assert_eq!("cuda".parse::<DeviceSpec>(), Ok(DeviceSpec::Cuda(0)));
        assert_eq!("cuda:3".parse::<DeviceSpec>(), Ok(DeviceSpec::Cuda(3)));
        assert_eq!("cuda-emu".parse::<DeviceSpec>(), Ok(DeviceSpec::CudaEmu));
        assert!("gpu".parse::<DeviceSpec>().is_err());
        assert!("cuda:x".parse::<DeviceSpec>().is_err());
    }
}
