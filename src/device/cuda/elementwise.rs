//! Launchers for `kernels/elementwise.cu`, mirroring `device::cpu::elementwise`.

use super::CudaDevice;
use super::{DevView, DevViewMut};
use crate::Result;

type In<'a, 'b> = &'a DevView<'b>;
type Out<'a, 'b> = &'a mut DevViewMut<'b>;

fn same_len(what: &str, a: usize, b: usize) -> Result<u64> {
    anyhow::ensure!(a == b, "{what}: buffer lengths differ ({a} vs {b})");
    Ok(b as u64)
}

pub fn scale_f32(dev: &CudaDevice, x: In, a: f32, y: Out) -> Result<()> {
    let n = same_len("scale_f32", x.len(), y.len())?;
    launch!(dev, "scale_f32", dev.grid_1d(n as usize), x.arg(), &a, y.arg(), &n)
}

pub fn axpy_f32(dev: &CudaDevice, a: f32, x: In, y: Out) -> Result<()> {
    let n = same_len("axpy_f32", x.len(), y.len())?;
    launch!(dev, "axpy_f32", dev.grid_1d(n as usize), &a, x.arg(), y.arg(), &n)
}

pub fn add_f32(dev: &CudaDevice, a: In, b: In, y: Out) -> Result<()> {
    same_len("add_f32", a.len(), b.len())?;
    let n = same_len("add_f32", a.len(), y.len())?;
    launch!(dev, "add_f32", dev.grid_1d(n as usize), a.arg(), b.arg(), y.arg(), &n)
}

/// `y = a * b`, `b` of `a`'s shape (`cb == c`) or broadcast over its channels (`cb == 1`).
pub fn mul_f32(dev: &CudaDevice, a: In, b: In, y: Out, c: usize, hw: usize, cb: usize) -> Result<()> {
    let total = same_len("mul_f32", a.len(), y.len())?;
    anyhow::ensure!(
        (cb == c || cb == 1) && b.len() * c == a.len() * cb,
        "mul_f32: b has {} elements, not a's {} with {cb} of {c} channels",
        b.len(),
        a.len()
    );
    let (c, hw, cb) = (c as u64, hw as u64, cb as u64);
    launch!(dev, "mul_f32", dev.grid_1d(total as usize), a.arg(), b.arg(), y.arg(), &c, &hw, &cb, &total)
}

/// The gradient of a channel-broadcast `b` of [`mul_f32`]: `db = sum over channels of dy * a`.
pub fn mul_bwd_bcast_f32(dev: &CudaDevice, dy: In, a: In, db: Out, c: usize, hw: usize) -> Result<()> {
    same_len("mul_bwd_bcast_f32", dy.len(), a.len())?;
    anyhow::ensure!(db.len() * c == a.len(), "mul_bwd_bcast_f32: db has {} elements", db.len());
    let (c, hw, total) = (c as u64, hw as u64, db.len() as u64);
    launch!(
        dev,
        "mul_bwd_bcast_f32",
        dev.grid_1d(total as usize),
        dy.arg(),
        a.arg(),
        db.arg(),
        &c,
        &hw,
        &total
    )
}

pub fn fill_f32(dev: &CudaDevice, y: Out, v: f32) -> Result<()> {
    let n = y.len() as u64;
    launch!(dev, "fill_f32", dev.grid_1d(n as usize), y.arg(), &v, &n)
}

pub fn relu_fwd_f32(dev: &CudaDevice, x: In, y: Out) -> Result<()> {
    let n = same_len("relu_fwd_f32", x.len(), y.len())?;
    launch!(dev, "relu_fwd_f32", dev.grid_1d(n as usize), x.arg(), y.arg(), &n)
}

pub fn relu_bwd_f32(dev: &CudaDevice, y: In, dy: In, dx: Out) -> Result<()> {
    same_len("relu_bwd_f32", y.len(), dy.len())?;
    let n = same_len("relu_bwd_f32", y.len(), dx.len())?;
    launch!(dev, "relu_bwd_f32", dev.grid_1d(n as usize), y.arg(), dy.arg(), dx.arg(), &n)
}

pub fn leaky_relu_fwd_f32(dev: &CudaDevice, x: In, slope: f32, y: Out) -> Result<()> {
    let n = same_len("leaky_relu_fwd_f32", x.len(), y.len())?;
    launch!(dev, "leaky_relu_fwd_f32", dev.grid_1d(n as usize), x.arg(), &slope, y.arg(), &n)
}

pub fn leaky_relu_bwd_f32(dev: &CudaDevice, x: In, dy: In, slope: f32, dx: Out) -> Result<()> {
    same_len("leaky_relu_bwd_f32", x.len(), dy.len())?;
    let n = same_len("leaky_relu_bwd_f32", x.len(), dx.len())?;
    launch!(dev, "leaky_relu_bwd_f32", dev.grid_1d(n as usize), x.arg(), dy.arg(), &slope, dx.arg(), &n)
}

pub fn sigmoid_fwd_f32(dev: &CudaDevice, x: In, y: Out) -> Result<()> {
    let n = same_len("sigmoid_fwd_f32", x.len(), y.len())?;
    launch!(dev, "sigmoid_fwd_f32", dev.grid_1d(n as usize), x.arg(), y.arg(), &n)
}

pub fn sigmoid_bwd_f32(dev: &CudaDevice, y: In, dy: In, dx: Out) -> Result<()> {
    same_len("sigmoid_bwd_f32", y.len(), dy.len())?;
    let n = same_len("sigmoid_bwd_f32", y.len(), dx.len())?;
    launch!(dev, "sigmoid_bwd_f32", dev.grid_1d(n as usize), y.arg(), dy.arg(), dx.arg(), &n)
}

/// `y = x`, through our own kernel (the bandwidth reference of `benches/gpu.rs`).
pub fn copy_f32(dev: &CudaDevice, x: In, y: Out) -> Result<()> {
    let n = same_len("copy_f32", x.len(), y.len())?;
    launch!(dev, "copy_f32", dev.grid_1d(n as usize), x.arg(), y.arg(), &n)
}
