// The block-level matrix product every GEMM-shaped kernel is built on (conv2d's three passes and
// linear's three): C[m, n] = sum_k A[m, k] * B[k, n] over one 64 x 64 tile of C per block.
//
// Neither operand is a stored matrix. Each is a loader, a small struct whose operator()(r, k)
// returns element (row r, depth k) of the operand: A(m, k) or B(n, k) (B is addressed by its
// column n first, like A by its row). That is how the convolutions stay implicit GEMMs: an im2col
// element is gathered from the image (with zero padding) when its tile is loaded, never stored.
// The loader also says which of its indices is contiguous in memory (K_FAST), so that consecutive
// threads load consecutive addresses (coalescing). The block never calls a loader outside
// 0 <= r < rows, k_begin <= k < k_end: tile elements past an edge are zero, so ragged edge
// tiles need no special path.
//
// The result goes to an epilogue, a struct with operator()(m, n, value), called exactly once for
// every (m, n) of the tile inside M x N (edge tiles skip the rest).
//
// Math modes (template parameter MATH):
//   GEMM_F32   plain fp32 FMA on CUDA cores; each thread owns a 4 x 4 sub-tile;
//   GEMM_TF32  tensor cores, wmma m16n16k8 with tf32 inputs (rounded to nearest, ties away, by
//              __float_to_tf32) and fp32 accumulation;
//   GEMM_BF16  tensor cores, wmma m16n16k16 with bf16 inputs (rounded to nearest even while the
//              tile is stored to shared memory) and fp32 accumulation.
// In every mode each C element is accumulated over k in increasing order, in one fixed
// arrangement of threads: same inputs, same bytes (no atomics, nothing scheduling-dependent).
//
// Launch shape of a kernel built on gemm_block: blockDim = (GEMM_THREADS = 256, 1, 1), one block
// per 64 x 64 tile of C (the kernel maps blockIdx to the tile origin m0, n0), static shared
// memory 8.5 KiB (F32, TF32 operand tiles) or 4.5 KiB (BF16) plus 17 KiB for the tensor-core
// epilogue tile. The kernel itself must be launched with exactly GEMM_THREADS threads.
#pragma once
#include "common.cuh"
#include <cuda_bf16.h>
#include <mma.h>

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
#error "the tensor-core GEMM paths (tf32, bf16 wmma) need compute_80 or newer: set DDR_CUDA_ARCH"
#endif

#define GEMM_BM 64
#define GEMM_BN 64
#define GEMM_BK 16
#define GEMM_THREADS 256

#define GEMM_F32 0
#define GEMM_TF32 1
#define GEMM_BF16 2

// Shared-memory element type and row padding of the operand tiles per mode. The padding keeps
// rows 16-byte aligned (float4 reads in the F32 path), keeps wmma's leading dimension a multiple
// of 16 bytes, and spreads the transposed tile stores over more banks.
template <int MATH> struct GemmSmem { typedef float T; static constexpr int PAD = 4; };
template <> struct GemmSmem<GEMM_BF16> { typedef __nv_bfloat16 T; static constexpr int PAD = 8; };

// The wmma input type of the tensor-core modes.
template <int MATH> struct GemmWmmaIn { typedef nvcuda::wmma::precision::tf32 T; };
template <> struct GemmWmmaIn<GEMM_BF16> { typedef __nv_bfloat16 T; };

__device__ __forceinline__ void gemm_to_smem(float& dst, float v) { dst = v; }
__device__ __forceinline__ void gemm_to_smem(__nv_bfloat16& dst, float v) { dst = __float2bfloat16(v); }

// Position (k, r) inside a BK x ROWS operand tile of the e-th element a thread loads. K_FAST:
// consecutive e walk along k (the operand is contiguous in k); otherwise along r.
template <bool K_FAST, int ROWS>
__device__ __forceinline__ void gemm_tile_pos(int e, int& k, int& r) {
    if (K_FAST) {
        k = e % GEMM_BK;
        r = e / GEMM_BK;
    } else {
        r = e % ROWS;
        k = e / ROWS;
    }
}

// The simplest loader: a stored matrix, element (r, k) at p[r * rs + k * ks]. K_FAST says which
// stride is 1 (ks for K_FAST = true, rs otherwise), for coalescing. Buffers are under 2^31
// elements (the launchers check), so int indices do not overflow.
template <bool KF>
struct StridedLoader {
    static constexpr bool K_FAST = KF;
    const float* p;
    int rs, ks;
    __device__ __forceinline__ float operator()(int r, int k) const { return p[r * rs + k * ks]; }
};

// Epilogue of a split-K slice: slice blockIdx.z of a [slices, M, N] row-major partial buffer
// (summed afterwards, in slice order, by gemm_splitk_add_f32 in gemm.cu).
struct PartialEpi {
    float* part;
    int M, N;
    __device__ __forceinline__ void operator()(int m, int n, float v) const {
        part[((int)blockIdx.z * M + m) * N + n] = v;
    }
};

// The PER elements of a BK x ROWS operand tile that thread `tid` loads, from global memory into
// registers: zero outside rows [r0, rows) or depths [.., k_end), so edge tiles need no other path.
template <int ROWS, class L, int PER>
__device__ __forceinline__ void gemm_fetch(const L& l, float (&reg)[PER], int tid, int kt, int k_end, int r0,
                                           int rows) {
#pragma unroll
    for (int i = 0; i < PER; i++) {
        int k, r;
        gemm_tile_pos<L::K_FAST, ROWS>(tid + i * GEMM_THREADS, k, r);
        const int gk = kt + k, gr = r0 + r;
        reg[i] = (gk < k_end && gr < rows) ? l(gr, gk) : 0.f;
    }
}

// The same elements from registers into the k-major shared tile, converted to its element type.
template <class L, int ROWS, class T, int LD, int PER>
__device__ __forceinline__ void gemm_stash(T (&tile)[GEMM_BK][LD], const float (&reg)[PER], int tid) {
#pragma unroll
    for (int i = 0; i < PER; i++) {
        int k, r;
        gemm_tile_pos<L::K_FAST, ROWS>(tid + i * GEMM_THREADS, k, r);
        gemm_to_smem(tile[k][r], reg[i]);
    }
}

// Calls epi(m, n, v(i, j)) for the 4 x 4 C elements thread `tid` owns, inside M x N. The mapping
// is shared by all modes: thread (ty, tx) of a 16 x 16 grid owns rows ty*4 .. ty*4+3 and columns
// tx*4 .. tx*4+3 of the tile, so consecutive threads write consecutive columns.
template <class EPI, class V>
__device__ __forceinline__ void gemm_emit(const EPI& epi, int M, int N, int m0, int n0, int tid, V v) {
    const int ty = tid / 16, tx = tid % 16;
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int m = m0 + ty * 4 + i, n = n0 + tx * 4 + j;
            if (m < M && n < N) epi(m, n, v(ty * 4 + i, tx * 4 + j));
        }
}

// The per-mode accumulator of one block: zeroed on construction, step() adds the product of one
// pair of shared-memory operand tiles, finish() hands the tile of C to the epilogue.
template <int MATH>
struct GemmAcc;

// CUDA cores: each thread keeps its 4 x 4 sub-tile in registers and reads 4 + 4 operands per k
// (float4 loads: rows of the tiles are 16-byte aligned).
template <>
struct GemmAcc<GEMM_F32> {
    float c[4][4];
    __device__ __forceinline__ GemmAcc() {
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
            for (int j = 0; j < 4; j++) c[i][j] = 0.f;
    }
    template <int LDA, int LDB>
    __device__ __forceinline__ void step(const float (&As)[GEMM_BK][LDA], const float (&Bs)[GEMM_BK][LDB], int tid) {
        const int ty = tid / 16, tx = tid % 16;
#pragma unroll
        for (int k = 0; k < GEMM_BK; k++) {
            const float4 a = *reinterpret_cast<const float4*>(&As[k][ty * 4]);
            const float4 b = *reinterpret_cast<const float4*>(&Bs[k][tx * 4]);
            const float av[4] = {a.x, a.y, a.z, a.w}, bv[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) c[i][j] = fmaf(av[i], bv[j], c[i][j]);
        }
    }
    template <class EPI>
    __device__ __forceinline__ void finish(const EPI& epi, int M, int N, int m0, int n0, int tid) {
        const int ty = tid / 16, tx = tid % 16;
        gemm_emit(epi, M, N, m0, n0, tid, [&](int r, int q) { return c[r - ty * 4][q - tx * 4]; });
    }
};

// Tensor cores: 8 warps as 4 (along m) x 2 (along n); each warp owns a 16 x 32 strip of C, two
// 16 x 16 accumulator fragments, and runs wmma over the tile in k steps of 8 (tf32) or 16 (bf16).
template <int MATH>
struct GemmAcc {
    static constexpr int KSTEP = MATH == GEMM_TF32 ? 8 : 16;
    typedef typename GemmWmmaIn<MATH>::T In;
    nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, KSTEP, float> c[2];
    __device__ __forceinline__ GemmAcc() {
        nvcuda::wmma::fill_fragment(c[0], 0.f);
        nvcuda::wmma::fill_fragment(c[1], 0.f);
    }
    template <class T, int LDA, int LDB>
    __device__ __forceinline__ void step(const T (&As)[GEMM_BK][LDA], const T (&Bs)[GEMM_BK][LDB], int tid) {
        namespace wmma = nvcuda::wmma;
        const int warp = tid / 32, wm = warp % 4, wn = warp / 4;
#pragma unroll
        for (int ks = 0; ks < GEMM_BK; ks += KSTEP) {
            wmma::fragment<wmma::matrix_a, 16, 16, KSTEP, In, wmma::col_major> fa;
            wmma::load_matrix_sync(fa, &As[ks][wm * 16], LDA);
            round_inputs(fa);
#pragma unroll
            for (int j = 0; j < 2; j++) {
                wmma::fragment<wmma::matrix_b, 16, 16, KSTEP, In, wmma::row_major> fb;
                wmma::load_matrix_sync(fb, &Bs[ks][wn * 32 + j * 16], LDB);
                round_inputs(fb);
                wmma::mma_sync(c[j], fa, fb, c[j]);
            }
        }
    }
    // TF32 fragments are loaded as f32: round them to nearest (ties away) rather than let the
    // hardware truncate. BF16 fragments were rounded when the tile was stored.
    template <class F>
    __device__ __forceinline__ static void round_inputs(F& f) {
        if constexpr (MATH == GEMM_TF32) {
            for (int t = 0; t < f.num_elements; t++) f.x[t] = nvcuda::wmma::__float_to_tf32(f.x[t]);
        }
    }
    // Fragments have an opaque register layout: go through shared memory to the common mapping.
    template <class EPI>
    __device__ __forceinline__ void finish(const EPI& epi, int M, int N, int m0, int n0, int tid) {
        __shared__ __align__(32) float Cs[GEMM_BM][GEMM_BN + 4];
        const int warp = tid / 32, wm = warp % 4, wn = warp / 4;
#pragma unroll
        for (int j = 0; j < 2; j++)
            nvcuda::wmma::store_matrix_sync(&Cs[wm * 16][wn * 32 + j * 16], c[j], GEMM_BN + 4,
                                            nvcuda::wmma::mem_row_major);
        __syncthreads();
        gemm_emit(epi, M, N, m0, n0, tid, [&](int r, int q) { return Cs[r][q]; });
    }
};

// One 64 x 64 tile of C, origin (m0, n0), reduced over k_begin <= k < k_end. M, N: extents of C.
// Every thread of the block must call this (it synchronises the block).
template <int MATH, class LA, class LB, class EPI>
__device__ __forceinline__ void gemm_block(const LA& la, const LB& lb, const EPI& epi, int M, int N,
                                           int m0, int n0, int k_begin, int k_end) {
    typedef typename GemmSmem<MATH>::T T;
    constexpr int LDA = GEMM_BM + GemmSmem<MATH>::PAD;
    constexpr int LDB = GEMM_BN + GemmSmem<MATH>::PAD;
    constexpr int PER_THREAD_A = GEMM_BM * GEMM_BK / GEMM_THREADS;  // 4
    constexpr int PER_THREAD_B = GEMM_BN * GEMM_BK / GEMM_THREADS;  // 4
    // Operand tiles stored k-major: As[k][m], Bs[k][n]. For wmma that is A column-major and B
    // row-major, both with the k step as the leading dimension.
    __shared__ __align__(32) T As[GEMM_BK][LDA];
    __shared__ __align__(32) T Bs[GEMM_BK][LDB];

    const int tid = threadIdx.x;
    float ra[PER_THREAD_A], rb[PER_THREAD_B];
    GemmAcc<MATH> acc;

    if (k_begin < k_end) {
        gemm_fetch<GEMM_BM>(la, ra, tid, k_begin, k_end, m0, M);
        gemm_fetch<GEMM_BN>(lb, rb, tid, k_begin, k_end, n0, N);
    }
    for (int kt = k_begin; kt < k_end; kt += GEMM_BK) {
        __syncthreads();  // everyone is done reading the previous tile
        gemm_stash<LA, GEMM_BM>(As, ra, tid);
        gemm_stash<LB, GEMM_BN>(Bs, rb, tid);
        __syncthreads();  // the tile is complete
        if (kt + GEMM_BK < k_end) {  // the next tile's global loads overlap this tile's math
            gemm_fetch<GEMM_BM>(la, ra, tid, kt + GEMM_BK, k_end, m0, M);
            gemm_fetch<GEMM_BN>(lb, rb, tid, kt + GEMM_BK, k_end, n0, N);
        }
        acc.step(As, Bs, tid);
    }
    acc.finish(epi, M, N, m0, n0, tid);
}

// Instantiates one extern "C" kernel per math mode from a template kernel body
// NAME##_impl<MATH>(args...): NAME_f32, NAME_tf32, NAME_bf16.
#define GEMM_KERNELS(NAME, PARAMS, ARGS)                                                     \
    extern "C" __global__ void __launch_bounds__(GEMM_THREADS) NAME##_f32 PARAMS {            \
        NAME##_impl<GEMM_F32> ARGS;                                                          \
    }                                                                                        \
    extern "C" __global__ void __launch_bounds__(GEMM_THREADS) NAME##_tf32 PARAMS {           \
        NAME##_impl<GEMM_TF32> ARGS;                                                         \
    }                                                                                        \
    extern "C" __global__ void __launch_bounds__(GEMM_THREADS) NAME##_bf16 PARAMS {           \
        NAME##_impl<GEMM_BF16> ARGS;                                                         \
    }
