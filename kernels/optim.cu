// Optimiser updates over flat f32 parameter buffers (any layout: elementwise), mirroring
// src/device/cpu/optim.rs bit for bit: every operation is an explicit round-to-nearest intrinsic
// in the CPU's order (no FMA contraction), and the scalars the CPU derives in f64 (Adam's step
// size and sqrt of the second bias correction) are computed on the host the same way.
// Launch: 1-D grid-stride over n (CudaDevice::grid_1d), 256 threads per block.
#include "common.cuh"

// adam_step_f32(p, g, m, v, step_size, bc2_sqrt, beta1, beta2, eps, weight_decay, n)
//   PyTorch's Adam with L2 weight decay added to the gradient:
//   g' = g + wd p; m = b1 m + (1 - b1) g'; v = b2 v + (1 - b2) g' g';
//   p -= step_size m / (sqrt(v) / bc2_sqrt + eps). p, m, v updated in place.
extern "C" __global__ void adam_step_f32(float* p, const float* g, float* m, float* v, float step_size,
                                         float bc2_sqrt, float beta1, float beta2, float eps, float weight_decay,
                                         u64 n) {
    const float c1 = __fsub_rn(1.f, beta1), c2 = __fsub_rn(1.f, beta2);
    GRID_STRIDE_LOOP(i, n) {
        const float pi = p[i];
        const float gi = weight_decay != 0.f ? __fadd_rn(g[i], __fmul_rn(weight_decay, pi)) : g[i];
        const float mi = __fadd_rn(__fmul_rn(beta1, m[i]), __fmul_rn(c1, gi));
        const float vi = __fadd_rn(__fmul_rn(beta2, v[i]), __fmul_rn(__fmul_rn(c2, gi), gi));
        const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), bc2_sqrt), eps);
        m[i] = mi;
        v[i] = vi;
        p[i] = __fsub_rn(pi, __fdiv_rn(__fmul_rn(step_size, mi), denom));
    }
}

// ema_f32(decay, p, ema, n): ema = decay * ema + (1 - decay) * p.
extern "C" __global__ void ema_f32(float decay, const float* p, float* ema, u64 n) {
    const float c = __fsub_rn(1.f, decay);
    GRID_STRIDE_LOOP(i, n) ema[i] = __fadd_rn(__fmul_rn(decay, ema[i]), __fmul_rn(c, p[i]));
}

// lerp_f32(base, target, alpha, out, n): out = base + alpha * (target - base).
extern "C" __global__ void lerp_f32(const float* base, const float* target, float alpha, float* out, u64 n) {
    GRID_STRIDE_LOOP(i, n) out[i] = __fadd_rn(base[i], __fmul_rn(alpha, __fsub_rn(target[i], base[i])));
}
