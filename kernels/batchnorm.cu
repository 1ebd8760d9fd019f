// BatchNorm2d over NCHW, per channel, as PyTorch computes it, mirroring
// src/device/cpu/batchnorm.rs. Train mode normalises with the batch mean and biased variance and
// moves the running statistics towards the batch mean and the UNBIASED variance; eval mode uses
// the running statistics.
//
// Layouts: x, y, dy, dx [n, c, hw] (hw = h*w); gamma, beta, running_*, dgamma, dbeta [c];
// stats [2, c] = (mean, 1/sqrt(var + eps)) per channel, written by the train forward for the
// backward; coef [2, c] = (sum(dy) / m, sum(dy * xhat) / m), m = n*hw.
//
// Determinism: per-channel sums are taken in double by one block per channel, each thread over a
// fixed strided subset in order, then a fixed shared-memory tree (block_sum_f64): no atomics.
// The elementwise kernels use explicit round-to-nearest intrinsics in the CPU's operation order,
// so given the same statistics they produce the CPU's bytes.
#include "common.cuh"

#define BN_THREADS 256

// Sum over channel ch of f(x-index) for the elements of one block's channel, each thread taking
// elements threadIdx.x, threadIdx.x + 256, ... of every image's plane in image order.
template <class F>
__device__ __forceinline__ double bn_channel_sum(int n, int c, int hw, int ch, double* sh, F f) {
    double s = 0.0;
    for (int img = 0; img < n; img++) {
        const int base = (img * c + ch) * hw;
        for (int j = threadIdx.x; j < hw; j += BN_THREADS) s = __dadd_rn(s, f(base + j));
    }
    return block_sum_f64<BN_THREADS>(s, sh);
}

// batchnorm_stats_fwd_f32(x, eps, momentum, running_mean, running_var, stats, n, c, hw)
//   Train-mode statistics: mean and biased variance in two passes (as the CPU), stats written,
//   running statistics updated in place.
//   Launch: grid (c, 1, 1), block (256, 1, 1).
extern "C" __global__ void __launch_bounds__(BN_THREADS)
    batchnorm_stats_fwd_f32(const float* x, float eps, float momentum, float* running_mean, float* running_var,
                            float* stats, int n, int c, int hw) {
    __shared__ double sh[BN_THREADS];
    const int ch = blockIdx.x;
    const double m = (double)n * hw;
    const double mean = bn_channel_sum(n, c, hw, ch, sh, [&](int i) { return (double)x[i]; }) / m;
    const double ss = bn_channel_sum(n, c, hw, ch, sh, [&](int i) {
        const double d = (double)x[i] - mean;
        return __dmul_rn(d, d);
    });
    if (threadIdx.x == 0) {
        const double var = ss / m;
        const float meanf = (float)mean;
        stats[ch] = meanf;
        stats[c + ch] = (float)(1.0 / sqrt(var + (double)eps));
        const float unbiased = (float)(m > 1.0 ? var * m / (m - 1.0) : var);
        const float keep = __fsub_rn(1.f, momentum);
        running_mean[ch] = __fadd_rn(__fmul_rn(keep, running_mean[ch]), __fmul_rn(momentum, meanf));
        running_var[ch] = __fadd_rn(__fmul_rn(keep, running_var[ch]), __fmul_rn(momentum, unbiased));
    }
}

// y = a x + b with a = gamma * inv_std, b = beta - a * mean (the CPU's rounding order).
__device__ __forceinline__ float bn_affine(float v, float gamma, float beta, float mean, float inv_std) {
    const float a = __fmul_rn(gamma, inv_std);
    const float b = __fsub_rn(beta, __fmul_rn(a, mean));
    return __fadd_rn(__fmul_rn(a, v), b);
}

// batchnorm_norm_fwd_f32(x, gamma, beta, stats, y, c, hw, len = n*c*hw)
//   Train-mode normalisation with the batch statistics in stats.
//   Launch: 1-D grid-stride over len (CudaDevice::grid_1d).
extern "C" __global__ void batchnorm_norm_fwd_f32(const float* x, const float* gamma, const float* beta,
                                                  const float* stats, float* y, int c, int hw, u64 len) {
    GRID_STRIDE_LOOP(i, len) {
        const int ch = (int)((i / hw) % c);
        y[i] = bn_affine(x[i], gamma[ch], beta[ch], stats[ch], stats[c + ch]);
    }
}

// batchnorm_eval_fwd_f32(x, gamma, beta, running_mean, running_var, eps, y, c, hw, len = n*c*hw)
//   Eval-mode forward: inv_std = 1 / sqrt(running_var + eps) in f32, then as the train forward.
//   Launch: 1-D grid-stride over len (CudaDevice::grid_1d).
extern "C" __global__ void batchnorm_eval_fwd_f32(const float* x, const float* gamma, const float* beta,
                                                  const float* running_mean, const float* running_var, float eps,
                                                  float* y, int c, int hw, u64 len) {
    GRID_STRIDE_LOOP(i, len) {
        const int ch = (int)((i / hw) % c);
        const float inv_std = __fdiv_rn(1.f, __fsqrt_rn(__fadd_rn(running_var[ch], eps)));
        y[i] = bn_affine(x[i], gamma[ch], beta[ch], running_mean[ch], inv_std);
    }
}

// batchnorm_sums_bwd_f32(x, dy, stats, dgamma | null, dbeta | null, coef, n, c, hw)
//   Per channel: sdy = sum(dy), sdyx = sum(dy * (x - mean) * inv_std), in double.
//   dgamma += sdyx, dbeta += sdy (when given); coef = (sdy / m, sdyx / m) for the dx kernel.
//   Launch: grid (c, 1, 1), block (256, 1, 1).
extern "C" __global__ void __launch_bounds__(BN_THREADS)
    batchnorm_sums_bwd_f32(const float* x, const float* dy, const float* stats, float* dgamma, float* dbeta,
                           float* coef, int n, int c, int hw) {
    __shared__ double sh[BN_THREADS];
    const int ch = blockIdx.x;
    const double mean = stats[ch], inv_std = stats[c + ch];
    const double m = (double)n * hw;
    const double sdy = bn_channel_sum(n, c, hw, ch, sh, [&](int i) { return (double)dy[i]; });
    const double sdyx = bn_channel_sum(n, c, hw, ch, sh, [&](int i) {
        return __dmul_rn(__dmul_rn((double)dy[i], (double)x[i] - mean), inv_std);
    });
    if (threadIdx.x == 0) {
        if (dbeta) dbeta[ch] += (float)sdy;
        if (dgamma) dgamma[ch] += (float)sdyx;
        coef[ch] = (float)(sdy / m);
        coef[c + ch] = (float)(sdyx / m);
    }
}

// batchnorm_dx_bwd_f32(x, dy, gamma, stats, coef, dx, c, hw, len = n*c*hw)
//   dx = gamma * inv_std * (dy - sdy/m - xhat * sdyx/m), xhat = (x - mean) * inv_std; dx overwritten.
//   Launch: 1-D grid-stride over len (CudaDevice::grid_1d).
extern "C" __global__ void batchnorm_dx_bwd_f32(const float* x, const float* dy, const float* gamma,
                                                const float* stats, const float* coef, float* dx, int c, int hw,
                                                u64 len) {
    GRID_STRIDE_LOOP(i, len) {
        const int ch = (int)((i / hw) % c);
        const float mean = stats[ch], inv_std = stats[c + ch];
        const float xhat = __fmul_rn(__fsub_rn(x[i], mean), inv_std);
        const float k = __fmul_rn(gamma[ch], inv_std);
        dx[i] = __fmul_rn(k, __fsub_rn(__fsub_rn(dy[i], coef[ch]), __fmul_rn(xhat, coef[c + ch])));
    }
}
