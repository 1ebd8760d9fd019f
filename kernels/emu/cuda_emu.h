// The CUDA built-ins our kernels use, for compiling kernels/*.cu unmodified as host C++ (g++
// -std=c++17 -ffp-contract=off). Part of the emulated CUDA device (`--device cuda-emu`), a testing
// device: the Rust launchers run these host-compiled kernels instead of PTX, so every launcher,
// grid shape and kernel is tested on machines without a GPU.
//
// Execution model (runtime.cpp): a launch runs its blocks one after another on the calling OS
// thread; every CUDA thread of a block is a fiber (its own stack). A fiber runs until it finishes or
// reaches a barrier (__syncthreads, a warp shuffle); the block moves on once every live thread of
// the barrier's scope has arrived. Threads run in thread-index order between barriers, the worst
// order for a missing __syncthreads: a thread reads shared memory before the later threads of its
// block have written it.
//
// What maps to what:
// - threadIdx, blockIdx, blockDim, gridDim: thread_local variables the scheduler sets;
// - __shared__: `static thread_local`, one copy per OS thread, so per running block (plain
//   `static` under ThreadSanitizer, whose runs launch from one thread);
// - arithmetic intrinsics (__fadd_rn, ...): plain IEEE operations (the build disables FMA
//   contraction, so they round as written); fmaf is a true fused multiply-add;
// - __shfl_sync / __shfl_down_sync: a per-warp exchange between two warp barriers;
// - wmma: every lane holds the whole 16 x 16 fragment (fragments are opaque in CUDA, so code that
//   is correct there cannot tell); tf32 inputs are truncated to 10 mantissa bits by mma_sync as
//   the hardware does, bf16 values are stored as bfloat16; products are accumulated in f32 in
//   increasing k, once per warp (lane 0), and every lane gets the result.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <cstddef>
#include <type_traits>
#include <utility>

#ifdef DDR_EMU_SCAN
#define __global__ __ddr_emu_kernel__  // build.rs finds the kernels by this marker
#else
#define __global__
#endif
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#if defined(__SANITIZE_THREAD__)
// ThreadSanitizer treats a thread's TLS specially, and with fibers on a thread other than the
// main one it reported races in thread-local shared memory that a plain build of the same
// kernels does not show; sanitizer runs launch from one thread (--test-threads=1), so plain
// statics serve.
#define __shared__ static
#else
#define __shared__ static thread_local
#endif

struct uint3 {
    unsigned int x, y, z;
};
struct dim3 {
    unsigned int x, y, z;
};
struct __attribute__((aligned(8))) float2 {
    float x, y;
};
struct __attribute__((aligned(16))) float4 {
    float x, y, z, w;
};

extern thread_local uint3 threadIdx;
extern thread_local uint3 blockIdx;
extern thread_local dim3 blockDim;
extern thread_local dim3 gridDim;

extern "C" void ddr_emu_syncthreads();
extern "C" void ddr_emu_syncwarp();
// Exchanges 8 bytes within the calling thread's warp: returns the value lane `src` passed, or the
// caller's own value when `src` is outside [0, width) (mode 1, shuffle-down past the end).
extern "C" uint64_t ddr_emu_shfl(uint64_t v, int src, int own_if_outside);
// This thread's lane in its warp (threads numbered x fastest, then y, then z).
extern "C" int ddr_emu_lane();

inline void __syncthreads() { ddr_emu_syncthreads(); }
inline void __syncwarp(unsigned = 0xffffffffu) { ddr_emu_syncwarp(); }

template <class T>
inline uint64_t ddr_emu_bits(T v) {
    static_assert(sizeof(T) <= 8, "shuffles move at most 8 bytes");
    uint64_t b = 0;
    std::memcpy(&b, &v, sizeof(T));
    return b;
}
template <class T>
inline T ddr_emu_from_bits(uint64_t b) {
    T v;
    std::memcpy(&v, &b, sizeof(T));
    return v;
}
template <class T>
inline T __shfl_sync(unsigned, T v, int src, int width = 32) {
    const int base = ddr_emu_lane() / width * width;
    return ddr_emu_from_bits<T>(ddr_emu_shfl(ddr_emu_bits(v), base + ((src % width) + width) % width, 0));
}
template <class T>
inline T __shfl_down_sync(unsigned, T v, unsigned delta, int width = 32) {
    const int lane = ddr_emu_lane();
    const int src = lane + (int)delta;
    const bool inside = src / width == lane / width;
    return ddr_emu_from_bits<T>(ddr_emu_shfl(ddr_emu_bits(v), inside ? src : -1, 1));
}

// ---- arithmetic ------------------------------------------------------------------------------
using std::exp;
using std::fabs;
using std::fmax;
using std::fmin;
using std::isinf;
using std::isnan;
using std::log;
using std::log1p;
using std::sqrt;
inline float expf(float x) { return std::exp(x); }
inline float logf(float x) { return std::log(x); }
inline float fabsf(float x) { return std::fabs(x); }
inline float sqrtf(float x) { return std::sqrt(x); }
inline float fmaf(float a, float b, float c) { return std::fma(a, b, c); }
inline float fmaxf(float a, float b) { return std::fmax(a, b); }
inline float fminf(float a, float b) { return std::fmin(a, b); }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }

inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __frcp_rn(float a) { return 1.f / a; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __ddiv_rn(double a, double b) { return a / b; }
inline double __longlong_as_double(long long v) { return ddr_emu_from_bits<double>((uint64_t)v); }
inline long long __double_as_longlong(double v) { return (long long)ddr_emu_bits(v); }
inline float __int_as_float(int v) { return ddr_emu_from_bits<float>((uint32_t)v); }
inline int __float_as_int(float v) { return (int)(uint32_t)ddr_emu_bits(v); }

// ---- bfloat16 --------------------------------------------------------------------------------
struct __nv_bfloat16 {
    uint16_t bits;
};
inline __nv_bfloat16 __float2bfloat16(float f) {
    uint32_t u = (uint32_t)ddr_emu_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return __nv_bfloat16{(uint16_t)((u >> 16) | 0x40)};  // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest, ties to even
    return __nv_bfloat16{(uint16_t)(u >> 16)};
}
inline float __bfloat162float(__nv_bfloat16 b) { return ddr_emu_from_bits<float>((uint64_t)b.bits << 16); }

// ---- wmma ------------------------------------------------------------------------------------
namespace nvcuda {
namespace wmma {
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
namespace precision {
struct tf32 {};
}  // namespace precision
enum layout_t { mem_row_major, mem_col_major };

// Rounds to tf32 (10 mantissa bits), to nearest with ties away from zero, as cvt.rna.tf32.f32.
inline float __float_to_tf32(float f) {
    uint32_t u = (uint32_t)ddr_emu_bits(f);
    if ((u & 0x7f800000u) == 0x7f800000u) return f;  // inf, NaN
    u = (u + 0x1000u) & 0xffffe000u;
    return ddr_emu_from_bits<float>(u);
}
// What the tensor core reads of an operand: tf32 keeps the top 10 mantissa bits.
inline float ddr_emu_operand(float v, precision::tf32) {
    return ddr_emu_from_bits<float>(ddr_emu_bits(v) & 0xffffe000u);
}
inline float ddr_emu_operand(__nv_bfloat16 v, __nv_bfloat16) { return __bfloat162float(v); }
inline float ddr_emu_operand(float v, float) { return v; }

template <class T>
struct ddr_emu_storage {
    typedef T type;
};
template <>
struct ddr_emu_storage<precision::tf32> {
    typedef float type;
};

template <class Use, int M, int N, int K>
struct ddr_emu_shape;
template <int M, int N, int K>
struct ddr_emu_shape<matrix_a, M, N, K> {
    static constexpr int rows = M, cols = K;
};
template <int M, int N, int K>
struct ddr_emu_shape<matrix_b, M, N, K> {
    static constexpr int rows = K, cols = N;
};
template <int M, int N, int K>
struct ddr_emu_shape<accumulator, M, N, K> {
    static constexpr int rows = M, cols = N;
};

// The whole rows x cols matrix, row-major, in every lane.
template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
    typedef T precision_type;
    typedef typename ddr_emu_storage<T>::type element_type;
    static constexpr int rows = ddr_emu_shape<Use, M, N, K>::rows;
    static constexpr int cols = ddr_emu_shape<Use, M, N, K>::cols;
    static constexpr int num_elements = rows * cols;
    element_type x[num_elements];
};

template <class F, class V>
inline void fill_fragment(F& f, const V& v) {
    for (int t = 0; t < F::num_elements; t++) f.x[t] = v;
}

template <class Use, int M, int N, int K, class T, class L, class P>
inline void load_matrix_sync(fragment<Use, M, N, K, T, L>& f, const P* p, unsigned ldm) {
    typedef fragment<Use, M, N, K, T, L> F;
    constexpr bool row = std::is_same<L, row_major>::value;
    static_assert(row || std::is_same<L, col_major>::value, "operand fragments need a layout");
    for (int r = 0; r < F::rows; r++)
        for (int c = 0; c < F::cols; c++) f.x[r * F::cols + c] = row ? p[r * ldm + c] : p[c * ldm + r];
}

template <int M, int N, int K>
inline void load_matrix_sync(fragment<accumulator, M, N, K, float>& f, const float* p, unsigned ldm, layout_t l) {
    for (int r = 0; r < M; r++)
        for (int c = 0; c < N; c++) f.x[r * N + c] = l == mem_row_major ? p[r * ldm + c] : p[c * ldm + r];
}

// Every lane holds the same tile; lane 0 of the warp writes it (one writer: no benign races for
// the sanitizers to report).
template <int M, int N, int K>
inline void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, float>& f, unsigned ldm, layout_t l) {
    if (ddr_emu_lane() == 0)
        for (int r = 0; r < M; r++)
            for (int c = 0; c < N; c++) (l == mem_row_major ? p[r * ldm + c] : p[c * ldm + r]) = f.x[r * N + c];
    __syncwarp();
}

// The warp's product, computed once by lane 0 (every lane holds the same operands) and handed to
// every lane through per-warp scratch between two warp barriers: 32 times less arithmetic than
// each lane computing it, which made the tensor-core tests the slowest of the suite.
extern "C" float* ddr_emu_warp_scratch(int floats);
template <int M, int N, int K, class T, class LA, class LB>
inline void mma_sync(fragment<accumulator, M, N, K, float>& d, const fragment<matrix_a, M, N, K, T, LA>& a,
                     const fragment<matrix_b, M, N, K, T, LB>& b, const fragment<accumulator, M, N, K, float>& c) {
    float* out = ddr_emu_warp_scratch(M * N);
    if (ddr_emu_lane() == 0)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                float s = c.x[i * N + j];
                for (int k = 0; k < K; k++)
                    s += ddr_emu_operand(a.x[i * K + k], T()) * ddr_emu_operand(b.x[k * N + j], T());
                out[i * N + j] = s;
            }
    __syncwarp();
    for (int t = 0; t < M * N; t++) d.x[t] = out[t];
    __syncwarp();  // every lane has its copy before the scratch is used again
}
}  // namespace wmma
}  // namespace nvcuda

// ---- kernel entry points -----------------------------------------------------------------------
// A launch hands the kernel its arguments as cuLaunchKernel does: one pointer per argument, to a
// value laid out as the parameter. The table below records each parameter's size so that the
// runtime refuses a launch whose arguments do not match the signature.
typedef void (*ddr_emu_entry_fn)(void**);
struct ddr_emu_kernel {
    const char* name;
    ddr_emu_entry_fn entry;
    int arg_count;
    const unsigned char* arg_sizes;
};

template <class... A, size_t... I>
inline void ddr_emu_call(void (*f)(A...), void** a, std::index_sequence<I...>) {
    f(*static_cast<std::remove_reference_t<A>*>(a[I])...);
}
template <class... A>
inline void ddr_emu_call_all(void (*f)(A...), void** a) {
    ddr_emu_call(f, a, std::index_sequence_for<A...>{});
}
template <auto F>
void ddr_emu_entry(void** a) {
    ddr_emu_call_all(F, a);
}
template <class... A>
struct ddr_emu_sizes {
    static constexpr int count = sizeof...(A);
    static constexpr unsigned char sizes[sizeof...(A) + 1] = {(unsigned char)sizeof(A)..., 0};
};
template <class... A>
constexpr ddr_emu_sizes<A...> ddr_emu_signature(void (*)(A...)) {
    return {};
}
#define DDR_EMU_KERNEL(ns, name)                                                                          \
    ddr_emu_kernel {                                                                                     \
        #name, &ddr_emu_entry<&ns::name>, decltype(ddr_emu_signature(&ns::name))::count,                 \
            decltype(ddr_emu_signature(&ns::name))::sizes                                                \
    }
