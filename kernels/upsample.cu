// Bilinear upsampling by an integer factor s with align_corners=False (PyTorch's
// F.interpolate(mode="bilinear")), forward and backward.
//
// Along each axis, output position o samples src = max((o + 0.5) / s - 0.5, 0) with taps
// i0 = min(floor(src), size - 1), i1 = min(i0 + 1, size - 1) and weights 1 - l, l (l = src - i0).
// All arithmetic is f32 with explicit round-to-nearest intrinsics (no FMA contraction), in the
// order of the CPU reference src/device/cpu/upsample.rs, so results are bit-identical to it.
//
// Layouts: x and dx [planes, h, w]; y and dy [planes, h*s, w*s] (any NCHW tensor is planes = n*c).
// Launch: 1-D grid-stride over the written buffer (CudaDevice::grid_1d), 256 threads per block.
#include "common.cuh"

struct Tap {
    int i0, i1;
    float l;
};

__device__ __forceinline__ Tap bilinear_tap(int o, int in_size, float ratio) {
    const float src = fmaxf(__fsub_rn(__fmul_rn(__fadd_rn((float)o, 0.5f), ratio), 0.5f), 0.f);
    const int i0 = min((int)src, in_size - 1);
    return Tap{i0, min(i0 + 1, in_size - 1), __fsub_rn(src, (float)i0)};
}

// upsample_bilinear_fwd_f32(x, y, h, w, s, len = planes*h*s*w*s): one thread per element of y.
extern "C" __global__ void upsample_bilinear_fwd_f32(const float* x, float* y, int h, int w, int s, u64 len) {
    const float ratio = __fdiv_rn(1.f, (float)s);
    const int ho = h * s, wo = w * s;
    GRID_STRIDE_LOOP(idx, len) {
        const PlanePos o = plane_pos(idx, ho, wo);
        const Tap ty = bilinear_tap(o.row, h, ratio), tx = bilinear_tap(o.col, w, ratio);
        const float* in = x + o.plane * h * w;
        const float* r0 = in + ty.i0 * w;
        const float* r1 = in + ty.i1 * w;
        const float lx1 = __fsub_rn(1.f, tx.l), ly1 = __fsub_rn(1.f, ty.l);
        const float top = __fadd_rn(__fmul_rn(lx1, r0[tx.i0]), __fmul_rn(tx.l, r0[tx.i1]));
        const float bot = __fadd_rn(__fmul_rn(lx1, r1[tx.i0]), __fmul_rn(tx.l, r1[tx.i1]));
        y[idx] = __fadd_rn(__fmul_rn(ly1, top), __fmul_rn(ty.l, bot));
    }
}

// upsample_bilinear_bwd_f32(dy, dx, h, w, s, len = planes*h*w): one thread per element of dx.
// A gather (no atomics): input pixel (iy, ix) visits the output pixels whose taps can reach it,
// in row-major order, and adds each tap that lands on it in the CPU's order (y0x0, y0x1, y1x0,
// y1x1), so the sum is rounded exactly as the CPU's scatter rounds it. Those outputs lie in
// rows/cols [(i-1)s - 1, (i+2)s + 1) (src within one input pixel of i), a window of 3s + 2.
extern "C" __global__ void upsample_bilinear_bwd_f32(const float* dy, float* dx, int h, int w, int s, u64 len) {
    const float ratio = __fdiv_rn(1.f, (float)s);
    const int ho = h * s, wo = w * s;
    GRID_STRIDE_LOOP(idx, len) {
        const PlanePos in = plane_pos(idx, h, w);
        const int iy = in.row, ix = in.col;
        const float* g = dy + in.plane * ho * wo;
        const int oy0 = max(0, (iy - 1) * s - 1), oy1 = min(ho, (iy + 2) * s + 1);
        const int ox0 = max(0, (ix - 1) * s - 1), ox1 = min(wo, (ix + 2) * s + 1);
        float acc = 0.f;
        for (int oy = oy0; oy < oy1; oy++) {
            const Tap ty = bilinear_tap(oy, h, ratio);
            const bool top = ty.i0 == iy, bottom = ty.i1 == iy;
            if (!top && !bottom) continue;
            const float ly1 = __fsub_rn(1.f, ty.l);
            for (int ox = ox0; ox < ox1; ox++) {
                const Tap tx = bilinear_tap(ox, w, ratio);
                const bool left = tx.i0 == ix, right = tx.i1 == ix;
                if (!left && !right) continue;
                const float gv = g[oy * wo + ox];
                const float gt = __fmul_rn(ly1, gv), gb = __fmul_rn(ty.l, gv);
                const float lx1 = __fsub_rn(1.f, tx.l);
                if (top && left) acc = __fadd_rn(acc, __fmul_rn(lx1, gt));
                if (top && right) acc = __fadd_rn(acc, __fmul_rn(tx.l, gt));
                if (bottom && left) acc = __fadd_rn(acc, __fmul_rn(lx1, gb));
                if (bottom && right) acc = __fadd_rn(acc, __fmul_rn(tx.l, gb));
            }
        }
        dx[idx] = acc;
    }
}
