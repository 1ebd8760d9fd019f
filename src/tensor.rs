//! `Tensor`: a shape and f32 storage on one device.
//!
//! Activations are NCHW (batch, channels, height, width), contiguous, as PyTorch users expect;
//! conv weights are OIHW. Ops check shapes and devices and return errors, never panic, on a
//! mismatch.

use crate::device::cuda::{CudaBuf, CudaDevice};
use crate::device::Device;
use crate::Result;
use anyhow::{bail, ensure};
use std::sync::Arc;

/// Where a tensor's numbers are.
pub enum Storage {
    Cpu(Vec<f32>),
    Cuda(CudaBuf, Arc<CudaDevice>),
}

pub struct Tensor {
    shape: Vec<usize>,
    storage: Storage,
}

/// The number of elements of `shape`, or an error if it overflows.
pub fn numel(shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| anyhow::anyhow!("shape {shape:?} has more elements than fit in memory"))
}

impl Tensor {
    pub fn zeros(shape: &[usize], dev: &Device) -> Result<Tensor> {
        let n = numel(shape)?;
        let storage = match dev {
            Device::Cpu => Storage::Cpu(vec![0.0; n]),
            Device::Cuda(d) => Storage::Cuda(d.alloc_zeros(n)?, d.clone()),
        };
        Ok(Tensor {
            shape: shape.to_vec(),
            storage,
        })
    }

    /// A tensor whose contents the caller will overwrite completely. On the CPU it is zeroed
    /// (calloc makes that free); on CUDA it holds whatever the pool's buffer held.
    pub fn uninit(shape: &[usize], dev: &Device) -> Result<Tensor> {
        let n = numel(shape)?;
        let storage = match dev {
            Device::Cpu => Storage::Cpu(vec![0.0; n]),
            Device::Cuda(d) => Storage::Cuda(d.alloc(n)?, d.clone()),
        };
        Ok(Tensor {
            shape: shape.to_vec(),
            storage,
        })
    }

    pub fn from_vec(data: Vec<f32>, shape: &[usize], dev: &Device) -> Result<Tensor> {
        let n = numel(shape)?;
        ensure!(
            data.len() == n,
            "{} values do not fill shape {shape:?} ({n} elements)",
            data.len()
        );
        let storage = match dev {
            Device::Cpu => Storage::Cpu(data),
            Device::Cuda(d) => Storage::Cuda(d.upload(&data)?, d.clone()),
        };
        Ok(Tensor {
            shape: shape.to_vec(),
            storage,
        })
    }

    pub fn from_slice(data: &[f32], shape: &[usize], dev: &Device) -> Result<Tensor> {
        match dev {
            Device::Cpu => Tensor::from_vec(data.to_vec(), shape, dev),
            Device::Cuda(d) => {
                let n = numel(shape)?;
                ensure!(
                    data.len() == n,
                    "{} values do not fill shape {shape:?}",
                    data.len()
                );
                Ok(Tensor {
                    shape: shape.to_vec(),
                    storage: Storage::Cuda(d.upload(data)?, d.clone()),
                })
            }
        }
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// (N, C, H, W) of a rank-4 tensor.
    pub fn dims4(&self) -> Result<(usize, usize, usize, usize)> {
        match self.shape[..] {
            [n, c, h, w] => Ok((n, c, h, w)),
            _ => bail!("expected an NCHW tensor, got shape {:?}", self.shape),
        }
    }

    pub fn device(&self) -> Device {
        match &self.storage {
            Storage::Cpu(_) => Device::Cpu,
            Storage::Cuda(_, d) => Device::Cuda(d.clone()),
        }
    }

    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    pub fn storage_mut(&mut self) -> &mut Storage {
        &mut self.storage
    }

    /// The same numbers with another shape of the same size.
    pub fn reshape(mut self, shape: &[usize]) -> Result<Tensor> {
        ensure!(
            numel(shape)? == self.numel(),
            "cannot reshape {:?} into {shape:?}: sizes differ",
            self.shape
        );
        self.shape = shape.to_vec();
        Ok(self)
    }

    /// The numbers, copied to the host.
    pub fn to_vec(&self) -> Result<Vec<f32>> {
        match &self.storage {
            Storage::Cpu(v) => Ok(v.clone()),
            Storage::Cuda(b, d) => d.download(b),
        }
    }

    pub fn to_device(&self, dev: &Device) -> Result<Tensor> {
        if self.device().same(dev) {
            return self.try_clone();
        }
        Tensor::from_vec(self.to_vec()?, &self.shape, dev)
    }

    pub fn try_clone(&self) -> Result<Tensor> {
        let storage = match &self.storage {
            Storage::Cpu(v) => Storage::Cpu(v.clone()),
            Storage::Cuda(b, d) => {
                let mut nb = d.alloc(b.len())?;
                d.stream()
                    .memcpy_dtod(&b.view(), &mut nb.view_mut())
                    .map_err(|e| anyhow::anyhow!("device copy failed: {e}"))?;
                Storage::Cuda(nb, d.clone())
            }
        };
        Ok(Tensor {
            shape: self.shape.clone(),
            storage,
        })
    }

    /// The host slice of a CPU tensor.
    pub fn cpu(&self) -> Result<&[f32]> {
        match &self.storage {
            Storage::Cpu(v) => Ok(v),
            Storage::Cuda(..) => bail!("tensor is on the GPU; copy it to the host first"),
        }
    }

    pub fn cpu_mut(&mut self) -> Result<&mut [f32]> {
        match &mut self.storage {
            Storage::Cpu(v) => Ok(v),
            Storage::Cuda(..) => bail!("tensor is on the GPU; copy it to the host first"),
        }
    }

    /// The Vec behind a CPU tensor, without copying.
    pub fn into_cpu_vec(self) -> Result<Vec<f32>> {
        match self.storage {
            Storage::Cpu(v) => Ok(v),
            Storage::Cuda(b, d) => d.download(&b),
        }
    }
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor({:?} on {})", self.shape, self.device())
    }
}

/// Errors unless `a` and `b` have the same shape.
pub fn ensure_same_shape(op: &str, a: &Tensor, b: &Tensor) -> Result<()> {
    ensure!(
        a.shape() == b.shape(),
        "{op}: shapes differ: {:?} vs {:?}",
        a.shape(),
        b.shape()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_errors_are_errors() {
        let dev = Device::Cpu;
        assert!(Tensor::from_vec(vec![1.0; 5], &[2, 3], &dev).is_err());
        let t = Tensor::from_vec(vec![1.0; 6], &[2, 3], &dev).unwrap();
        assert!(t.dims4().is_err());
        let t = t.reshape(&[1, 1, 2, 3]).unwrap();
        assert_eq!(t.dims4().unwrap(), (1, 1, 2, 3));
        assert!(t.reshape(&[7]).is_err());
        assert!(numel(&[usize::MAX, 2]).is_err());
    }
}
