// The pointwise part of one LSTM step (PyTorch's LSTMCell after its two matrix products), forward
// and backward, mirroring src/device/cpu/lstm.rs bit for bit: the activations are
// kernels/fastmath.cuh's sigmoid_f32 and tanh_f32 (double on the engine's own exp, rounded once),
// and every float operation is an explicit round-to-nearest intrinsic in the CPU's order (no FMA
// contraction).
//
// Layouts: gates, dgates: [batch, 4 * hidden] row-major, each row the pre-activations of the
// input, forget, cell and output gates as four blocks of `hidden` (PyTorch's i | f | g | o);
// c_prev, c, h, dh, dc, dc_prev: [batch, hidden]. total = batch * hidden.
// Launch: 1-D grid-stride over total (CudaDevice::grid_1d), 256 threads per block; one thread per
// (row, unit) writes that unit's outputs and nothing else.
#include "common.cuh"
#include "fastmath.cuh"

// The four activated gates of element e = row * hidden + unit.
struct LstmGates {
    float i, f, g, o;
};

__device__ __forceinline__ LstmGates lstm_gates(const float* gates, u64 e, u64 hidden) {
    const float* x = gates + (e / hidden) * 4 * hidden + e % hidden;
    return LstmGates{sigmoid_f32(x[0]), sigmoid_f32(x[hidden]), tanh_f32(x[2 * hidden]), sigmoid_f32(x[3 * hidden])};
}

// lstm_cell_fwd_f32(gates, c_prev, h, c, hidden, total):
//   c = f c_prev + i g; h = o tanh(c).
extern "C" __global__ void lstm_cell_fwd_f32(const float* gates, const float* c_prev, float* h, float* c, u64 hidden,
                                             u64 total) {
    GRID_STRIDE_LOOP(e, total) {
        const LstmGates a = lstm_gates(gates, e, hidden);
        const float ce = __fadd_rn(__fmul_rn(a.f, c_prev[e]), __fmul_rn(a.i, a.g));
        c[e] = ce;
        h[e] = __fmul_rn(a.o, tanh_f32(ce));
    }
}

// lstm_cell_bwd_f32(gates, c_prev, c, dh, dc, dgates, dc_prev, hidden, total): the gradients of
// the forward's inputs from dL/dh and dL/dc (dc null: zero), the activations recomputed from
// gates and tanh(c) from the forward's c:
//   dct = dc + dh o (1 - tanh(c)^2)
//   di = dct g i (1 - i); df = dct c_prev f (1 - f); dg = dct i (1 - g^2); do = dh tanh(c) o (1 - o)
//   dc_prev = dct f
extern "C" __global__ void lstm_cell_bwd_f32(const float* gates, const float* c_prev, const float* c, const float* dh,
                                             const float* dc, float* dgates, float* dc_prev, u64 hidden, u64 total) {
    GRID_STRIDE_LOOP(e, total) {
        const LstmGates a = lstm_gates(gates, e, hidden);
        const float tc = tanh_f32(c[e]);
        const float dhe = dh[e];
        float dct = __fmul_rn(__fmul_rn(dhe, a.o), __fsub_rn(1.f, __fmul_rn(tc, tc)));
        if (dc) dct = __fadd_rn(dct, dc[e]);
        float* dx = dgates + (e / hidden) * 4 * hidden + e % hidden;
        dx[0] = __fmul_rn(__fmul_rn(dct, a.g), __fmul_rn(a.i, __fsub_rn(1.f, a.i)));
        dx[hidden] = __fmul_rn(__fmul_rn(dct, c_prev[e]), __fmul_rn(a.f, __fsub_rn(1.f, a.f)));
        dx[2 * hidden] = __fmul_rn(__fmul_rn(dct, a.i), __fsub_rn(1.f, __fmul_rn(a.g, a.g)));
        dx[3 * hidden] = __fmul_rn(__fmul_rn(dhe, tc), __fmul_rn(a.o, __fsub_rn(1.f, a.o)));
        dc_prev[e] = __fmul_rn(dct, a.f);
    }
}
