// Helpers shared by the GEMM-shaped families (conv2d.cu, linear.cu).
#include "common.cuh"

// gemm_splitk_add_f32(part, splits, len, dst)
//   dst[i] += part[0, i] + part[1, i] + ... + part[splits-1, i], the slices summed in index order
//   (a fixed order: deterministic), then added to dst once. part: [splits, len] row-major.
//   Launch: 1-D grid-stride over len (CudaDevice::grid_1d); consecutive threads read consecutive
//   elements of each slice.
extern "C" __global__ void gemm_splitk_add_f32(const float* part, int splits, u64 len, float* dst) {
    GRID_STRIDE_LOOP(i, len) {
        float s = part[i];
        for (int z = 1; z < splits; z++) s += part[(u64)z * len + i];
        dst[i] += s;
    }
}
