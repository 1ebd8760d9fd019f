//! `Tensor`: a shape and f32 storage on one device.
//!
//! Activations are NCHW (batch, channels, height, width), contiguous, as PyTorch users expect;
//! conv weights are OIHW. Ops check shapes and devices and return errors, never panic, on a
//! mismatch.
//!
//! Cloning a tensor is cheap: the storage is shared (a layer keeps its input for the backward
//! pass by cloning it). Writing in place needs the only reference ([`Tensor::cpu_mut`],
//! [`Tensor::slice_mut`]); [`Tensor::deep_clone`] copies the numbers.

use crate::device::cuda::{CudaBuf, CudaDevice};
use crate::device::cuda::{DevView, DevViewMut};
use crate::device::Device;
use crate::Result;
use anyhow::{anyhow, bail, ensure, Context};
use std::ops::Range;
use std::sync::Arc;

/// Where a tensor's numbers are.
pub enum Storage {
    Cpu(Vec<f32>),
    Cuda(CudaBuf, Arc<CudaDevice>),
}

#[derive(Clone)]
pub struct Tensor {
    shape: Vec<usize>,
    storage: Arc<Storage>,
}

/// A read-only range of a tensor's numbers, on its device.
pub enum Slice<'a> {
    Cpu(&'a [f32]),
    Cuda(DevView<'a>, &'a Arc<CudaDevice>),
}

/// A writable range of a tensor's numbers, on its device.
pub enum SliceMut<'a> {
    Cpu(&'a mut [f32]),
    Cuda(DevViewMut<'a>, &'a Arc<CudaDevice>),
}

impl Slice<'_> {
    pub fn len(&self) -> usize {
        match self {
            Slice::Cpu(s) => s.len(),
            Slice::Cuda(v, _) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn cpu(&self) -> Result<&[f32]> {
        match self {
            Slice::Cpu(s) => Ok(s),
            Slice::Cuda(..) => bail!("expected host data, found a GPU buffer"),
        }
    }
}

impl<'a> SliceMut<'a> {
    /// The host slice, or an error naming the mismatch.
    pub fn into_cpu(self) -> Result<&'a mut [f32]> {
        match self {
            SliceMut::Cpu(s) => Ok(s),
            SliceMut::Cuda(..) => bail!("expected host data, found a GPU buffer"),
        }
    }

    pub fn into_cuda(self) -> Result<DevViewMut<'a>> {
        match self {
            SliceMut::Cuda(v, _) => Ok(v),
            SliceMut::Cpu(_) => bail!("expected a GPU buffer, found host data"),
        }
    }

    /// Reborrows the host slice.
    pub fn as_cpu(&mut self) -> Result<&mut [f32]> {
        match self {
            SliceMut::Cpu(s) => Ok(s),
            SliceMut::Cuda(..) => bail!("expected host data, found a GPU buffer"),
        }
    }

    /// Reborrows the device view.
    pub fn as_cuda(&mut self) -> Result<&mut DevViewMut<'a>> {
        match self {
            SliceMut::Cuda(v, _) => Ok(v),
            SliceMut::Cpu(_) => bail!("expected a GPU buffer, found host data"),
        }
    }

    /// Two disjoint writable halves, at `mid`.
    pub fn split_at(self, mid: usize) -> (SliceMut<'a>, SliceMut<'a>) {
        match self {
            SliceMut::Cpu(s) => {
                let (a, b) = s.split_at_mut(mid);
                (SliceMut::Cpu(a), SliceMut::Cpu(b))
            }
            SliceMut::Cuda(v, d) => {
                let (a, b) = v.split_at(mid);
                (SliceMut::Cuda(a, d), SliceMut::Cuda(b, d))
            }
        }
    }

    pub fn len(&self) -> usize {
        match self {
            SliceMut::Cpu(s) => s.len(),
            SliceMut::Cuda(v, _) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The number of elements of `shape`, or an error if it overflows.
pub fn numel(shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| anyhow!("shape {shape:?} has more elements than fit in memory"))
}

impl Tensor {
    fn new(shape: &[usize], storage: Storage) -> Tensor {
        Tensor { shape: shape.to_vec(), storage: Arc::new(storage) }
    }

    pub fn zeros(shape: &[usize], dev: &Device) -> Result<Tensor> {
        let n = numel(shape)?;
        Ok(Tensor::new(
            shape,
            match dev {
                Device::Cpu => Storage::Cpu(
                    crate::device::memory::zeroed_f32(n)
                        .with_context(|| format!("a tensor of shape {shape:?}"))?,
                ),
                Device::Cuda(d) => Storage::Cuda(d.alloc_zeros(n)?, d.clone()),
            },
        ))
    }

    /// A tensor whose contents the caller will overwrite completely. On the CPU it is zeroed
    /// (calloc makes that nearly free); on CUDA it holds whatever the pool's buffer held.
    pub fn uninit(shape: &[usize], dev: &Device) -> Result<Tensor> {
        let n = numel(shape)?;
        Ok(Tensor::new(
            shape,
            match dev {
                Device::Cpu => Storage::Cpu(
                    crate::device::memory::zeroed_f32(n)
                        .with_context(|| format!("a tensor of shape {shape:?}"))?,
                ),
                Device::Cuda(d) => Storage::Cuda(d.alloc(n)?, d.clone()),
            },
        ))
    }

    pub fn from_vec(data: Vec<f32>, shape: &[usize], dev: &Device) -> Result<Tensor> {
        let n = numel(shape)?;
        ensure!(data.len() == n, "{} values do not fill shape {shape:?} ({n} elements)", data.len());
        Ok(Tensor::new(
            shape,
            match dev {
                Device::Cpu => Storage::Cpu(data),
                Device::Cuda(d) => Storage::Cuda(d.upload(&data)?, d.clone()),
            },
        ))
    }

    pub fn from_slice(data: &[f32], shape: &[usize], dev: &Device) -> Result<Tensor> {
        match dev {
            Device::Cpu => Tensor::from_vec(data.to_vec(), shape, dev),
            Device::Cuda(d) => {
                let n = numel(shape)?;
                ensure!(data.len() == n, "{} values do not fill shape {shape:?} ({n} elements)", data.len());
                Ok(Tensor::new(shape, Storage::Cuda(d.upload(data)?, d.clone())))
            }
        }
    }

    pub fn full(value: f32, shape: &[usize], dev: &Device) -> Result<Tensor> {
        Tensor::from_vec(vec![value; numel(shape)?], shape, dev)
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
        match &*self.storage {
            Storage::Cpu(_) => Device::Cpu,
            Storage::Cuda(_, d) => Device::Cuda(d.clone()),
        }
    }

    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The storage for writing; fails if another tensor shares it.
    pub fn storage_mut(&mut self) -> Result<&mut Storage> {
        Arc::get_mut(&mut self.storage)
            .ok_or_else(|| anyhow!("tensor storage is shared; cannot write in place"))
    }

    /// The same numbers with another shape of the same size (shares the storage).
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        ensure!(
            numel(shape)? == self.numel(),
            "cannot reshape {:?} into {shape:?}: sizes differ",
            self.shape
        );
        Ok(Tensor { shape: shape.to_vec(), storage: self.storage.clone() })
    }

    /// The numbers, copied to the host.
    pub fn to_vec(&self) -> Result<Vec<f32>> {
        match &*self.storage {
            Storage::Cpu(v) => Ok(v.clone()),
            Storage::Cuda(b, d) => d.download(b),
        }
    }

    /// The tensor on `dev` (shares the storage if it is there already).
    pub fn to_device(&self, dev: &Device) -> Result<Tensor> {
        if self.device().same(dev) {
            return Ok(self.clone());
        }
        Tensor::from_vec(self.to_vec()?, &self.shape, dev)
    }

    /// A copy with storage of its own.
    pub fn deep_clone(&self) -> Result<Tensor> {
        let storage = match &*self.storage {
            Storage::Cpu(v) => Storage::Cpu(v.clone()),
            Storage::Cuda(b, d) => Storage::Cuda(d.duplicate(b)?, d.clone()),
        };
        Ok(Tensor::new(&self.shape, storage))
    }

    /// The host slice of a CPU tensor.
    pub fn cpu(&self) -> Result<&[f32]> {
        match &*self.storage {
            Storage::Cpu(v) => Ok(v),
            Storage::Cuda(..) => bail!("tensor is on the GPU; copy it to the host first"),
        }
    }

    pub fn cpu_mut(&mut self) -> Result<&mut [f32]> {
        match self.storage_mut()? {
            Storage::Cpu(v) => Ok(v),
            Storage::Cuda(..) => bail!("tensor is on the GPU; copy it to the host first"),
        }
    }

    /// All the numbers as a [`Slice`].
    pub fn view(&self) -> Slice<'_> {
        match &*self.storage {
            Storage::Cpu(v) => Slice::Cpu(v),
            Storage::Cuda(b, d) => Slice::Cuda(b.dev_view(), d),
        }
    }

    /// Elements `range` of the flattened tensor.
    pub fn slice(&self, range: Range<usize>) -> Result<Slice<'_>> {
        ensure!(range.end <= self.numel(), "slice {range:?} out of bounds for {} elements", self.numel());
        Ok(match &*self.storage {
            Storage::Cpu(v) => Slice::Cpu(&v[range]),
            Storage::Cuda(b, d) => Slice::Cuda(b.dev_view().slice(range), d),
        })
    }

    /// Elements `range` of the flattened tensor, writable (needs the only reference).
    pub fn slice_mut(&mut self, range: Range<usize>) -> Result<SliceMut<'_>> {
        let n = self.numel();
        ensure!(range.end <= n, "slice {range:?} out of bounds for {n} elements");
        Ok(match self.storage_mut()? {
            Storage::Cpu(v) => SliceMut::Cpu(&mut v[range]),
            Storage::Cuda(b, d) => SliceMut::Cuda(b.dev_view_mut().slice(range), d),
        })
    }

    /// All the numbers, writable.
    pub fn view_mut(&mut self) -> Result<SliceMut<'_>> {
        let n = self.numel();
        self.slice_mut(0..n)
    }
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor({:?} on {})", self.shape, self.device())
    }
}

/// Errors unless `a` and `b` have the same shape.
pub fn ensure_same_shape(op: &str, a: &Tensor, b: &Tensor) -> Result<()> {
    ensure!(a.shape() == b.shape(), "{op}: shapes differ: {:?} vs {:?}", a.shape(), b.shape());
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

    #[test]
    fn shared_storage_cannot_be_written() {
        let mut a = Tensor::zeros(&[4], &Device::Cpu).unwrap();
        let b = a.clone();
        assert!(a.cpu_mut().is_err());
        drop(b);
        a.cpu_mut().unwrap()[0] = 1.0;
        assert!(a.slice(2..5).is_err());
        assert_eq!(a.slice(0..2).unwrap().cpu().unwrap(), &[1.0, 0.0]);
    }
}
