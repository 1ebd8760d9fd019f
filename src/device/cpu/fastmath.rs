//! `exp` and `ln` in plain IEEE f64 arithmetic, branch-free so that loops over arrays
//! vectorise, and without fused multiply-adds so that every x86-64 CPU (SSE2 or AVX2 code path)
//! and the CUDA kernels (which use the same formulas, `kernels/fastmath.cuh`) round identically;
//! and the f32 sigmoid and tanh built on that `exp` in f64.
//!
//! Accuracy: within 2 ulp of the correctly rounded result over the ranges t-SNE uses (checked
//! against the platform's libm in the tests); the sigmoid and tanh within 1 f32 ulp.

/// ln 2 with its low 32 bits zero (so k * LN2_HI is exact), and the rest (fdlibm's split).
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
const LOG2E: f64 = std::f64::consts::LOG2_E;
/// 1.5 * 2^52: adding it rounds a double of magnitude < 2^51 to an integer (ties to even).
const ROUNDER: f64 = 6_755_399_441_055_744.0;

/// 1/12!, ..., 1/2!, 1, 1: Horner's coefficients of e^r after the leading 1/13!.
const TAYLOR_TAIL: [f64; 13] = [
    1.0 / 479_001_600.0,
    1.0 / 39_916_800.0,
    1.0 / 3_628_800.0,
    1.0 / 362_880.0,
    1.0 / 40_320.0,
    1.0 / 5_040.0,
    1.0 / 720.0,
    1.0 / 120.0,
    1.0 / 24.0,
    1.0 / 6.0,
    0.5,
    1.0,
    1.0,
];
/// 1/21, 1/19, ..., 1/3: Horner's coefficients of the odd series of atanh after 1/23.
const ATANH_TAIL: [f64; 10] = [
    1.0 / 21.0,
    1.0 / 19.0,
    1.0 / 17.0,
    1.0 / 15.0,
    1.0 / 13.0,
    1.0 / 11.0,
    1.0 / 9.0,
    1.0 / 7.0,
    1.0 / 5.0,
    1.0 / 3.0,
];
const MANTISSA: u64 = 0x000f_ffff_ffff_ffff;
const ONE_BITS: u64 = 0x3ff0_0000_0000_0000;
const TWO_52: f64 = 4_503_599_627_370_496.0;
const BIAS_2_52: f64 = TWO_52 + 1023.0;

/// e^x for x <= 0 (t-SNE only exponentiates non-positive numbers); 0 below -745.
#[inline(always)]
pub fn exp_neg(x: f64) -> f64 {
    let x = x.max(-746.0);
    let t = x * LOG2E + ROUNDER;
    let k = t - ROUNDER; // round(x / ln 2), an integer in [-1076, 0]
                         // |r| <= ln2 / 2; Taylor series to degree 13: the remainder is below 2^-60 there.
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let mut p = 1.0 / 6_227_020_800.0;
    for coef in TAYLOR_TAIL {
        p = p * r + coef;
    }
    // 2^k as two normal factors 2^k1 2^k2 (k1 = floor(k / 2)) so that results down to the
    // subnormal range stay right. The exponent fields are built in the double domain (the
    // integer of k1 + 1023 sits in the low mantissa bits of k1 + 1023 + 2^52) because AVX2 has
    // no 64-bit float-to-integer conversion or arithmetic shift.
    let k1 = ((k * 0.5 - 0.25) + ROUNDER) - ROUNDER; // floor(k / 2): k / 2 is m or m + 1/2
    let k2 = k - k1;
    let s1 = f64::from_bits(((k1 + BIAS_2_52).to_bits() - TWO_52.to_bits()) << 52);
    let s2 = f64::from_bits(((k2 + BIAS_2_52).to_bits() - TWO_52.to_bits()) << 52);
    let y = p * s1 * s2;
    if x <= -745.5 {
        0.0
    } else {
        y
    }
}

/// The logistic function 1 / (1 + e^-x) in f64 on e^-|x| (so the exponential never
/// overflows), rounded once to f32; NaN stays NaN. `sigmoid_f32` of `kernels/fastmath.cuh`
/// rounds identically.
#[inline]
pub fn sigmoid_f32(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    let x = x as f64;
    let e = exp_neg(-x.abs());
    let s = if x >= 0.0 { 1.0 / (1.0 + e) } else { e / (1.0 + e) };
    s as f32
}

/// tanh in f64, rounded once to f32; NaN stays NaN, the sign of zero is kept. Near zero,
/// x (1 - x^2 / 3), whose next term is below 2^-48 relative there; elsewhere
/// (1 - e^-2|x|) / (1 + e^-2|x|), whose cancellation costs at most 2^-41 relative at
/// |x| = 2^-12. `tanh_f32` of `kernels/fastmath.cuh` rounds identically.
#[inline]
pub fn tanh_f32(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    let x = x as f64;
    let a = x.abs();
    let t = if a < TANH_SERIES_BELOW {
        x * (1.0 - x * x / 3.0)
    } else {
        let e = exp_neg(-2.0 * a);
        let t = (1.0 - e) / (1.0 + e);
        if x < 0.0 {
            -t
        } else {
            t
        }
    };
    t as f32
}

/// 2^-12: below it [`tanh_f32`] uses its series.
const TANH_SERIES_BELOW: f64 = 1.0 / 4096.0;

/// [`exp_neg`] on four lanes with AVX2 intrinsics: the same operations in the same order, so
/// each lane rounds exactly as the scalar function.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub unsafe fn exp_neg_avx2(x: std::arch::x86_64::__m256d) -> std::arch::x86_64::__m256d {
    use std::arch::x86_64::*;
    let c = |v: f64| _mm256_set1_pd(v);
    let (add, sub, mul) = (_mm256_add_pd, _mm256_sub_pd, _mm256_mul_pd);
    // max(x, -746): maxpd returns its second operand for a NaN, as f64::max returns -746.
    let x = _mm256_max_pd(x, c(-746.0));
    let t = add(mul(x, c(LOG2E)), c(ROUNDER));
    let k = sub(t, c(ROUNDER));
    let r = sub(sub(x, mul(k, c(LN2_HI))), mul(k, c(LN2_LO)));
    let mut p = c(1.0 / 6_227_020_800.0);
    for coef in TAYLOR_TAIL {
        p = add(mul(p, r), c(coef));
    }
    let k1 = sub(add(sub(mul(k, c(0.5)), c(0.25)), c(ROUNDER)), c(ROUNDER));
    let k2 = sub(k, k1);
    let two52 = _mm256_castpd_si256(c(TWO_52));
    let pow2 = |kk| {
        let bits = _mm256_sub_epi64(_mm256_castpd_si256(add(kk, c(BIAS_2_52))), two52);
        _mm256_castsi256_pd(_mm256_slli_epi64::<52>(bits))
    };
    let y = mul(mul(p, pow2(k1)), pow2(k2));
    let tiny = _mm256_cmp_pd::<_CMP_LE_OQ>(x, c(-745.5));
    _mm256_blendv_pd(y, _mm256_setzero_pd(), tiny)
}

/// ln x for finite x >= 1 (t-SNE takes logs of 1 + d^2).
#[inline(always)]
pub fn ln_ge1(x: f64) -> f64 {
    let bits = x.to_bits();
    let e = ((bits >> 52) & 0x7ff) as i64 - 1023;
    // m in [1, 2), then brought into [sqrt(1/2), sqrt(2)).
    let m = f64::from_bits((bits & MANTISSA) | ONE_BITS);
    let big = m > std::f64::consts::SQRT_2;
    let m = if big { m * 0.5 } else { m };
    let e = (e + big as i64) as f64;
    let s = (m - 1.0) / (m + 1.0); // |s| < 0.1716
    let s2 = s * s;
    // 2 atanh(s) = 2 (s + s^3/3 + ... + s^23/23); the next term is below 2^-60 relative.
    let mut q = 1.0 / 23.0;
    for coef in ATANH_TAIL {
        q = q * s2 + coef;
    }
    let lnm = 2.0 * s + 2.0 * s * s2 * q;
    e * LN2_HI + (e * LN2_LO + lnm)
}

/// [`ln_ge1`] on four lanes with AVX2 intrinsics, rounding each lane exactly as the scalar
/// function.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub unsafe fn ln_ge1_avx2(x: std::arch::x86_64::__m256d) -> std::arch::x86_64::__m256d {
    use std::arch::x86_64::*;
    let c = |v: f64| _mm256_set1_pd(v);
    let (add, sub, mul) = (_mm256_add_pd, _mm256_sub_pd, _mm256_mul_pd);
    let bits = _mm256_castpd_si256(x);
    // The biased exponent (x >= 1: sign bit 0) as a double, via the low mantissa bits of 2^52.
    let two52 = _mm256_castpd_si256(c(TWO_52));
    let ef = sub(_mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64::<52>(bits), two52)), c(TWO_52));
    let e = sub(ef, c(1023.0));
    let mant = _mm256_set1_epi64x(MANTISSA as i64);
    let one = _mm256_set1_epi64x(ONE_BITS as i64);
    let m = _mm256_castsi256_pd(_mm256_or_si256(_mm256_and_si256(bits, mant), one));
    let big = _mm256_cmp_pd::<_CMP_GT_OQ>(m, c(std::f64::consts::SQRT_2));
    let m = _mm256_blendv_pd(m, mul(m, c(0.5)), big);
    let e = add(e, _mm256_and_pd(big, c(1.0)));
    let s = _mm256_div_pd(sub(m, c(1.0)), add(m, c(1.0)));
    let s2 = mul(s, s);
    let mut q = c(1.0 / 23.0);
    for coef in ATANH_TAIL {
        q = add(mul(q, s2), c(coef));
    }
    let two_s = mul(c(2.0), s);
    let lnm = add(two_s, mul(mul(two_s, s2), q));
    add(mul(e, c(LN2_HI)), add(mul(e, c(LN2_LO)), lnm))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rng;

    fn ulps(a: f64, b: f64) -> f64 {
        if a == b {
            return 0.0;
        }
        let u = b.abs() * f64::EPSILON;
        (a - b).abs() / u.max(f64::MIN_POSITIVE)
    }

    #[test]
    fn exp_matches_libm() {
        let mut rng = Rng::new(2);
        let mut worst = 0.0f64;
        for i in 0..200_000 {
            let x = match i % 3 {
                0 => -rng.uniform() * 50.0,
                1 => -rng.uniform() * 700.0,
                _ => -rng.uniform() * 1e-3,
            };
            worst = worst.max(ulps(exp_neg(x), x.exp()));
        }
        assert!(worst <= 2.0, "worst {worst} ulp");
        assert_eq!(exp_neg(0.0), 1.0);
        assert_eq!(exp_neg(-800.0), 0.0);
        assert_eq!(exp_neg(f64::NEG_INFINITY), 0.0);
        let sub = exp_neg(-740.0);
        assert!((sub - (-740.0f64).exp()).abs() <= 4.0 * f64::from_bits(1));
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_lanes_round_like_the_scalar_exp() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        let mut rng = Rng::new(3);
        for _ in 0..10_000 {
            let x: [f64; 4] = std::array::from_fn(|_| -rng.uniform() * 760.0);
            let mut out = [0.0f64; 4];
            // SAFETY: AVX2 is present (checked above).
            unsafe {
                use std::arch::x86_64::*;
                _mm256_storeu_pd(out.as_mut_ptr(), exp_neg_avx2(_mm256_loadu_pd(x.as_ptr())));
            }
            for l in 0..4 {
                assert_eq!(out[l].to_bits(), exp_neg(x[l]).to_bits(), "exp({})", x[l]);
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_lanes_round_like_the_scalar_ln() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        let mut rng = Rng::new(5);
        for _ in 0..10_000 {
            let x: [f64; 4] = std::array::from_fn(|_| 1.0 + (rng.uniform() * 40.0).exp() - 1.0);
            let mut out = [0.0f64; 4];
            // SAFETY: AVX2 is present (checked above).
            unsafe {
                use std::arch::x86_64::*;
                _mm256_storeu_pd(out.as_mut_ptr(), ln_ge1_avx2(_mm256_loadu_pd(x.as_ptr())));
            }
            for l in 0..4 {
                assert_eq!(out[l].to_bits(), ln_ge1(x[l]).to_bits(), "ln({})", x[l]);
            }
        }
    }

    /// Distance in f32 units in the last place (both finite, same sign or zero).
    fn ulps_f32(a: f32, b: f32) -> u32 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
    }

    #[test]
    fn sigmoid_and_tanh_are_within_one_f32_ulp_of_libm() {
        let mut rng = Rng::new(6);
        for i in 0..200_000 {
            let x = match i % 4 {
                0 => (rng.uniform() as f32 - 0.5) * 20.0,
                1 => (rng.uniform() as f32 - 0.5) * 200.0,
                2 => (rng.uniform() as f32 - 0.5) * 2e-3,
                _ => (rng.uniform() as f32 - 0.5) * 1e-8,
            };
            let xd = x as f64;
            let sig = (1.0 / (1.0 + (-xd).exp())) as f32;
            assert!(ulps_f32(sigmoid_f32(x), sig) <= 1, "sigmoid({x}) = {} vs {sig}", sigmoid_f32(x));
            let th = xd.tanh() as f32;
            assert!(ulps_f32(tanh_f32(x), th) <= 1, "tanh({x}) = {} vs {th}", tanh_f32(x));
        }
        assert_eq!(sigmoid_f32(0.0), 0.5);
        assert_eq!(sigmoid_f32(f32::INFINITY), 1.0);
        assert_eq!(sigmoid_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(tanh_f32(f32::INFINITY), 1.0);
        assert_eq!(tanh_f32(f32::NEG_INFINITY), -1.0);
        assert_eq!(tanh_f32(-0.0).to_bits(), (-0.0f32).to_bits());
        assert!(sigmoid_f32(f32::NAN).is_nan() && tanh_f32(f32::NAN).is_nan());
    }

    #[test]
    fn ln_matches_libm() {
        let mut rng = Rng::new(4);
        let mut worst = 0.0f64;
        for i in 0..200_000 {
            let x = match i % 3 {
                0 => 1.0 + rng.uniform() * 1e-6,
                1 => 1.0 + rng.uniform() * 100.0,
                _ => 1.0 + (rng.uniform() * 60.0).exp(),
            };
            worst = worst.max(ulps(ln_ge1(x), x.ln()));
        }
        assert!(worst <= 2.0, "worst {worst} ulp");
        assert_eq!(ln_ge1(1.0), 0.0);
    }
}
