//! What the GEMM-shaped launchers (`conv2d.rs`, `linear.rs`) share: the math-mode setting, the
//! launch shape of `kernels/gemm_core.cuh`, the split-K plan of the weight gradients and the
//! launch of `kernels/gemm.cu`'s slice reduction.

use super::{CudaDevice, DevView, DevViewMut};
use crate::Result;
use cudarc::driver::LaunchConfig;

/// The arithmetic of the GEMM-shaped kernels (conv2d's forward, input gradient and weight
/// gradient; linear's three). Every mode accumulates in f32 in a fixed order, so each is
/// deterministic; they differ in how the inputs are rounded before they are multiplied.
///
/// - `F32`: full f32 products on CUDA cores (the default: it matches the CPU to ~1e-6).
/// - `Tf32`: tensor cores, inputs rounded to TF32 (10-bit mantissa): ~1e-3 relative to the sum
///   of |products|.
/// - `Bf16`: tensor cores, inputs rounded to bfloat16 (7-bit mantissa): ~1e-2 relative.
///
/// Chosen per device with [`CudaDevice::set_conv_math`], or for a whole process with the
/// environment variable `DDR_CUDA_CONV_MATH=f32|tf32|bf16`, read when a device is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ConvMath {
    F32 = 0,
    Tf32 = 1,
    Bf16 = 2,
}

impl ConvMath {
    pub const ALL: [ConvMath; 3] = [ConvMath::F32, ConvMath::Tf32, ConvMath::Bf16];

    pub(super) fn from_tag(tag: u8) -> ConvMath {
        match tag {
            1 => ConvMath::Tf32,
            2 => ConvMath::Bf16,
            _ => ConvMath::F32,
        }
    }

    /// `DDR_CUDA_CONV_MATH`, or F32 when it is not set.
    pub(super) fn from_env() -> std::result::Result<ConvMath, String> {
        match std::env::var("DDR_CUDA_CONV_MATH") {
            Err(_) => Ok(ConvMath::F32),
            Ok(v) => v.parse().map_err(|e| format!("DDR_CUDA_CONV_MATH: {e}")),
        }
    }

    /// The kernel of this mode among a family's `[f32, tf32, bf16]` entries.
    pub(super) fn pick(self, names: [&'static str; 3]) -> &'static str {
        names[self as usize]
    }

    pub fn name(self) -> &'static str {
        ["f32", "tf32", "bf16"][self as usize]
    }
}

impl std::str::FromStr for ConvMath {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        ConvMath::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("'{s}' is not a GEMM math mode: use f32, tf32 or bf16"))
    }
}

impl std::fmt::Display for ConvMath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The C tile of one block and the depth of one shared-memory stage (`gemm_core.cuh`).
const TILE: usize = 64;
const BK: usize = 16;
const THREADS: u32 = 256;

/// Kernels index with 32-bit ints: every buffer and GEMM extent must stay below 2^31.
pub(super) fn to_i32(what: &str, v: usize) -> Result<i32> {
    i32::try_from(v)
        .map_err(|_| anyhow::anyhow!("{what}: {v} exceeds the CUDA kernels' 2^31 - 1 element limit"))
}

/// One block per 64 x 64 tile of the `m x n` result of depth `k`, `z` blocks deep (split-K
/// slices of `k`). The kernels index tiles, rounded up to whole tiles and k steps, with i32.
pub(super) fn gemm_cfg(what: &str, m: usize, n: usize, k: usize, z: usize) -> Result<LaunchConfig> {
    let (gx, gy) = (n.div_ceil(TILE), m.div_ceil(TILE));
    anyhow::ensure!(m > 0 && n > 0 && z > 0, "{what}: empty matrix product ({m} x {n}, {z} slices)");
    for extent in [gx * TILE, gy * TILE, k.div_ceil(BK) * BK + BK] {
        to_i32(what, extent)?;
    }
    anyhow::ensure!(
        gy <= 65535 && z <= 65535,
        "{what}: a {m} x {n} product in {z} slices exceeds the CUDA grid"
    );
    Ok(LaunchConfig {
        grid_dim: (gx as u32, gy as u32, z as u32),
        block_dim: (THREADS, 1, 1),
        shared_mem_bytes: 0,
    })
}

/// How a weight gradient's reduction over `k` (pixels or rows of the batch) is cut into slices:
/// `splits` slices of `chunk` (a multiple of the kernel's k step), the last one shorter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct SplitK {
    pub splits: usize,
    pub chunk: usize,
}

/// Blocks a split-K launch aims for: a few waves on a 132-SM H100 without reading the device, so
/// that the plan (and with it the rounding) depends on the problem shape only.
const SPLITK_TARGET_BLOCKS: usize = 512;
/// The least depth worth a slice of its own.
const SPLITK_MIN_DEPTH: usize = 256;
const SPLITK_MAX: usize = 256;

/// The split of an `m x n` product over depth `k`: a function of the shape only, so the same
/// problem is always summed in the same order, on any GPU.
pub(super) fn split_k(m: usize, n: usize, k: usize) -> SplitK {
    let tiles = m.div_ceil(TILE) * n.div_ceil(TILE);
    let wanted = SPLITK_TARGET_BLOCKS.div_ceil(tiles.max(1));
    let splits = wanted.min(k.div_ceil(SPLITK_MIN_DEPTH)).clamp(1, SPLITK_MAX);
    let chunk = k.div_ceil(splits).div_ceil(BK).max(1) * BK;
    SplitK { splits: k.div_ceil(chunk).max(1), chunk }
}

/// `dst += sum of the slices of part` (`[splits, dst.len()]`), slices summed in order.
pub(super) fn splitk_add(
    dev: &CudaDevice,
    part: &DevView,
    splits: usize,
    dst: &mut DevViewMut,
) -> Result<()> {
    let len = dst.len() as u64;
    anyhow::ensure!(part.len() >= splits * dst.len(), "split-K partial buffer too small");
    let splits = to_i32("split-K slices", splits)?;
    launch!(dev, "gemm_splitk_add_f32", dev.grid_1d(len as usize), part.arg(), &splits, &len, dst.arg())
}

/// Checks that `len` of `what` is `want`.
pub(super) fn ensure_len(what: &str, len: usize, want: usize) -> Result<()> {
    anyhow::ensure!(len == want, "{what} has {len} values, expected {want}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_k_covers_the_depth_with_no_empty_slice() {
        for (m, n, k) in [
            (64, 576, 16 * 128 * 128),
            (64, 576, 16 * 32 * 32),
            (3, 576, 16 * 128 * 128),
            (64, 27, 16 * 128 * 128),
            (67, 45, 189),
            (5, 7, 1),
            (1, 1, 17),
            (100, 8192, 16),
            (4096, 4096, 4096),
        ] {
            let p = split_k(m, n, k);
            assert!(p.chunk.is_multiple_of(BK) && p.chunk > 0, "{p:?}");
            assert!(p.splits >= 1 && p.splits <= SPLITK_MAX, "{p:?}");
            assert!(p.splits * p.chunk >= k, "{p:?} does not cover {k}");
            assert!((p.splits - 1) * p.chunk < k, "{p:?} has an empty last slice for {k}");
        }
        // The MSRResNet body conv at HR gets many slices; a tiny product gets one.
        assert!(split_k(64, 576, 16 * 128 * 128).splits > 32);
        assert_eq!(split_k(5, 7, 100).splits, 1);
        // The uneven case gpu_parity_conv2d covers (3 x 64 x 15 x 15, 64 out): 240 + 240 + 195.
        assert_eq!(split_k(64, 576, 3 * 15 * 15), SplitK { splits: 3, chunk: 240 });
    }

    #[test]
    fn products_past_the_kernels_32_bit_indices_or_the_grid_are_refused() {
        let limit = 1usize << 31;
        assert!(gemm_cfg("t", 64, 64, 64, 1).is_ok());
        for (m, n, k, z) in [
            (limit, 1, 1, 1),      // rows of C
            (1, limit - 10, 1, 1), // columns of C, rounded up to whole tiles
            (1, 1, limit - 8, 1),  // depth, rounded up to whole k steps
            (65536 * 64, 1, 1, 1), // grid y
            (1, 1, 1, 65536),      // split-K slices (grid z)
            (0, 1, 1, 1),          // empty
        ] {
            let e = gemm_cfg("t", m, n, k, z).unwrap_err().to_string();
            assert!(e.contains("2^31") || e.contains("grid") || e.contains("empty"), "{m} {n} {k} {z}: {e}");
        }
        assert!(to_i32("t", limit - 1).is_ok());
        assert!(to_i32("t", limit).unwrap_err().to_string().contains("2^31 - 1"));
    }

    #[test]
    fn math_modes_parse_and_name_their_kernels() {
        for m in ConvMath::ALL {
            assert_eq!(m.name().parse::<ConvMath>().unwrap(), m);
            assert_eq!(ConvMath::from_tag(m as u8), m);
        }
        assert!("fp16".parse::<ConvMath>().is_err());
        assert_eq!(ConvMath::Tf32.pick(["a_f32", "a_tf32", "a_bf16"]), "a_tf32");
    }
}
