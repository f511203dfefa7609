// SWAT streaming passes and the sparse-input weight gradient, compiled once per ISA (SB_ISA_NS).
// Integer key compares only (no float compares), so every variant agrees bit for bit; the
// weight-gradient axpys are mul + add (no fused multiply-add), so they agree bit for bit too.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "../common/simd.hpp"
#include "swat.hpp"

namespace sb::SB_ISA_NS {
namespace {

using namespace simd;

inline uint32_t key_of(const float* p) {
    uint32_t u;
    std::memcpy(&u, p, 4);
    return u & kAbsMask;
}

constexpr int64_t kBlock = 16;

#if defined(SB_ISA_AVX2) || defined(SB_ISA_AVX512)
// 8 keys at once (keys are < 2^31, so the signed int32 compares order them correctly)
inline __m256i keys8(const float* p) {
    return _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), _mm256_set1_epi32(int(kAbsMask)));
}
inline int64_t hsum_epi32(__m256i v) {
    alignas(32) int32_t t[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(t), v);
    int64_t s = 0;
    for (int j = 0; j < 8; ++j) s += uint32_t(t[j]);
    return s;
}
#endif

int64_t histogram(const float* x, int64_t n, int shift, int nbins, int pshift, uint32_t prefix, int64_t* hist,
                  int threads) {
    std::fill(hist, hist + nbins, 0);
    const uint32_t binmask = uint32_t(nbins - 1);
    int64_t nan = 0;
    const bool all = pshift >= 31;
#pragma omp parallel num_threads(threads) reduction(+ : nan)
    {
        // two interleaved sub-histograms break the increment dependency of equal bins
        std::vector<uint32_t> h(size_t(2 * nbins), 0);
        uint32_t* h0 = h.data();
        uint32_t* h1 = h.data() + nbins;
        int64_t local_nan = 0;
        // blocks of 2^20 so the uint32 counts never overflow
#pragma omp for schedule(static)
        for (int64_t b = 0; b < (n + (int64_t(1) << 20) - 1) >> 20; ++b) {
            const int64_t s = b << 20, e = std::min(n, s + (int64_t(1) << 20));
            if (all) {
                int64_t i = s;
                for (; i + 2 <= e; i += 2) {
                    const uint32_t k0 = key_of(x + i), k1 = key_of(x + i + 1);
                    local_nan += (k0 > kInfKey) + (k1 > kInfKey);
                    ++h0[(k0 >> shift) & binmask];
                    ++h1[(k1 >> shift) & binmask];
                }
                for (; i < e; ++i) {
                    const uint32_t k0 = key_of(x + i);
                    local_nan += k0 > kInfKey;
                    ++h0[(k0 >> shift) & binmask];
                }
            } else {
                for (int64_t i = s; i < e; ++i) {
                    const uint32_t k0 = key_of(x + i);
                    if ((k0 >> pshift) == prefix) ++h0[(k0 >> shift) & binmask];
                }
            }
#pragma omp critical(sb_swat_hist)
            for (int c = 0; c < nbins; ++c) {
                hist[c] += int64_t(h0[c]) + int64_t(h1[c]);
                h0[c] = h1[c] = 0;
            }
        }
        nan += local_nan;
    }
    return nan;
}

int64_t bracket(const float* x, int64_t n, uint32_t lo, uint32_t hi, uint32_t* cand, int64_t cap, int64_t* n_hi,
                int64_t* n_nan, int threads) {
    int64_t total_hi = 0, total_nan = 0, total = 0;
    bool overflow = false;
    const int nt = std::max(1, threads);
    std::vector<std::vector<uint32_t>> per(static_cast<size_t>(nt));
#pragma omp parallel num_threads(nt) reduction(+ : total_hi, total_nan)
    {
        std::vector<uint32_t>& mine = per[size_t(omp_get_thread_num())];
        mine.reserve(size_t(std::min<int64_t>(cap / nt + 64, cap + 1)));
        int64_t c_hi = 0, c_nan = 0;
#pragma omp for schedule(static)
        for (int64_t b = 0; b < (n + kBlock - 1) / kBlock; ++b) {
            const int64_t s = b * kBlock, e = std::min(n, s + kBlock);
            uint32_t any = 0;
#if defined(SB_ISA_AVX2) || defined(SB_ISA_AVX512)
            if (e - s == kBlock) {
                const __m256i vhi = _mm256_set1_epi32(int(hi)), vlo = _mm256_set1_epi32(int(lo)),
                              vinf = _mm256_set1_epi32(int(kInfKey));
                for (int64_t j = 0; j < kBlock; j += 8) {
                    const __m256i k = keys8(x + s + j);
                    const __m256i above = _mm256_cmpgt_epi32(k, vhi), nan = _mm256_cmpgt_epi32(k, vinf);
                    const __m256i below = _mm256_cmpgt_epi32(vlo, k);
                    c_hi += __builtin_popcount(unsigned(_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_andnot_si256(nan, above)))));
                    c_nan += __builtin_popcount(unsigned(_mm256_movemask_ps(_mm256_castsi256_ps(nan))));
                    any |= unsigned(~_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_or_si256(above, below)))) & 0xffu;
                }
            } else
#endif
            if (e - s == kBlock) {
                for (int64_t j = 0; j < kBlock; ++j) {  // vectorizable: counts and a flag
                    const uint32_t k = key_of(x + s + j);
                    c_hi += (k > hi) & (k <= kInfKey);
                    c_nan += k > kInfKey;
                    any |= (k >= lo) & (k <= hi);
                }
            } else {
                for (int64_t i = s; i < e; ++i) {
                    const uint32_t k = key_of(x + i);
                    c_hi += (k > hi) & (k <= kInfKey);
                    c_nan += k > kInfKey;
                    any |= (k >= lo) & (k <= hi);
                }
            }
            if (any && int64_t(mine.size()) <= cap)
                for (int64_t i = s; i < e; ++i) {
                    const uint32_t k = key_of(x + i);
                    if (k >= lo && k <= hi) mine.push_back(k);
                }
        }
        total_hi += c_hi;
        total_nan += c_nan;
    }
    for (auto& v : per) {
        if (total + int64_t(v.size()) > cap) {
            overflow = true;
            break;
        }
        std::memcpy(cand + total, v.data(), v.size() * 4);
        total += int64_t(v.size());
    }
    *n_hi = total_hi;
    *n_nan = total_nan;
    return overflow ? -1 : total;
}

void row_counts(const float* x, int64_t n, int64_t C, uint32_t T, int64_t* gt, int64_t* eq, int threads) {
    const int64_t R = C > 0 ? (n + C - 1) / C : 0;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < R; ++r) {
        const int64_t s = r * C, e = std::min(n, s + C);
        int64_t g = 0, q = 0;
        int64_t i = s;
#if defined(SB_ISA_AVX2) || defined(SB_ISA_AVX512)
        {
            const __m256i vt = _mm256_set1_epi32(int(T));
            __m256i ag = _mm256_setzero_si256(), aq = _mm256_setzero_si256();
            int64_t run = 0;
            for (; i + 8 <= e; i += 8) {
                const __m256i k = keys8(x + i);
                ag = _mm256_sub_epi32(ag, _mm256_cmpgt_epi32(k, vt));  // mask lanes are -1
                aq = _mm256_sub_epi32(aq, _mm256_cmpeq_epi32(k, vt));
                if (++run == (int64_t(1) << 28)) {  // flush before an int32 lane could overflow
                    g += hsum_epi32(ag), q += hsum_epi32(aq), run = 0;
                    ag = aq = _mm256_setzero_si256();
                }
            }
            g += hsum_epi32(ag);
            q += hsum_epi32(aq);
        }
#endif
        for (; i < e; ++i) {
            const uint32_t k = key_of(x + i);
            g += k > T;
            q += k == T;
        }
        gt[r] = g;
        eq[r] = q;
    }
}

void row_fill(const float* x, int64_t n, int64_t C, uint32_t T, const int64_t* eq_quota, const int64_t* rowptr,
              int32_t* col, float* vals, int threads) {
    const int64_t R = C > 0 ? (n + C - 1) / C : 0;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < R; ++r) {
        const int64_t s = r * C, e = std::min(n, s + C);
        int64_t o = rowptr[r], quota = eq_quota[r];
        int64_t i = s;
#if defined(SB_ISA_AVX2) || defined(SB_ISA_AVX512)
        const __m256i vt = _mm256_set1_epi32(int(T));
        for (; i + 8 <= e; i += 8) {  // one compare per 8 elements, then only the kept lanes
            const __m256i k = keys8(x + i);
            const unsigned gtm = unsigned(_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(k, vt))));
            const unsigned eqm =
                quota > 0 ? unsigned(_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(k, vt)))) : 0u;
            for (unsigned m = gtm | eqm; m; m &= m - 1) {
                const int j = __builtin_ctz(m);
                if ((eqm >> j) & 1u) {
                    if (quota == 0) continue;
                    --quota;
                }
                col[o] = int32_t(i + j - s);
                vals[o] = x[i + j];
                ++o;
            }
        }
#endif
        for (; i < e; ++i) {
            const uint32_t k = key_of(x + i);
            const bool keep = k > T || (k == T && quota > 0);
            if (keep) {
                quota -= k == T;
                col[o] = int32_t(i - s);
                vals[o] = x[i];
                ++o;
            }
        }
    }
}

// y[0..len) += v * x[0..len): mul then add, the same rounding in every variant
inline void axpy(float* y, float v, const float* xs, int64_t len) {
    const F vv = set1(v);
    int64_t c = 0;
    for (; c + W <= len; c += W) store(y + c, add(load(y + c), mul(vv, load(xs + c))));
    for (; c < len; ++c) y[c] = y[c] + v * xs[c];
}

void conv_wgrad(const int64_t* rowptr, const int32_t* col, const float* vals, const float* dy, int64_t N,
                int64_t Cin, int64_t H, int64_t Wd, int64_t Cout, int64_t kh, int64_t kw, int64_t stride, int64_t pad,
                float* dyt, float* dwt, float* dw, int threads) {
    const int64_t Ho = (H + 2 * pad - kh) / stride + 1, Wo = (Wd + 2 * pad - kw) / stride + 1;
    const int64_t HoWo = Ho * Wo, taps = kh * kw;
    // dy (N, Cout, Ho, Wo) -> dyt (N, Ho, Wo, Cout): the axpys run over Cout, contiguous
#pragma omp parallel for num_threads(threads) schedule(static) collapse(2)
    for (int64_t nn = 0; nn < N; ++nn)
        for (int64_t q = 0; q < HoWo; ++q) {
            const float* src = dy + nn * Cout * HoWo + q;
            float* dst = dyt + (nn * HoWo + q) * Cout;
            for (int64_t co = 0; co < Cout; ++co) dst[co] = src[co * HoWo];
        }
    // dwt (Cin, kh, kw, Cout): each thread owns whole input channels (no reduction across threads)
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int64_t ci = 0; ci < Cin; ++ci) {
        float* acc = dwt + ci * taps * Cout;
        std::fill(acc, acc + taps * Cout, 0.0f);
        for (int64_t nn = 0; nn < N; ++nn) {
            const int64_t r = nn * Cin + ci;
            const float* dyn = dyt + nn * HoWo * Cout;
            for (int64_t e = rowptr[r]; e < rowptr[r + 1]; ++e) {
                const int64_t hw = col[e], h = hw / Wd, w = hw % Wd;
                const float v = vals[e];
                for (int64_t i = 0; i < kh; ++i) {
                    const int64_t th = h + pad - i;
                    if (th < 0 || th % stride) continue;
                    const int64_t ho = th / stride;
                    if (ho >= Ho) continue;
                    for (int64_t j = 0; j < kw; ++j) {
                        const int64_t tw = w + pad - j;
                        if (tw < 0 || tw % stride) continue;
                        const int64_t wo = tw / stride;
                        if (wo >= Wo) continue;
                        axpy(acc + (i * kw + j) * Cout, v, dyn + (ho * Wo + wo) * Cout, Cout);
                    }
                }
            }
        }
    }
    // dwt (Cin, taps, Cout) -> dw (Cout, Cin, taps)
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t co = 0; co < Cout; ++co)
        for (int64_t ci = 0; ci < Cin; ++ci)
            for (int64_t t = 0; t < taps; ++t) dw[(co * Cin + ci) * taps + t] = dwt[(ci * taps + t) * Cout + co];
}

void linear_wgrad(const int64_t* rowptr, const int32_t* col, const float* vals, const float* dy, int64_t B,
                  int64_t Cin, int64_t Cout, float* dwt, float* dw, int threads) {
    // dwt (Cin, Cout); threads own column ranges of Cout, every element summed over b ascending
    const int nt = std::max(1, threads);
    const int64_t step = std::max<int64_t>(W, ((Cout + nt - 1) / nt + W - 1) / W * W);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t c0 = 0; c0 < Cout; c0 += step) {
        const int64_t len = std::min(step, Cout - c0);
        for (int64_t ci = 0; ci < Cin; ++ci) std::fill(dwt + ci * Cout + c0, dwt + ci * Cout + c0 + len, 0.0f);
        for (int64_t b = 0; b < B; ++b)
            for (int64_t e = rowptr[b]; e < rowptr[b + 1]; ++e)
                axpy(dwt + int64_t(col[e]) * Cout + c0, vals[e], dy + b * Cout + c0, len);
    }
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t co = 0; co < Cout; ++co)
        for (int64_t ci = 0; ci < Cin; ++ci) dw[co * Cin + ci] = dwt[ci * Cout + co];
}

}  // namespace

extern const SwatKernels swat = {&histogram, &bracket, &row_counts, &row_fill, &conv_wgrad, &linear_wgrad};

}  // namespace sb::SB_ISA_NS
