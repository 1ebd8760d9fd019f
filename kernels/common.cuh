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
