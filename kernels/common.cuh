// Shared helpers for ddr-engine's kernels. Each kernels/<family>.cu includes this file.
//
// Conventions:
// - Kernel names are <op>_<fwd|bwd>_<dtype> (e.g. relu_fwd_f32) and match the CPU reference in
//   src/device/cpu/<family>.rs and the launcher in src/device/cuda/<family>.rs.
// - Element counts are 64-bit (unsigned long long) so no tensor size overflows an index.
// - 1-D kernels use grid-stride loops: any grid size is correct; the launcher picks one that
//   fills the device (CudaDevice::grid_1d).
#pragma once

typedef unsigned long long u64;

#define GRID_STRIDE_LOOP(i, n) \
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (u64)gridDim.x * blockDim.x)

// Sum of one double per thread over a block of exactly BLOCK threads (a power of two), as a
// shared-memory tree in a fixed pairing: the result does not depend on scheduling. Every thread
// of the block must call it; all of them get the sum. `sh` holds BLOCK doubles; it may be reused
// as soon as this returns.
template <int BLOCK>
__device__ __forceinline__ double block_sum_f64(double v, double* sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
#pragma unroll
    for (int s = BLOCK / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    const double r = sh[0];
    __syncthreads();
    return r;
}

// Position of flat element idx of a [planes, rows, cols] buffer: its plane, row and column.
struct PlanePos {
    u64 plane;
    int row, col;
};

__device__ __forceinline__ PlanePos plane_pos(u64 idx, int rows, int cols) {
    const u64 size = (u64)rows * cols;
    const u64 plane = idx / size;
    const int rest = (int)(idx - plane * size);
    return PlanePos{plane, rest / cols, rest % cols};
}
