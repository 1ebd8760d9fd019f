// PixelShuffle(r) with PyTorch's semantics and its inverse as the backward pass (a pure
// permutation, so both are exact):
//   y[img, ch, hh*r + i, ww*r + j] = x[img, ch*r*r + i*r + j, hh, ww]
// Layouts: x and dx [n, c*r*r, h, w]; y and dy [n, c, h*r, w*r] (NCHW); `len` = n*c*r*r*h*w, the
// element count of each. Both kernels gather (one thread writes one element, reads one), so no
// write conflicts.
// Launch: 1-D grid-stride over len (CudaDevice::grid_1d), 256 threads per block.
#include "common.cuh"

// pixel_shuffle_fwd_f32(x, y, h, w, r, len): one thread per element of y.
extern "C" __global__ void pixel_shuffle_fwd_f32(const float* x, float* y, int h, int w, int r, u64 len) {
    const u64 wr = (u64)w * r, plane_out = (u64)h * r * wr;
    GRID_STRIDE_LOOP(idx, len) {
        const u64 plane = idx / plane_out;  // img * c + ch
        const u64 rest = idx - plane * plane_out;
        const u64 oh = rest / wr, ow = rest - oh * wr;
        const u64 hh = oh / r, i = oh - hh * r, ww = ow / r, j = ow - ww * r;
        y[idx] = x[((plane * r * r + i * r + j) * h + hh) * w + ww];
    }
}

// pixel_shuffle_bwd_f32(dy, dx, h, w, r, len): one thread per element of dx.
extern "C" __global__ void pixel_shuffle_bwd_f32(const float* dy, float* dx, int h, int w, int r, u64 len) {
    const u64 hw = (u64)h * w, rr = (u64)r * r, wr = (u64)w * r;
    GRID_STRIDE_LOOP(idx, len) {
        const u64 q = idx / hw;  // (img * c + ch) * r*r + i*r + j
        const u64 rest = idx - q * hw;
        const u64 hh = rest / w, ww = rest - hh * w;
        const u64 plane = q / rr, ij = q - plane * rr;
        const u64 i = ij / r, j = ij - i * r;
        dx[idx] = dy[(plane * h * r + hh * r + i) * wr + ww * r + j];
    }
}
