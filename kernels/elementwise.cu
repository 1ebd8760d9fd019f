// Elementwise ops over contiguous f32 buffers of n elements (any layout: they are pointwise).
// Launch: 1-D grid-stride, any grid; 256 threads per block by convention.
// NaN propagates the way PyTorch's does: relu(NaN) = NaN, leaky_relu(NaN) = NaN.
#include "common.cuh"

// y[i] = a * x[i]
extern "C" __global__ void scale_f32(const float* x, float a, float* y, u64 n) {
    GRID_STRIDE_LOOP(i, n) y[i] = a * x[i];
}

// y[i] += a * x[i], rounded twice (no FMA contraction) to match the CPU reference bit for bit
extern "C" __global__ void axpy_f32(float a, const float* x, float* y, u64 n) {
    GRID_STRIDE_LOOP(i, n) y[i] = __fadd_rn(y[i], __fmul_rn(a, x[i]));
}

// y[i] = a[i] + b[i]
extern "C" __global__ void add_f32(const float* a, const float* b, float* y, u64 n) {
    GRID_STRIDE_LOOP(i, n) y[i] = a[i] + b[i];
}

// y = a * b for a of shape [n, c, hw] and b of shape [n, cb, hw], cb = c or 1 (b broadcast over
// the channels: one per-pixel map scaling every feature channel). total = n * c * hw.
extern "C" __global__ void mul_f32(const float* a, const float* b, float* y, u64 c, u64 hw, u64 cb, u64 total) {
    GRID_STRIDE_LOOP(i, total) {
        const u64 p = i % hw, ch = (i / hw) % c, img = i / (c * hw);
        y[i] = a[i] * b[(img * cb + (cb == 1 ? 0 : ch)) * hw + p];
    }
}

// db[img, p] = sum over ch of dy[img, ch, p] * a[img, ch, p]: the gradient of a channel-broadcast
// b. One thread per output, channels in ascending order, each product and sum rounded on its own
// (no FMA contraction) so that the CPU reference matches bit for bit. total = n * hw.
extern "C" __global__ void mul_bwd_bcast_f32(const float* dy, const float* a, float* db, u64 c, u64 hw, u64 total) {
    GRID_STRIDE_LOOP(i, total) {
        const u64 p = i % hw, img = i / hw;
        float acc = 0.f;
        for (u64 ch = 0; ch < c; ++ch) {
            const u64 k = (img * c + ch) * hw + p;
            acc = __fadd_rn(acc, __fmul_rn(dy[k], a[k]));
        }
        db[i] = acc;
    }
}

// y[i] = v
extern "C" __global__ void fill_f32(float* y, float v, u64 n) {
    GRID_STRIDE_LOOP(i, n) y[i] = v;
}

// y[i] = max(x[i], 0), NaN kept
extern "C" __global__ void relu_fwd_f32(const float* x, float* y, u64 n) {
    GRID_STRIDE_LOOP(i, n) { float v = x[i]; y[i] = v < 0.f ? 0.f : v; }
}

// dx[i] = y[i] > 0 ? dy[i] : 0, from the forward OUTPUT y (as PyTorch's threshold_backward)
extern "C" __global__ void relu_bwd_f32(const float* y, const float* dy, float* dx, u64 n) {
    GRID_STRIDE_LOOP(i, n) dx[i] = y[i] > 0.f ? dy[i] : 0.f;
}

// y[i] = x[i] > 0 ? x[i] : slope * x[i]
extern "C" __global__ void leaky_relu_fwd_f32(const float* x, float slope, float* y, u64 n) {
    GRID_STRIDE_LOOP(i, n) { float v = x[i]; y[i] = v > 0.f ? v : v * slope; }
}

// dx[i] = x[i] > 0 ? dy[i] : slope * dy[i], from the forward INPUT x
extern "C" __global__ void leaky_relu_bwd_f32(const float* x, const float* dy, float slope, float* dx, u64 n) {
    GRID_STRIDE_LOOP(i, n) dx[i] = x[i] > 0.f ? dy[i] : dy[i] * slope;
}

// y[i] = 1 / (1 + exp(-x[i])), IEEE expf (no fast-math) to stay close to the CPU reference
extern "C" __global__ void sigmoid_fwd_f32(const float* x, float* y, u64 n) {
    GRID_STRIDE_LOOP(i, n) y[i] = 1.f / (1.f + expf(-x[i]));
}

// dx[i] = dy[i] * y[i] * (1 - y[i]), from the forward OUTPUT y
extern "C" __global__ void sigmoid_bwd_f32(const float* y, const float* dy, float* dx, u64 n) {
    GRID_STRIDE_LOOP(i, n) dx[i] = dy[i] * y[i] * (1.f - y[i]);
}

// y[i] = x[i]; the bandwidth reference of benches/gpu.rs (a device-to-device copy through our own
// kernel, reading and writing 4 bytes per element)
extern "C" __global__ void copy_f32(const float* x, float* y, u64 n) {
    GRID_STRIDE_LOOP(i, n) y[i] = x[i];
}
