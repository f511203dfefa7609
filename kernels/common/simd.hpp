// Thin vector abstraction: one kernel body, written once, compiled per ISA translation unit.
// Each ISA TU is built with exactly one of SB_ISA_AVX512 / SB_ISA_AVX2 / SB_ISA_NEON /
// SB_ISA_SCALAR defined (see CMakeLists.txt), so the kernels below map to real intrinsics and
// never to a recompiled scalar loop. Semantics are identical across ISAs: lane-wise IEEE
// float ops without implicit contraction (-ffp-contract=off), unsigned 32-bit wrap-around ints.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(SB_ISA_AVX512) || defined(SB_ISA_AVX2)
#include <immintrin.h>
#elif defined(SB_ISA_NEON)
#include <arm_neon.h>
#elif !defined(SB_ISA_SCALAR)
#error "define one of SB_ISA_AVX512, SB_ISA_AVX2, SB_ISA_NEON, SB_ISA_SCALAR"
#endif

// Inside the per-ISA namespace: the same names mean different types in each ISA TU, and
// must never be merged by the linker.
namespace sb::SB_ISA_NS::simd {

// Per variant: W (float lanes per vector) and kVecRegs (architectural vector registers, which
// the microkernels size their register tiles by). These branches are the only per-ISA code of
// the kernels; a new variant of the CMake list adds one here.
#if defined(SB_ISA_AVX512)
constexpr int W = 16;
constexpr int kVecRegs = 32;  // zmm0-31
struct F { __m512 v; };
struct U { __m512i v; };   // W lanes of uint32
struct M { __mmask16 m; };
inline F load(const float* p) { return {_mm512_loadu_ps(p)}; }
inline void store(float* p, F a) { _mm512_storeu_ps(p, a.v); }
inline F set1(float x) { return {_mm512_set1_ps(x)}; }
inline F zero() { return {_mm512_setzero_ps()}; }
inline F add(F a, F b) { return {_mm512_add_ps(a.v, b.v)}; }
inline F sub(F a, F b) { return {_mm512_sub_ps(a.v, b.v)}; }
inline F mul(F a, F b) { return {_mm512_mul_ps(a.v, b.v)}; }
inline F fmadd(F a, F b, F c) { return {_mm512_fmadd_ps(a.v, b.v, c.v)}; }
inline F abs(F a) { return {_mm512_abs_ps(a.v)}; }
inline F max(F a, F b) { return {_mm512_max_ps(a.v, b.v)}; }
inline float hsum(F a) { return _mm512_reduce_add_ps(a.v); }
inline float hmax(F a) { return _mm512_reduce_max_ps(a.v); }
inline M cmp_ge(F a, F b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_GE_OQ)}; }
inline M cmp_gt(F a, F b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_GT_OQ)}; }
inline M cmp_ne(F a, F b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_NEQ_UQ)}; }
inline M mor(M a, M b) { return {static_cast<__mmask16>(a.m | b.m)}; }
inline M mand(M a, M b) { return {static_cast<__mmask16>(a.m & b.m)}; }
inline unsigned mbits(M a) { return a.m; }
inline F select(M m, F a, F b) { return {_mm512_mask_blend_ps(m.m, b.v, a.v)}; }  // m ? a : b
// Writes the lanes selected by bits (bit l = lane l) packed, in lane order, to p[0..popcount);
// may clobber up to W floats from p (callers keep W floats of slack). Returns popcount(bits).
inline int compress_store(float* p, F a, unsigned bits) {
    _mm512_storeu_ps(p, _mm512_maskz_compress_ps(static_cast<__mmask16>(bits), a.v));
    return __builtin_popcount(bits);
}
inline F copysign(F mag, F sgn) {
    const __m512i s = _mm512_set1_epi32(int(0x80000000u));
    __m512i r = _mm512_or_si512(_mm512_andnot_si512(s, _mm512_castps_si512(mag.v)),
                                _mm512_and_si512(s, _mm512_castps_si512(sgn.v)));
    return {_mm512_castsi512_ps(r)};
}
// 8x8 float transpose: dst[j*ldd + i] = src[i*lds + j], i, j < 8 (AVX, also used by AVX-512).
inline void transpose8x8(const float* src, int64_t lds, float* dst, int64_t ldd) {
    __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + lds), r2 = _mm256_loadu_ps(src + 2 * lds),
           r3 = _mm256_loadu_ps(src + 3 * lds), r4 = _mm256_loadu_ps(src + 4 * lds),
           r5 = _mm256_loadu_ps(src + 5 * lds), r6 = _mm256_loadu_ps(src + 6 * lds),
           r7 = _mm256_loadu_ps(src + 7 * lds);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3),
           t3 = _mm256_unpackhi_ps(r2, r3), t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
           t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
           u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
           u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
           u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(dst, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(dst + ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(dst + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(dst + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(dst + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(dst + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(dst + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(dst + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
}
// W x W tile transpose: dst[j*ldd + i] = src[i*lds + j] (pure data movement, exact).
inline void transpose_tile(const float* src, int64_t lds, float* dst, int64_t ldd) {
    transpose8x8(src, lds, dst, ldd);
    transpose8x8(src + 8, lds, dst + 8 * ldd, ldd);
    transpose8x8(src + 8 * lds, lds, dst + 8, ldd);
    transpose8x8(src + 8 * lds + 8, lds, dst + 8 * ldd + 8, ldd);
}
inline U uset1(uint32_t x) { return {_mm512_set1_epi32(int(x))}; }
inline U iota(uint32_t base) {
    return {_mm512_add_epi32(_mm512_set1_epi32(int(base)),
                             _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))};
}
inline U uadd(U a, U b) { return {_mm512_add_epi32(a.v, b.v)}; }
inline U uxor(U a, U b) { return {_mm512_xor_si512(a.v, b.v)}; }
inline U umul(U a, U b) { return {_mm512_mullo_epi32(a.v, b.v)}; }
template <int S> inline U usrl(U a) { return {_mm512_srli_epi32(a.v, S)}; }
// Top 24 bits of each lane as a float in [0, 1): exact, identical on every ISA.
inline F unit_float(U a) {
    return {_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(a.v, 8)), _mm512_set1_ps(0x1.0p-24f))};
}
// Eight double accumulators, fed with |x| of W floats: the lane layout (element i goes to
// accumulator i % 8) is part of the deterministic-reduction contract, see reduce.hpp.
struct Acc8d {
    __m512d a = _mm512_setzero_pd();
    inline void add_abs(const float* p) {  // 16 floats = two rounds of 8
        __m512 x = _mm512_abs_ps(_mm512_loadu_ps(p));
        a = _mm512_add_pd(a, _mm512_cvtps_pd(_mm512_castps512_ps256(x)));
        a = _mm512_add_pd(a, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1))));
    }
    inline void lanes(double* out) const { _mm512_storeu_pd(out, a); }
};

#elif defined(SB_ISA_AVX2)
constexpr int W = 8;
constexpr int kVecRegs = 16;
struct F { __m256 v; };
struct U { __m256i v; };
struct M { __m256 m; };
inline F load(const float* p) { return {_mm256_loadu_ps(p)}; }
inline void store(float* p, F a) { _mm256_storeu_ps(p, a.v); }
inline F set1(float x) { return {_mm256_set1_ps(x)}; }
inline F zero() { return {_mm256_setzero_ps()}; }
inline F add(F a, F b) { return {_mm256_add_ps(a.v, b.v)}; }
inline F sub(F a, F b) { return {_mm256_sub_ps(a.v, b.v)}; }
inline F mul(F a, F b) { return {_mm256_mul_ps(a.v, b.v)}; }
inline F fmadd(F a, F b, F c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }
inline F abs(F a) { return {_mm256_andnot_ps(_mm256_set1_ps(-0.0f), a.v)}; }
inline F max(F a, F b) { return {_mm256_max_ps(a.v, b.v)}; }
inline float hsum(F a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}
inline float hmax(F a) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}
inline M cmp_ge(F a, F b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GE_OQ)}; }
inline M cmp_gt(F a, F b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GT_OQ)}; }
inline M cmp_ne(F a, F b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_NEQ_UQ)}; }
inline M mor(M a, M b) { return {_mm256_or_ps(a.m, b.m)}; }
inline M mand(M a, M b) { return {_mm256_and_ps(a.m, b.m)}; }
inline unsigned mbits(M a) { return unsigned(_mm256_movemask_ps(a.m)); }
inline F select(M m, F a, F b) { return {_mm256_blendv_ps(b.v, a.v, m.m)}; }
// Writes the lanes selected by bits (bit l = lane l) packed, in lane order, to p[0..popcount);
// may clobber up to W floats from p (callers keep W floats of slack). Returns popcount(bits).
inline int compress_store(float* p, F a, unsigned bits) {
    alignas(32) float buf[W];
    store(buf, a);
    int k = 0;
    while (bits) {
        p[k++] = buf[__builtin_ctz(bits)];
        bits &= bits - 1;
    }
    return k;
}
inline F copysign(F mag, F sgn) {
    const __m256 s = _mm256_set1_ps(-0.0f);
    return {_mm256_or_ps(_mm256_andnot_ps(s, mag.v), _mm256_and_ps(s, sgn.v))};
}
// 8x8 float transpose: dst[j*ldd + i] = src[i*lds + j], i, j < 8 (AVX, also used by AVX-512).
inline void transpose8x8(const float* src, int64_t lds, float* dst, int64_t ldd) {
    __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + lds), r2 = _mm256_loadu_ps(src + 2 * lds),
           r3 = _mm256_loadu_ps(src + 3 * lds), r4 = _mm256_loadu_ps(src + 4 * lds),
           r5 = _mm256_loadu_ps(src + 5 * lds), r6 = _mm256_loadu_ps(src + 6 * lds),
           r7 = _mm256_loadu_ps(src + 7 * lds);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3),
           t3 = _mm256_unpackhi_ps(r2, r3), t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
           t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
           u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
           u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
           u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(dst, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(dst + ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(dst + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(dst + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(dst + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(dst + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(dst + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(dst + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
}
inline void transpose_tile(const float* src, int64_t lds, float* dst, int64_t ldd) {
    transpose8x8(src, lds, dst, ldd);
}
inline U uset1(uint32_t x) { return {_mm256_set1_epi32(int(x))}; }
inline U iota(uint32_t base) {
    return {_mm256_add_epi32(_mm256_set1_epi32(int(base)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))};
}
inline U uadd(U a, U b) { return {_mm256_add_epi32(a.v, b.v)}; }
inline U uxor(U a, U b) { return {_mm256_xor_si256(a.v, b.v)}; }
inline U umul(U a, U b) { return {_mm256_mullo_epi32(a.v, b.v)}; }
template <int S> inline U usrl(U a) { return {_mm256_srli_epi32(a.v, S)}; }
inline F unit_float(U a) {
    return {_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(a.v, 8)), _mm256_set1_ps(0x1.0p-24f))};
}
struct Acc8d {
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    inline void add_abs(const float* p) {  // 8 floats
        __m256 x = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_loadu_ps(p));
        lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(x)));
        hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)));
    }
    inline void lanes(double* out) const { _mm256_storeu_pd(out, lo); _mm256_storeu_pd(out + 4, hi); }
};

#elif defined(SB_ISA_NEON)
constexpr int W = 4;
constexpr int kVecRegs = 32;  // v0-31
struct F { float32x4_t v; };
struct U { uint32x4_t v; };
struct M { uint32x4_t m; };
inline F load(const float* p) { return {vld1q_f32(p)}; }
inline void store(float* p, F a) { vst1q_f32(p, a.v); }
inline F set1(float x) { return {vdupq_n_f32(x)}; }
inline F zero() { return {vdupq_n_f32(0.0f)}; }
inline F add(F a, F b) { return {vaddq_f32(a.v, b.v)}; }
inline F sub(F a, F b) { return {vsubq_f32(a.v, b.v)}; }
inline F mul(F a, F b) { return {vmulq_f32(a.v, b.v)}; }
inline F fmadd(F a, F b, F c) { return {vfmaq_f32(c.v, a.v, b.v)}; }
inline F abs(F a) { return {vabsq_f32(a.v)}; }
// Not vmaxq_f32: FMAX propagates NaN and orders -0 < +0, whereas x86 maxps and the scalar
// reference return b unless a > b (NaN in either lane gives b; max(-0, +0) is +0, max(+0, -0) is -0).
inline F max(F a, F b) { return {vbslq_f32(vcgtq_f32(a.v, b.v), a.v, b.v)}; }
inline float hsum(F a) { return vaddvq_f32(a.v); }
// Same fold and the same a > b ? a : b rule as the AVX2 hmax's last 128 bits (not vmaxvq_f32).
inline float hmax(F a) {
    const F t = max(a, F{vextq_f32(a.v, a.v, 2)});  // (max(a0, a2), max(a1, a3), ...)
    const float t0 = vgetq_lane_f32(t.v, 0), t1 = vgetq_lane_f32(t.v, 1);
    return t0 > t1 ? t0 : t1;
}
inline M cmp_ge(F a, F b) { return {vcgeq_f32(a.v, b.v)}; }
inline M cmp_gt(F a, F b) { return {vcgtq_f32(a.v, b.v)}; }
inline M cmp_ne(F a, F b) { return {vmvnq_u32(vceqq_f32(a.v, b.v))}; }
inline M mor(M a, M b) { return {vorrq_u32(a.m, b.m)}; }
inline M mand(M a, M b) { return {vandq_u32(a.m, b.m)}; }
inline unsigned mbits(M a) {
    const uint32x4_t bit = {1u, 2u, 4u, 8u};
    return vaddvq_u32(vandq_u32(a.m, bit));
}
inline F select(M m, F a, F b) { return {vbslq_f32(m.m, a.v, b.v)}; }
// Writes the lanes selected by bits (bit l = lane l) packed, in lane order, to p[0..popcount);
// may clobber up to W floats from p (callers keep W floats of slack). Returns popcount(bits).
inline int compress_store(float* p, F a, unsigned bits) {
    alignas(32) float buf[W];
    store(buf, a);
    int k = 0;
    while (bits) {
        p[k++] = buf[__builtin_ctz(bits)];
        bits &= bits - 1;
    }
    return k;
}
inline F copysign(F mag, F sgn) {
    const uint32x4_t s = vdupq_n_u32(0x80000000u);
    return {vbslq_f32(s, sgn.v, mag.v)};
}
// W x W tile transpose: dst[j*ldd + i] = src[i*lds + j] (pure data movement, exact).
inline void transpose_tile(const float* src, int64_t lds, float* dst, int64_t ldd) {
    float32x4_t r0 = vld1q_f32(src), r1 = vld1q_f32(src + lds), r2 = vld1q_f32(src + 2 * lds),
                r3 = vld1q_f32(src + 3 * lds);
    float32x4x2_t a = vtrnq_f32(r0, r1), b = vtrnq_f32(r2, r3);
    vst1q_f32(dst, vcombine_f32(vget_low_f32(a.val[0]), vget_low_f32(b.val[0])));
    vst1q_f32(dst + ldd, vcombine_f32(vget_low_f32(a.val[1]), vget_low_f32(b.val[1])));
    vst1q_f32(dst + 2 * ldd, vcombine_f32(vget_high_f32(a.val[0]), vget_high_f32(b.val[0])));
    vst1q_f32(dst + 3 * ldd, vcombine_f32(vget_high_f32(a.val[1]), vget_high_f32(b.val[1])));
}
inline U uset1(uint32_t x) { return {vdupq_n_u32(x)}; }
inline U iota(uint32_t base) {
    const uint32x4_t k = {0u, 1u, 2u, 3u};
    return {vaddq_u32(vdupq_n_u32(base), k)};
}
inline U uadd(U a, U b) { return {vaddq_u32(a.v, b.v)}; }
inline U uxor(U a, U b) { return {veorq_u32(a.v, b.v)}; }
inline U umul(U a, U b) { return {vmulq_u32(a.v, b.v)}; }
template <int S> inline U usrl(U a) { return {vshrq_n_u32(a.v, S)}; }
inline F unit_float(U a) {
    return {vmulq_f32(vcvtq_f32_u32(vshrq_n_u32(a.v, 8)), vdupq_n_f32(0x1.0p-24f))};
}
struct Acc8d {
    float64x2_t a[4] = {vdupq_n_f64(0), vdupq_n_f64(0), vdupq_n_f64(0), vdupq_n_f64(0)};
    int half = 0;  // 4 floats per call: alternate between accumulators 0-3 and 4-7
    inline void add_abs(const float* p) {
        float32x4_t x = vabsq_f32(vld1q_f32(p));
        a[2 * half] = vaddq_f64(a[2 * half], vcvt_f64_f32(vget_low_f32(x)));
        a[2 * half + 1] = vaddq_f64(a[2 * half + 1], vcvt_high_f64_f32(x));
        half ^= 1;
    }
    inline void lanes(double* out) const {
        for (int i = 0; i < 4; ++i) vst1q_f64(out + 2 * i, a[i]);
    }
};

#else  // SB_ISA_SCALAR: the C++ semantic reference; one lane.
constexpr int W = 1;
constexpr int kVecRegs = 16;  // tiles as for a 16-register ISA
struct F { float v; };
struct U { uint32_t v; };
struct M { bool m; };
inline F load(const float* p) { return {*p}; }
inline void store(float* p, F a) { *p = a.v; }
inline F set1(float x) { return {x}; }
inline F zero() { return {0.0f}; }
inline F add(F a, F b) { return {a.v + b.v}; }
inline F sub(F a, F b) { return {a.v - b.v}; }
inline F mul(F a, F b) { return {a.v * b.v}; }
inline F fmadd(F a, F b, F c) { return {std::fma(a.v, b.v, c.v)}; }
inline F abs(F a) { return {std::fabs(a.v)}; }
inline F max(F a, F b) { return {a.v > b.v ? a.v : b.v}; }
inline float hsum(F a) { return a.v; }
inline float hmax(F a) { return a.v; }
inline M cmp_ge(F a, F b) { return {a.v >= b.v}; }
inline M cmp_gt(F a, F b) { return {a.v > b.v}; }
inline M cmp_ne(F a, F b) { return {a.v != b.v}; }
inline M mor(M a, M b) { return {a.m || b.m}; }
inline M mand(M a, M b) { return {a.m && b.m}; }
inline unsigned mbits(M a) { return a.m ? 1u : 0u; }
inline F select(M m, F a, F b) { return {m.m ? a.v : b.v}; }
inline int compress_store(float* p, F a, unsigned bits) {  // same contract as the vector ISAs
    if (bits & 1u) { *p = a.v; return 1; }
    return 0;
}
inline F copysign(F mag, F sgn) { return {std::copysign(mag.v, sgn.v)}; }
inline void transpose_tile(const float* src, int64_t, float* dst, int64_t) { *dst = *src; }
inline U uset1(uint32_t x) { return {x}; }
inline U iota(uint32_t base) { return {base}; }
inline U uadd(U a, U b) { return {a.v + b.v}; }
inline U uxor(U a, U b) { return {a.v ^ b.v}; }
inline U umul(U a, U b) { return {a.v * b.v}; }
template <int S> inline U usrl(U a) { return {a.v >> S}; }
inline F unit_float(U a) { return {float(a.v >> 8) * 0x1.0p-24f}; }
struct Acc8d {
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int lane = 0;
    inline void add_abs(const float* p) { a[lane] += double(std::fabs(*p)); lane = (lane + 1) & 7; }
    inline void lanes(double* out) const { std::memcpy(out, a, sizeof a); }
};
#endif

// Tail helpers: a partial vector of n < W lanes through a stack buffer, so kernels keep one
// code path and identical per-lane semantics for the remainder.
inline F load_partial(const float* p, int n) {
    alignas(64) float buf[W > 1 ? W : 1] = {};
    std::memcpy(buf, p, sizeof(float) * n);
    return load(buf);
}
inline void store_partial(float* p, F a, int n) {
    alignas(64) float buf[W > 1 ? W : 1];
    store(buf, a);
    std::memcpy(p, buf, sizeof(float) * n);
}

// Lanes [0, n) from p[0..n) (0 <= n <= W), the others zero; p[l] for l >= n is never read (it
// need not be addressable memory).
inline F load_lanes(const float* p, int n) {
#if defined(SB_ISA_AVX512)
    return {_mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1u), p)};
#elif defined(SB_ISA_AVX2)
    const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    return {_mm256_maskload_ps(p, m)};
#else
    return load_partial(p, n);
#endif
}

// Writes lanes [lo, hi) of a to p[lo], ..., p[hi - 1] (0 <= lo <= hi <= W); p[l] outside that range
// is neither read nor written (it need not be addressable memory).
inline void store_lanes(float* p, F a, int lo, int hi) {
#if defined(SB_ISA_AVX512)
    const unsigned m = ((hi >= 32 ? 0u : (1u << hi)) - 1u) & ~((1u << lo) - 1u);
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>(m), a.v);
#elif defined(SB_ISA_AVX2)
    const __m256i l = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i m = _mm256_and_si256(_mm256_cmpgt_epi32(l, _mm256_set1_epi32(lo - 1)),
                                       _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), l));
    _mm256_maskstore_ps(p, m, a.v);
#else
    alignas(64) float buf[W > 1 ? W : 1];
    store(buf, a);
    for (int l = lo; l < hi; ++l) p[l] = buf[l];
#endif
}

}  // namespace sb::SB_ISA_NS::simd
