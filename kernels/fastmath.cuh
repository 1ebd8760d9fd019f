// The engine's own exp, sigmoid and tanh on the device: src/device/cpu/fastmath.rs operation for
// operation, every step an explicit round-to-nearest intrinsic (nvcc cannot contract into FMAs),
// so a kernel and its CPU reference round identically.
#pragma once

// e^x for x <= 0; fastmath.rs's exp_neg (the CPU builds the power-of-two factors in the double
// domain, here with integers: the same exact values).
__device__ __forceinline__ double exp_neg(double x) {
    const double LN2_HI = __longlong_as_double(0x3fe62e42fee00000LL);
    const double LN2_LO = __longlong_as_double(0x3dea39ef35793c76LL);
    const double LOG2E = 1.4426950408889634;
    const double ROUNDER = 6755399441055744.0;
    x = fmax(x, -746.0);
    double t = __dadd_rn(__dmul_rn(x, LOG2E), ROUNDER);
    double k = __dsub_rn(t, ROUNDER);
    long long ki = __double_as_longlong(t) - __double_as_longlong(ROUNDER);
    double r = __dsub_rn(__dsub_rn(x, __dmul_rn(k, LN2_HI)), __dmul_rn(k, LN2_LO));
    const double c[14] = {1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0,
                          1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0,
                          1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0};
    double p = c[0];
    #pragma unroll
    for (int q = 1; q < 14; q++) p = __dadd_rn(__dmul_rn(p, r), c[q]);
    long long k1 = ki >> 1;
    long long k2 = ki - k1;
    double s1 = __longlong_as_double((k1 + 1023) << 52);
    double s2 = __longlong_as_double((k2 + 1023) << 52);
    double y = __dmul_rn(__dmul_rn(p, s1), s2);
    return x <= -745.5 ? 0.0 : y;
}

// 1 / (1 + e^-x) in double on e^-|x|, rounded once to float; NaN stays NaN.
__device__ __forceinline__ float sigmoid_f32(float xf) {
    if (isnan(xf)) return xf;
    const double x = xf;
    const double e = exp_neg(-fabs(x));
    const double one_e = __dadd_rn(1.0, e);
    return (float)(x >= 0.0 ? __ddiv_rn(1.0, one_e) : __ddiv_rn(e, one_e));
}

// tanh in double, rounded once to float; NaN stays NaN, the sign of zero is kept. Below 2^-12
// in magnitude x (1 - x^2 / 3), elsewhere (1 - e^-2|x|) / (1 + e^-2|x|) with x's sign.
__device__ __forceinline__ float tanh_f32(float xf) {
    if (isnan(xf)) return xf;
    const double x = xf;
    const double a = fabs(x);
    double t;
    if (a < 1.0 / 4096.0) {
        t = __dmul_rn(x, __dsub_rn(1.0, __ddiv_rn(__dmul_rn(x, x), 3.0)));
    } else {
        const double e = exp_neg(__dmul_rn(-2.0, a));
        t = __ddiv_rn(__dsub_rn(1.0, e), __dadd_rn(1.0, e));
        if (x < 0.0) t = -t;
    }
    return (float)t;
}
