// Fully connected layer as PyTorch's Linear, y = x W^T + b, forward and backward, on the block
// GEMM core of gemm_core.cuh (three math modes per GEMM kernel, see there; all deterministic).
//
// Layouts (row-major): x and dx [n, in], y and dy [n, out], w and dw [out, in], b and db [out].
// Every buffer is under 2^31 elements (the launchers in src/device/cuda/linear.rs check).
//
// Launch shape of the GEMM kernels: block (256, 1, 1); grid (ceil(N / 64), ceil(M / 64), Z) with
// M, N and Z given per kernel below.
#include "gemm_core.cuh"

// C[m, n] (+ bias[n]) stored row-major with leading dimension ldc.
struct RowMajorEpi {
    float* c;
    int ldc;
    const float* bias;
    __device__ __forceinline__ void operator()(int m, int n, float v) const {
        c[m * ldc + n] = bias ? v + bias[n] : v;
    }
};

// linear_fwd_{f32,tf32,bf16}(x, w, b | null, y, n, in, out)
//   y = x W^T + b, overwritten. GEMM: M = n, N = out, K = in; A = x, B(j, k) = w[j, k]. Grid z = 1.
template <int MATH>
__device__ void linear_fwd_impl(const float* x, const float* w, const float* b, float* y, int n, int in, int out) {
    StridedLoader<true> la{x, in, 1};
    StridedLoader<true> lb{w, in, 1};
    RowMajorEpi epi{y, out, b};
    gemm_block<MATH>(la, lb, epi, n, out, blockIdx.y * GEMM_BM, blockIdx.x * GEMM_BN, 0, in);
}
GEMM_KERNELS(linear_fwd, (const float* x, const float* w, const float* b, float* y, int n, int in, int out),
             (x, w, b, y, n, in, out))

// linear_bwd_input_{f32,tf32,bf16}(dy, w, dx, n, in, out)
//   dx = dy W, overwritten. GEMM: M = n, N = in, K = out; A = dy, B(i, k) = w[k, i]. Grid z = 1.
template <int MATH>
__device__ void linear_bwd_input_impl(const float* dy, const float* w, float* dx, int n, int in, int out) {
    StridedLoader<true> la{dy, out, 1};
    StridedLoader<false> lb{w, 1, in};
    RowMajorEpi epi{dx, in, nullptr};
    gemm_block<MATH>(la, lb, epi, n, in, blockIdx.y * GEMM_BM, blockIdx.x * GEMM_BN, 0, out);
}
GEMM_KERNELS(linear_bwd_input, (const float* dy, const float* w, float* dx, int n, int in, int out),
             (dy, w, dx, n, in, out))

// linear_bwd_weight_{f32,tf32,bf16}(x, dy, partial, chunk, n, in, out)
//   One split-K slice of dW = dy^T x: partial[z, j, i] = sum over rows r in
//   [z*chunk, min((z+1)*chunk, n)) of dy[r, j] * x[r, i]. GEMM: M = out, N = in, K = n;
//   A(j, r) = dy[r, j], B(i, r) = x[r, i]. Grid z = number of slices; the launcher sums them in
//   order and adds into dw with gemm_splitk_add_f32.
template <int MATH>
__device__ void linear_bwd_weight_impl(const float* x, const float* dy, float* part, int chunk, int n, int in,
                                       int out) {
    StridedLoader<false> la{dy, 1, out};
    StridedLoader<false> lb{x, 1, in};
    PartialEpi epi{part, out, in};
    const int k0 = blockIdx.z * chunk, k1 = min(n, k0 + chunk);
    gemm_block<MATH>(la, lb, epi, out, in, blockIdx.y * GEMM_BM, blockIdx.x * GEMM_BN, k0, k1);
}
GEMM_KERNELS(linear_bwd_weight, (const float* x, const float* dy, float* part, int chunk, int n, int in, int out),
             (x, dy, part, chunk, n, in, out))

// linear_bwd_bias_f32(dy, db, n, out)
//   db[j] += sum over rows r of dy[r, j], summed in double in row order (as the CPU reference).
//   Launch: 1-D grid-stride over the out columns (CudaDevice::grid_1d); one thread per column,
//   consecutive threads read consecutive columns of each row.
extern "C" __global__ void linear_bwd_bias_f32(const float* dy, float* db, int n, int out) {
    GRID_STRIDE_LOOP(j, (u64)out) {
        double s = 0.0;
        for (int r = 0; r < n; r++) s += (double)dy[(u64)r * out + j];
        db[j] += (float)s;
    }
}
