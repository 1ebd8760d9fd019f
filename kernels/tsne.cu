// Exact t-SNE (scikit-learn's method='exact'): input distances, the per-point perplexity
// search, joint probabilities, the Student-t affinities and the KL gradient, the optimiser
// step, and the KL itself. CPU references of the same names: src/device/cpu/tsne.rs.
//
// Layouts: points x are n x d row-major; the embedding y is n x 2 interleaved (x0, y0, x1, ...);
// square matrices (dist, pcond, P) are n x n row-major; rows holds 5 floats per point
// (Z_i, A_x, A_y, B_x, B_y), see tsne_rowsums_f32.
//
// Determinism: no atomics. Every reduction has a fixed shape (a warp's shuffle-down tree, or one
// block's shared-memory tree), so results do not depend on scheduling. Where a kernel must match
// its CPU reference bit for bit (sqdist, joint_p, grad, update), arithmetic goes through the
// _rn intrinsics so that nvcc cannot contract a multiply and an add into an FMA.
#include "common.cuh"
#include "fastmath.cuh"

#define TSNE_EPS 2.220446049250313e-16   // np.finfo(np.double).eps
#define TSNE_TOL 9.99999974737875e-06    // scikit-learn's C float 1e-5, as a double
#define TSNE_ZERO_SUM 9.99999993922529e-09 // scikit-learn's C float 1e-8, as a double
#define TSNE_STEPS 100
#define WARPS_PER_BLOCK 8

// Sum of v over the 32 lanes of a warp in a fixed tree order; every lane gets lane 0's total.
__device__ double warp_sum(double v) {
    #pragma unroll
    for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
    return __shfl_sync(0xffffffffu, v, 0);
}

// out[i, j] = sum_k (x[i, k] - x[j, k])^2 in double, k in order, rounded to float.
// Launch: 16 x 16 threads per block, grid (ceil(n / 16), ceil(n / 16)); 16-column tiles of both
// row sets go through shared memory.
extern "C" __global__ void tsne_sqdist_f32(const float* x, float* out, u64 n, u64 d) {
    __shared__ float xi[16][17];
    __shared__ float xj[16][17];
    u64 i = (u64)blockIdx.y * 16 + threadIdx.y;
    u64 j = (u64)blockIdx.x * 16 + threadIdx.x;
    u64 i_load = (u64)blockIdx.y * 16 + threadIdx.x; // row whose column threadIdx.y we load
    u64 j_load = (u64)blockIdx.x * 16 + threadIdx.x;
    double s = 0.0;
    for (u64 k0 = 0; k0 < d; k0 += 16) {
        u64 k = k0 + threadIdx.y;
        xi[threadIdx.y][threadIdx.x] = (i_load < n && k < d) ? x[i_load * d + k] : 0.f;
        xj[threadIdx.y][threadIdx.x] = (j_load < n && k < d) ? x[j_load * d + k] : 0.f;
        __syncthreads();
        u64 kmax = d - k0 < 16 ? d - k0 : 16;
        for (u64 kk = 0; kk < kmax; kk++) {
            double t = __dsub_rn((double)xi[kk][threadIdx.y], (double)xj[kk][threadIdx.x]);
            s = __dadd_rn(s, __dmul_rn(t, t));
        }
        __syncthreads();
    }
    if (i < n && j < n) out[i * n + j] = (float)s;
}

// Per row i (one warp): scikit-learn's binary search for beta (start 1; double or halve until
// bracketed, then bisect; stop when |entropy - log_perp| <= 1e-5 or after 100 steps), then
// pcond[i, j] = (float)(exp(-dist[i, j] beta) / sum) (0 at j = i) and rowsum[i] = sum of the
// row's floats (in double). Launch: 256 threads per block (8 rows), grid ceil(n / 8).
extern "C" __global__ void tsne_perplexity_f32(const float* dist, float* pcond, float* rowsum,
                                               u64 n, double log_perp) {
    u64 i = (u64)blockIdx.x * WARPS_PER_BLOCK + threadIdx.x / 32;
    unsigned lane = threadIdx.x % 32;
    if (i >= n) return; // whole warps leave together
    const float* row = dist + i * n;
    double beta = 1.0, lo = -INFINITY, hi = INFINITY, used_beta = 1.0, used_sum = TSNE_ZERO_SUM;
    for (int step = 0; step < TSNE_STEPS; step++) {
        double s = 0.0, sd = 0.0;
        for (u64 j = lane; j < n; j += 32) {
            if (j == i) continue;
            double dj = (double)row[j];
            double e = exp_neg(-dj * beta);
            s += e;
            sd += dj * e;
        }
        double sum = warp_sum(s);
        double sum_d = warp_sum(sd);
        if (sum == 0.0) sum = TSNE_ZERO_SUM;
        used_beta = beta;
        used_sum = sum;
        double entropy = log(sum) + beta * (sum_d / sum);
        double diff = entropy - log_perp;
        if (fabs(diff) <= TSNE_TOL) break;
        if (diff > 0.0) {
            lo = beta;
            beta = hi == INFINITY ? beta * 2.0 : (beta + hi) / 2.0;
        } else {
            hi = beta;
            beta = lo == -INFINITY ? beta / 2.0 : (beta + lo) / 2.0;
        }
    }
    double total = 0.0;
    for (u64 j = lane; j < n; j += 32) {
        float p = j == i ? 0.f
                         : (float)__ddiv_rn(exp_neg(-(double)row[j] * used_beta), used_sum);
        pcond[i * n + j] = p;
        total += (double)p;
    }
    total = warp_sum(total);
    if (lane == 0) rowsum[i] = (float)total;
}

// P[i, j] = max((pcond[i, j] + pcond[j, i]) / total, eps) off the diagonal, 0 on it; total is
// scikit-learn's sum_P = sum of pcond + pcond^T = 2 * sum of the row sums.
// Launch: 1-D grid-stride over n * n.
extern "C" __global__ void tsne_joint_p_f32(const float* pcond, float* p, u64 n, double total) {
    GRID_STRIDE_LOOP(t, n * n) {
        u64 i = t / n, j = t % n;
        float sym = __fadd_rn(pcond[i * n + j], pcond[j * n + i]);
        p[t] = i == j ? 0.f : (float)fmax(__ddiv_rn((double)sym, total), TSNE_EPS);
    }
}

// Per row i (one warp), w_ij = 1 / (1 + |y_i - y_j|^2) over j != i:
// rows[5i..] = (sum w, sum p w (y_i - y_j) [x, y], sum w^2 (y_i - y_j) [x, y]).
// In double, as the CPU reference (the coordinate differences in float, then everything in
// double): each lane sums j = lane, lane + 32, ..., the warp adds the lanes in a fixed tree, so
// only the summation order differs from the CPU's (f32 lane sums drifted with n: about 625 terms
// a lane at 20k points). Launch: 256 threads per block (8 rows), grid ceil(n / 8).
extern "C" __global__ void tsne_rowsums_f32(const float* p, const float* y, float* rows, u64 n) {
    u64 i = (u64)blockIdx.x * WARPS_PER_BLOCK + threadIdx.x / 32;
    unsigned lane = threadIdx.x % 32;
    if (i >= n) return;
    const float2* y2 = (const float2*)y;
    float2 yi = y2[i];
    const float* prow = p + i * n;
    double acc[5] = {0.0, 0.0, 0.0, 0.0, 0.0};
    for (u64 j = lane; j < n; j += 32) {
        if (j == i) continue;
        const float2 yj = y2[j];
        const double dx = (double)__fsub_rn(yi.x, yj.x), dy = (double)__fsub_rn(yi.y, yj.y);
        const double w = __ddiv_rn(1.0, __dadd_rn(__dadd_rn(1.0, __dmul_rn(dx, dx)), __dmul_rn(dy, dy)));
        const double pw = __dmul_rn((double)prow[j], w), ww = __dmul_rn(w, w);
        acc[0] = __dadd_rn(acc[0], w);
        acc[1] = __dadd_rn(acc[1], __dmul_rn(pw, dx));
        acc[2] = __dadd_rn(acc[2], __dmul_rn(pw, dy));
        acc[3] = __dadd_rn(acc[3], __dmul_rn(ww, dx));
        acc[4] = __dadd_rn(acc[4], __dmul_rn(ww, dy));
    }
    #pragma unroll
    for (int q = 0; q < 5; q++) {
        double t = warp_sum(acc[q]);
        if (lane == 0) rows[5 * i + q] = (float)t;
    }
}

// z[0] = sum_i rows[5i], in double with a fixed shape: thread t adds i = t, t + 1024, ...; then a
// shared-memory tree. Launch: exactly one block of 1024 threads.
extern "C" __global__ void tsne_q_sum_f32(const float* rows, float* z, u64 n) {
    __shared__ double part[1024];
    double s = 0.0;
    for (u64 i = threadIdx.x; i < n; i += 1024) s += (double)rows[5 * i];
    part[threadIdx.x] = s;
    __syncthreads();
    for (unsigned half = 512; half > 0; half >>= 1) {
        if (threadIdx.x < half) part[threadIdx.x] += part[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) z[0] = (float)part[0];
}

// grad[2i + c] = 4 (exaggeration * A_c - B_c / z), float, rounded as the CPU reference.
// Launch: 1-D grid-stride over 2n.
extern "C" __global__ void tsne_grad_f32(const float* rows, const float* z, float* grad, u64 n,
                                         float exaggeration) {
    float zz = z[0];
    GRID_STRIDE_LOOP(t, 2 * n) {
        u64 i = t / 2, c = t % 2;
        float a = rows[5 * i + 1 + c], b = rows[5 * i + 3 + c];
        grad[t] = __fmul_rn(4.f, __fsub_rn(__fmul_rn(exaggeration, a), __fdiv_rn(b, zz)));
    }
}

// scikit-learn's step with momentum and gains, per parameter:
// gain = update * grad < 0 ? gain + 0.2 : gain * 0.8, floored at min_gain;
// update = momentum * update - lr * (grad * gain); y += update. Launch: 1-D grid-stride over m.
extern "C" __global__ void tsne_update_f32(const float* grad, float* update, float* gains,
                                           float* y, u64 m, float momentum, float lr,
                                           float min_gain) {
    GRID_STRIDE_LOOP(t, m) {
        float g = grad[t], u = update[t];
        float gain = __fmul_rn(u, g) < 0.f ? __fadd_rn(gains[t], 0.2f) : __fmul_rn(gains[t], 0.8f);
        if (gain < min_gain) gain = min_gain;
        gains[t] = gain;
        u = __fsub_rn(__fmul_rn(momentum, u), __fmul_rn(lr, __fmul_rn(g, gain)));
        update[t] = u;
        y[t] = __fadd_rn(y[t], u);
    }
}

// Per row i (one warp): kl[i] = sum_{j != i} p_ij ln(max(p_ij, eps) / max(w_ij / z, eps)), in
// double, stored as float. Launch: 256 threads per block (8 rows), grid ceil(n / 8).
extern "C" __global__ void tsne_kl_rows_f32(const float* p, const float* y, const float* z,
                                            float* kl, u64 n) {
    u64 i = (u64)blockIdx.x * WARPS_PER_BLOCK + threadIdx.x / 32;
    unsigned lane = threadIdx.x % 32;
    if (i >= n) return;
    double zz = (double)z[0];
    double s = 0.0;
    for (u64 j = lane; j < n; j += 32) {
        if (j == i) continue;
        double dx = (double)(y[2 * i] - y[2 * j]);
        double dy = (double)(y[2 * i + 1] - y[2 * j + 1]);
        double w = 1.0 / (1.0 + dx * dx + dy * dy);
        double q = fmax(w / zz, TSNE_EPS);
        double pij = (double)p[i * n + j];
        s += pij * (log(fmax(pij, TSNE_EPS)) - log(q));
    }
    s = warp_sum(s);
    if (lane == 0) kl[i] = (float)s;
}
