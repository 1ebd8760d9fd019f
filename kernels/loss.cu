// Losses: the gradient with respect to the prediction, elementwise, and the loss value, reduced
// deterministically in two passes, mirroring src/device/cpu/loss.rs.
//
// Pass 1, <loss>_f32(pred, target, k, grad, partial, n): writes grad[i] and, per block, the
// double sum of the per-element values into partial[blockIdx.x]. `k` is the gradient's constant
// factor, computed on the host exactly as the CPU computes it. The per-element value and gradient
// use the CPU's f32 operation order (explicit round-to-nearest intrinsics, no FMA contraction).
// Pass 2, loss_sum_f64(partial, count, out): one block sums the partials into out[0].
// Each thread sums a fixed strided subset in order, blocks reduce with a fixed tree, and the grid
// of pass 1 depends only on n (the launcher's choice): same inputs, same bytes. The host scales
// the sum by weight (and 1/n for the means).
//
// Layouts: pred, target, grad: n contiguous f32 (any shape); partial: one double per block of
// pass 1; out: one double.
// Launch: pass 1 grid (G, 1, 1) with G a function of n only, block (256, 1, 1); pass 2 grid
// (1, 1, 1), block (256, 1, 1).
#include "common.cuh"

#define LOSS_THREADS 256

// f(p, t, &grad) returns the element's loss value in double and sets its gradient.
template <class F>
__device__ __forceinline__ void loss_pass(const float* pred, const float* target, float* grad, double* partial,
                                          u64 n, F f) {
    __shared__ double sh[LOSS_THREADS];
    double s = 0.0;
    GRID_STRIDE_LOOP(i, n) {
        float g;
        s = __dadd_rn(s, f(pred[i], target[i], g));
        grad[i] = g;
    }
    s = block_sum_f64<LOSS_THREADS>(s, sh);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

// Mean absolute error: value |p - t|, gradient sign(p - t) * k (0 where p == t), k = weight / n.
extern "C" __global__ void __launch_bounds__(LOSS_THREADS)
    l1_mean_f32(const float* pred, const float* target, float k, float* grad, double* partial, u64 n) {
    loss_pass(pred, target, grad, partial, n, [&](float p, float t, float& g) {
        const float d = __fsub_rn(p, t);
        g = d > 0.f ? k : (d < 0.f ? -k : 0.f);
        return (double)fabsf(d);
    });
}

// Squared error, value (p - t)^2 in double, gradient k * (p - t).
__device__ __forceinline__ double sq_err(float p, float t, float k, float& g) {
    const float d = __fsub_rn(p, t);
    g = __fmul_rn(k, d);
    return __dmul_rn((double)d, (double)d);
}

// Mean squared error: k = 2 weight / n.
extern "C" __global__ void __launch_bounds__(LOSS_THREADS)
    mse_mean_f32(const float* pred, const float* target, float k, float* grad, double* partial, u64 n) {
    loss_pass(pred, target, grad, partial, n, [&](float p, float t, float& g) { return sq_err(p, t, k, g); });
}

// Sum of squared errors (FAIG's loss): k = 2 weight.
extern "C" __global__ void __launch_bounds__(LOSS_THREADS)
    sse_sum_f32(const float* pred, const float* target, float k, float* grad, double* partial, u64 n) {
    loss_pass(pred, target, grad, partial, n, [&](float p, float t, float& g) { return sq_err(p, t, k, g); });
}

// Huber loss with delta 1 (DQN's clipped error), d = p - t: value 0.5 d^2 where |d| < 1, else
// |d| - 0.5, in double; gradient k * clamp(d, -1, 1) (NaN kept), k = weight / n.
extern "C" __global__ void __launch_bounds__(LOSS_THREADS)
    huber_mean_f32(const float* pred, const float* target, float k, float* grad, double* partial, u64 n) {
    loss_pass(pred, target, grad, partial, n, [&](float p, float t, float& g) {
        const float d = __fsub_rn(p, t);
        g = __fmul_rn(k, d > 1.f ? 1.f : (d < -1.f ? -1.f : d));
        const double a = fabs((double)d);
        return a < 1.0 ? __dmul_rn(__dmul_rn(0.5, (double)d), (double)d) : __dsub_rn(a, 0.5);
    });
}

// Binary cross-entropy on logits x against labels t, the stable form in double:
// max(x, 0) - x t + log1p(exp(-|x|)); gradient k * (sigmoid(x) - t) in f32, k = weight / n.
extern "C" __global__ void __launch_bounds__(LOSS_THREADS)
    bce_logits_mean_f32(const float* logits, const float* target, float k, float* grad, double* partial, u64 n) {
    loss_pass(logits, target, grad, partial, n, [&](float x, float t, float& g) {
        const float sig = __fdiv_rn(1.f, __fadd_rn(1.f, expf(-x)));
        g = __fmul_rn(k, __fsub_rn(sig, t));
        const double xd = x;
        return __dadd_rn(__dsub_rn(fmax(xd, 0.0), __dmul_rn(xd, (double)t)), log1p(exp(-fabs(xd))));
    });
}

// loss_sum_f64(partial, count, out): out[0] = sum of partial[0 .. count), in a fixed order.
extern "C" __global__ void __launch_bounds__(LOSS_THREADS) loss_sum_f64(const double* partial, int count, double* out) {
    __shared__ double sh[LOSS_THREADS];
    double s = 0.0;
    for (int i = threadIdx.x; i < count; i += LOSS_THREADS) s = __dadd_rn(s, partial[i]);
    s = block_sum_f64<LOSS_THREADS>(s, sh);
    if (threadIdx.x == 0) out[0] = s;
}
