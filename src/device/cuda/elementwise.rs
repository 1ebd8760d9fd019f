//! Launchers for `kernels/elementwise.cu`, mirroring `device::cpu::elementwise`.

use super::CudaDevice;
use crate::Result;
use cudarc::driver::{CudaView, CudaViewMut};

type In<'a, 'b> = &'a CudaView<'b, f32>;
type Out<'a, 'b> = &'a mut CudaViewMut<'b, f32>;

fn same_len(what: &str, a: usize, b: usize) -> Result<u64> {
    anyhow::ensure!(a == b, "{what}: buffer lengths differ ({a} vs {b})");
    Ok(b as u64)
}

pub fn scale_f32(dev: &CudaDevice, x: In, a: f32, y: Out) -> Result<()> {
    let n = same_len("scale_f32", x.len(), y.len())?;
    launch!(dev, "scale_f32", dev.grid_1d(n as usize), x, &a, y, &n)
}

pub fn axpy_f32(dev: &CudaDevice, a: f32, x: In, y: Out) -> Result<()> {
    let n = same_len("axpy_f32", x.len(), y.len())?;
    launch!(dev, "axpy_f32", dev.grid_1d(n as usize), &a, x, y, &n)
}

pub fn add_f32(dev: &CudaDevice, a: In, b: In, y: Out) -> Result<()> {
    same_len("add_f32", a.len(), b.len())?;
    let n = same_len("add_f32", a.len(), y.len())?;
    launch!(dev, "add_f32", dev.grid_1d(n as usize), a, b, y, &n)
}

pub fn fill_f32(dev: &CudaDevice, y: Out, v: f32) -> Result<()> {
    let n = y.len() as u64;
    launch!(dev, "fill_f32", dev.grid_1d(n as usize), y, &v, &n)
}

pub fn relu_fwd_f32(dev: &CudaDevice, x: In, y: Out) -> Result<()> {
    let n = same_len("relu_fwd_f32", x.len(), y.len())?;
    launch!(dev, "relu_fwd_f32", dev.grid_1d(n as usize), x, y, &n)
}

pub fn relu_bwd_f32(dev: &CudaDevice, y: In, dy: In, dx: Out) -> Result<()> {
    same_len("relu_bwd_f32", y.len(), dy.len())?;
    let n = same_len("relu_bwd_f32", y.len(), dx.len())?;
    launch!(dev, "relu_bwd_f32", dev.grid_1d(n as usize), y, dy, dx, &n)
}

pub fn leaky_relu_fwd_f32(dev: &CudaDevice, x: In, slope: f32, y: Out) -> Result<()> {
    let n = same_len("leaky_relu_fwd_f32", x.len(), y.len())?;
    launch!(
        dev,
        "leaky_relu_fwd_f32",
        dev.grid_1d(n as usize),
        x,
        &slope,
        y,
        &n
    )
}

pub fn leaky_relu_bwd_f32(dev: &CudaDevice, x: In, dy: In, slope: f32, dx: Out) -> Result<()> {
    same_len("leaky_relu_bwd_f32", x.len(), dy.len())?;
    let n = same_len("leaky_relu_bwd_f32", x.len(), dx.len())?;
    launch!(
        dev,
        "leaky_relu_bwd_f32",
        dev.grid_1d(n as usize),
        x,
        dy,
        &slope,
        dx,
        &n
    )
}
