// 2-D convolution as PyTorch's Conv2d computes it (cross-correlation), forward and both backward
// passes, as implicit GEMMs on the block core of gemm_core.cuh. Nothing is materialised: im2col
// elements are gathered from the activations, with zero padding, as the tiles are loaded.
//
// Layouts: x [n, c_in, h, w], y and dy [n, c_out, ho, wo] (NCHW); w [c_out, c_in, k, k] (OIHW);
// bias [c_out]. Square kernels; the same stride and zero padding on both axes;
// ho = (h + 2 pad - k) / stride + 1, likewise wo. Every buffer is under 2^31 elements (the
// launchers in src/device/cuda/conv2d.rs check), so indices are 32-bit.
//
// Each GEMM kernel comes in three math modes, <name>_f32, <name>_tf32, <name>_bf16 (see
// gemm_core.cuh); all are deterministic.
//
// Launch shape of the GEMM kernels: block (256, 1, 1); grid (ceil(N / 64), ceil(M / 64), Z) with
// M, N and Z given per kernel below.
#include "gemm_core.cuh"

// The geometry as the launcher passes it, one struct by value (ConvArgs in conv2d.rs, #[repr(C)]).
struct ConvParams {
    int n, c_in, h, w, c_out, k, stride, pad;
};

struct ConvGeom {
    int n, c_in, h, w, c_out, k, stride, pad, ho, wo;
    __device__ explicit ConvGeom(const ConvParams& p)
        : n(p.n), c_in(p.c_in), h(p.h), w(p.w), c_out(p.c_out), k(p.k), stride(p.stride), pad(p.pad),
          ho((p.h + 2 * p.pad - p.k) / p.stride + 1), wo((p.w + 2 * p.pad - p.k) / p.stride + 1) {}
    __device__ __forceinline__ int plane_out() const { return ho * wo; }
    __device__ __forceinline__ int ckk() const { return c_in * k * k; }
};

// im2col element (row q = (c, ki, kj), column p = output pixel (img, oh, ow) counted across the
// batch): x[img, c, oh*stride - pad + ki, ow*stride - pad + kj], zero outside the image.
__device__ __forceinline__ float im2col_at(const float* x, const ConvGeom& g, int p, int q) {
    const int plane = g.plane_out();
    const int img = p / plane, pix = p - img * plane;
    const int oh = pix / g.wo, ow = pix - oh * g.wo;
    const int kk = g.k * g.k;
    const int c = q / kk, rem = q - c * kk;
    const int ki = rem / g.k, kj = rem - ki * g.k;
    const int ih = oh * g.stride - g.pad + ki, iw = ow * g.stride - g.pad + kj;
    if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) return 0.f;
    return x[((img * g.c_in + c) * g.h + ih) * g.w + iw];
}

// ---------------------------------------------------------------------------------------------
// conv2d_fwd_{f32,tf32,bf16}(x, w, bias | null, y, geometry)
//   y = conv2d(x, w) + bias, y overwritten.
//   GEMM: M = c_out, N = n*ho*wo (output pixels of the whole batch), K = c_in*k*k;
//   A = w as [c_out, c_in*k*k] row-major, B(p, q) = im2col. Grid z = 1.
// ---------------------------------------------------------------------------------------------
struct Im2colCols {  // B of the forward pass: column = output pixel, depth = (c, ki, kj)
    static constexpr bool K_FAST = false;  // consecutive pixels are consecutive in x
    const float* x;
    ConvGeom g;
    __device__ __forceinline__ float operator()(int p, int q) const { return im2col_at(x, g, p, q); }
};

struct ConvFwdEpi {
    const float* bias;
    float* y;
    int plane, c_out;
    __device__ __forceinline__ void operator()(int o, int p, float v) const {
        const int img = p / plane, pix = p - img * plane;
        y[(img * c_out + o) * plane + pix] = bias ? v + bias[o] : v;
    }
};

template <int MATH>
__device__ void conv2d_fwd_impl(const float* x, const float* wt, const float* bias, float* y, ConvParams p) {
    const ConvGeom g(p);
    const int M = g.c_out, N = g.n * g.plane_out(), K = g.ckk();
    StridedLoader<true> la{wt, K, 1};
    Im2colCols lb{x, g};
    ConvFwdEpi epi{bias, y, g.plane_out(), g.c_out};
    gemm_block<MATH>(la, lb, epi, M, N, blockIdx.y * GEMM_BM, blockIdx.x * GEMM_BN, 0, K);
}

GEMM_KERNELS(conv2d_fwd, (const float* x, const float* wt, const float* bias, float* y, ConvParams p),
             (x, wt, bias, y, p))

// ---------------------------------------------------------------------------------------------
// conv2d_bwd_input_{f32,tf32,bf16}(dy, w, dx, geometry)
//   dx = d(sum(dy * conv2d(x, w))) / dx, overwritten, for any stride, as a gather: each input
//   pixel sums over the (o, ki, kj) whose window covers it, so no atomics are needed.
//   GEMM: M = c_in, N = n*h*w (input pixels of the whole batch), K = c_out*k*k;
//   A(c, (o, ki, kj)) = w[o, c, ki, kj];
//   B((img, ih, iw), (o, ki, kj)) = dy[img, o, oh, ow] where ih + pad - ki = oh*stride and
//   iw + pad - kj = ow*stride, zero when that has no solution inside dy. Grid z = 1.
//   At stride s only about 1/s^2 of the B elements are non-zero: correct, not optimal for s > 1.
// ---------------------------------------------------------------------------------------------
struct WeightTransposed {  // A of the input gradient
    static constexpr bool K_FAST = true;  // runs of k*k consecutive weights
    const float* wt;
    int c_in, kk;
    __device__ __forceinline__ float operator()(int c, int q) const {
        const int o = q / kk, rem = q - o * kk;
        return wt[(o * c_in + c) * kk + rem];
    }
};

struct DyGather {  // B of the input gradient
    static constexpr bool K_FAST = false;  // consecutive input pixels read (mostly) consecutive dy
    const float* dy;
    ConvGeom g;
    __device__ __forceinline__ float operator()(int p, int q) const {
        const int plane = g.h * g.w;
        const int img = p / plane, pix = p - img * plane;
        const int ih = pix / g.w, iw = pix - ih * g.w;
        const int kk = g.k * g.k;
        const int o = q / kk, rem = q - o * kk;
        const int ki = rem / g.k, kj = rem - ki * g.k;
        const int th = ih + g.pad - ki, tw = iw + g.pad - kj;
        if (th < 0 || tw < 0) return 0.f;
        const int oh = th / g.stride, ow = tw / g.stride;
        if (oh * g.stride != th || ow * g.stride != tw || oh >= g.ho || ow >= g.wo) return 0.f;
        return dy[((img * g.c_out + o) * g.ho + oh) * g.wo + ow];
    }
};

struct ConvBwdInputEpi {
    float* dx;
    int plane, c_in;
    __device__ __forceinline__ void operator()(int c, int p, float v) const {
        const int img = p / plane, pix = p - img * plane;
        dx[(img * c_in + c) * plane + pix] = v;
    }
};

template <int MATH>
__device__ void conv2d_bwd_input_impl(const float* dy, const float* wt, float* dx, ConvParams p) {
    const ConvGeom g(p);
    const int M = g.c_in, N = g.n * g.h * g.w, K = g.c_out * g.k * g.k;
    WeightTransposed la{wt, g.c_in, g.k * g.k};
    DyGather lb{dy, g};
    ConvBwdInputEpi epi{dx, g.h * g.w, g.c_in};
    gemm_block<MATH>(la, lb, epi, M, N, blockIdx.y * GEMM_BM, blockIdx.x * GEMM_BN, 0, K);
}

GEMM_KERNELS(conv2d_bwd_input, (const float* dy, const float* wt, float* dx, ConvParams p), (dy, wt, dx, p))

// ---------------------------------------------------------------------------------------------
// conv2d_bwd_weight_{f32,tf32,bf16}(x, dy, partial, chunk, geometry)
//   One split-K slice of the weight gradient: partial[z, o, q] = sum over the pixels
//   p in [z*chunk, min((z+1)*chunk, n*ho*wo)) of dy[p's image, o, p's pixel] * im2col(q, p).
//   GEMM: M = c_out, N = c_in*k*k, K = n*ho*wo (all output pixels of the batch);
//   A(o, p) = dy, B(q, p) = im2col(q, p), both contiguous along p.
//   Grid z = number of slices (chunk is a multiple of 16). The launcher then sums the slices in
//   order with gemm_splitk_add_f32 and adds the total into dw: a fixed reduction tree.
// ---------------------------------------------------------------------------------------------
struct DyRows {  // A of the weight gradient
    static constexpr bool K_FAST = true;
    const float* dy;
    int plane, c_out;
    __device__ __forceinline__ float operator()(int o, int p) const {
        const int img = p / plane, pix = p - img * plane;
        return dy[(img * c_out + o) * plane + pix];
    }
};

struct Im2colRows {  // B of the weight gradient: column = (c, ki, kj), depth = output pixel
    static constexpr bool K_FAST = true;
    const float* x;
    ConvGeom g;
    __device__ __forceinline__ float operator()(int q, int p) const { return im2col_at(x, g, p, q); }
};

template <int MATH>
__device__ void conv2d_bwd_weight_impl(const float* x, const float* dy, float* part, int chunk, ConvParams p) {
    const ConvGeom g(p);
    const int M = g.c_out, N = g.ckk(), K = g.n * g.plane_out();
    DyRows la{dy, g.plane_out(), g.c_out};
    Im2colRows lb{x, g};
    PartialEpi epi{part, M, N};
    const int k0 = blockIdx.z * chunk, k1 = min(K, k0 + chunk);
    gemm_block<MATH>(la, lb, epi, M, N, blockIdx.y * GEMM_BM, blockIdx.x * GEMM_BN, k0, k1);
}

GEMM_KERNELS(conv2d_bwd_weight, (const float* x, const float* dy, float* part, int chunk, ConvParams p),
             (x, dy, part, chunk, p))

// ---------------------------------------------------------------------------------------------
// conv2d_bwd_bias_f32(dy, part, n, c_out, plane, chunk)
//   Pass 1 of the bias gradient, db[o] += sum of dy[img, o, :, :] over the batch. Channel o's
//   n*plane values are cut into gridDim.y slices of `chunk` flat positions e = img*plane + pix;
//   block (o, s) sums slice s, each thread a fixed strided subset in order, then the block's
//   fixed tree, into part[o * gridDim.y + s] (double). Many blocks per channel: a last conv with
//   3 channels would otherwise fill 3 SMs.
//   Launch: grid (c_out, slices, 1), block (256, 1, 1).
// conv2d_bwd_bias_sum_f32(part, slices, c_out, db)
//   Pass 2: db[o] += (float)(part[o, 0] + ... + part[o, slices-1]), slices in order.
//   Launch: 1-D grid-stride over c_out.
// Both passes have fixed shapes given the problem: deterministic.
// ---------------------------------------------------------------------------------------------
extern "C" __global__ void __launch_bounds__(256) conv2d_bwd_bias_f32(const float* dy, double* part, int n, int c_out,
                                                                     int plane, int chunk) {
    __shared__ double sh[256];
    const int o = blockIdx.x;
    const long long total = (long long)n * plane, e0 = (long long)blockIdx.y * chunk;
    const long long e1 = min(total, e0 + chunk);
    double s = 0.0;
    for (long long e = e0 + threadIdx.x; e < e1; e += 256) {
        const long long img = e / plane;
        s += (double)dy[(img * c_out + o) * plane + (e - img * plane)];
    }
    s = block_sum_f64<256>(s, sh);
    if (threadIdx.x == 0) part[(u64)o * gridDim.y + blockIdx.y] = s;
}

extern "C" __global__ void conv2d_bwd_bias_sum_f32(const double* part, int slices, int c_out, float* db) {
    GRID_STRIDE_LOOP(o, (u64)c_out) {
        double s = 0.0;
        for (int k = 0; k < slices; k++) s += part[o * slices + k];
        db[o] += (float)s;
    }
}
