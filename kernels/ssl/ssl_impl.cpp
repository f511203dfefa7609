// Compiled once per ISA (SB_ISA_NS names the namespace): see CMakeLists.txt.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "../common/simd.hpp"
#include "ssl.hpp"

namespace sb::SB_ISA_NS {
namespace {

using namespace simd;

void row_sumsq(const float* w, int64_t R, int64_t K, float* out, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < R; ++r) {
        const float* p = w + r * K;
        F acc = zero();
        int64_t j = 0;
        for (; j + W <= K; j += W) {
            const F v = load(p + j);
            acc = fmadd(v, v, acc);
        }
        float s = hsum(acc);
        for (; j < K; ++j) s += p[j] * p[j];
        out[r] = s;
    }
}

// Columns in chunks that stay in L1 while every row streams through; threads own whole chunks.
constexpr int64_t kColChunk = 512;

void col_sumsq(const float* w, int64_t R, int64_t K, const float* rw, float* out, int threads) {
    const int64_t nchunks = (K + kColChunk - 1) / kColChunk;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t c = 0; c < nchunks; ++c) {
        const int64_t s = c * kColChunk, e = std::min(K, s + kColChunk);
        float* o = out + s;
        std::memset(o, 0, sizeof(float) * size_t(e - s));
        for (int64_t r = 0; r < R; ++r) {
            const float* p = w + r * K;
            const float f = rw ? rw[r] : 1.0f;
            const F vf = set1(f);
            int64_t j = s;
            for (; j + W <= e; j += W) {
                const F v = load(p + j);
                store(o + (j - s), fmadd(mul(vf, v), v, load(o + (j - s))));
            }
            for (; j < e; ++j) o[j - s] += (f * p[j]) * p[j];
        }
    }
}

void scale_zero(float* w, int64_t R, int64_t K, const float* rs, const float* cs, float thr, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < R; ++r) {
        float* p = w + r * K;
        const float f = rs ? rs[r] : 1.0f;
        const F vf = set1(f), vt = set1(thr), z = zero();
        int64_t j = 0;
        for (; j + W <= K; j += W) {
            F v = mul(load(p + j), vf);
            if (cs) v = mul(v, load(cs + j));
            store(p + j, select(cmp_ge(abs(v), vt), v, z));
        }
        for (; j < K; ++j) {
            float v = p[j] * f;
            if (cs) v = v * cs[j];
            p[j] = std::fabs(v) >= thr ? v : 0.0f;
        }
    }
}

void add_subgrad(const float* w, float* g, int64_t R, int64_t K, const float* ra, const float* ca, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < R; ++r) {
        const float* p = w + r * K;
        float* q = g + r * K;
        const F va = set1(ra[r]);
        int64_t j = 0;
        for (; j + W <= K; j += W) store(q + j, add(load(q + j), mul(load(p + j), add(va, load(ca + j)))));
        for (; j < K; ++j) q[j] = q[j] + p[j] * (ra[r] + ca[j]);
    }
}

void gather_cols(const float* x, int64_t N, int64_t C, int64_t H, int64_t Wd, int64_t kh, int64_t kw,
                 int64_t stride, int64_t pad, int64_t Ho, int64_t Wo, const int32_t* cols, int64_t nc, float* out,
                 int threads) {
    const int64_t P = Ho * Wo, taps = kh * kw;
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static)
    for (int64_t n = 0; n < N; ++n) {
        for (int64_t i = 0; i < nc; ++i) {
            const int64_t col = cols[i], c = col / taps, t = col % taps, ki = t / kw, kj = t % kw;
            const float* plane = x + (n * C + c) * H * Wd;
            float* o = out + (n * nc + i) * P;
            // output columns wo whose input column wi = wo * stride - pad + kj is inside [0, Wd)
            const int64_t wlo = std::min(Wo, std::max<int64_t>(0, (pad - kj + stride - 1) / stride));
            const int64_t last = Wd - 1 + pad - kj;  // wo * stride <= last
            const int64_t whi = last < 0 ? wlo : std::max(wlo, std::min(Wo, last / stride + 1));
            for (int64_t ho = 0; ho < Ho; ++ho) {
                float* orow = o + ho * Wo;
                const int64_t hi = ho * stride - pad + ki;
                if (hi < 0 || hi >= H) {
                    std::memset(orow, 0, sizeof(float) * size_t(Wo));
                    continue;
                }
                const float* xrow = plane + hi * Wd + (wlo * stride - pad + kj);
                for (int64_t wo = 0; wo < wlo; ++wo) orow[wo] = 0.0f;
                if (stride == 1) {
                    std::memcpy(orow + wlo, xrow, sizeof(float) * size_t(whi - wlo));
                } else {
                    for (int64_t wo = wlo; wo < whi; ++wo) orow[wo] = xrow[(wo - wlo) * stride];
                }
                for (int64_t wo = whi; wo < Wo; ++wo) orow[wo] = 0.0f;
            }
        }
    }
}

}  // namespace

extern const SslKernels ssl = {&row_sumsq, &col_sumsq, &scale_zero, &add_subgrad, &gather_cols};

}  // namespace sb::SB_ISA_NS
