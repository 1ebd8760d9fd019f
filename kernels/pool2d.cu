// 2x2 max pooling with stride 2 (VGG-style discriminators), NCHW, and its backward pass.
// Odd trailing rows/columns are dropped, as PyTorch's MaxPool2d(2). The window's winner is the
// first maximum in row-major order (x00, x01, x10, x11), and a NaN beats any number, exactly as
// argmax4 in src/device/cpu/pool.rs: outputs are bit-identical to the CPU reference.
//
// Layouts: x and dx [planes, h, w]; y and dy [planes, h/2, w/2] (planes = n*c).
// Launch: 1-D grid-stride over the written buffer (CudaDevice::grid_1d), 256 threads per block.
#include "common.cuh"

// The winner of a 2x2 window given in row-major order (a, b, c, d): its index (0..3) and value.
// Scalars, not an array: an array indexed at run time would live in local memory (a stack frame).
struct Win {
    int idx;
    float v;
};

__device__ __forceinline__ Win beats(Win w, int k, float v) {
    return (v > w.v || (isnan(v) && !isnan(w.v))) ? Win{k, v} : w;
}

__device__ __forceinline__ Win argmax4(float a, float b, float c, float d) {
    return beats(beats(beats(Win{0, a}, 1, b), 2, c), 3, d);
}

// maxpool2_fwd_f32(x, y, h, w, len = planes*(h/2)*(w/2)): one thread per element of y.
extern "C" __global__ void maxpool2_fwd_f32(const float* x, float* y, int h, int w, u64 len) {
    const int ho = h / 2, wo = w / 2;
    GRID_STRIDE_LOOP(idx, len) {
        const PlanePos o = plane_pos(idx, ho, wo);
        const float* r0 = x + o.plane * h * w + (2 * o.row) * w + 2 * o.col;
        y[idx] = argmax4(r0[0], r0[1], r0[w], r0[w + 1]).v;
    }
}

// maxpool2_bwd_f32(x, dy, dx, h, w, len = planes*h*w): one thread per element of dx, a gather:
// an input element gets its window's output gradient if it won that window's forward max, and
// zero otherwise (also in a dropped trailing row/column). Each window has one winner, so this
// routes every gradient exactly once, like the CPU's scatter.
extern "C" __global__ void maxpool2_bwd_f32(const float* x, const float* dy, float* dx, int h, int w, u64 len) {
    const int ho = h / 2, wo = w / 2;
    GRID_STRIDE_LOOP(idx, len) {
        const PlanePos in = plane_pos(idx, h, w);
        const int oy = in.row / 2, ox = in.col / 2;
        float g = 0.f;
        if (oy < ho && ox < wo) {
            const float* r0 = x + in.plane * h * w + (2 * oy) * w + 2 * ox;
            if (argmax4(r0[0], r0[1], r0[w], r0[w + 1]).idx == (in.row - 2 * oy) * 2 + (in.col - 2 * ox))
                g = dy[in.plane * ho * wo + oy * wo + ox];
        }
        dx[idx] = g;
    }
}
