// SSL entry points: norms -> per-group scales (O(R + K) work, compiled once) around the per-ISA
// passes of ssl_impl.cpp. Scratch: O(R + K) vectors of scales.
#include "ssl.hpp"

#include <cmath>
#include <vector>



namespace sb {
namespace {

// max(0, 1 - step / ||w_g||), 0 for an all-zero group
inline float shrink(float sumsq, float step) {
    const float norm = std::sqrt(sumsq);
    if (!(norm > 0.0f)) return 0.0f;
    const float s = 1.0f - step / norm;
    return s > 0.0f ? s : 0.0f;
}

inline float inv_norm(float sumsq, float lam) {
    const float norm = std::sqrt(sumsq);
    return norm > 0.0f ? lam / norm : 0.0f;
}

}  // namespace

void ssl_prox(Isa isa, float* w, int64_t R, int64_t K, int64_t taps, float lr, const SslLambdas& lam,
              float zero_below, int threads) {
    const SslKernels& k = ssl_for(isa);
    if (R == 0 || K == 0) return;
    std::vector<float> rs(size_t(R), 1.0f), rs2(size_t(R), 1.0f), colsq(size_t(K), 0.0f), cs(size_t(K), 1.0f);
    if (lam.rows > 0) {
        k.row_sumsq(w, R, K, rs.data(), threads);
        for (int64_t r = 0; r < R; ++r) {
            rs[r] = shrink(rs[r], lr * lam.rows);
            rs2[r] = rs[r] * rs[r];
        }
    }
    // column sums of squares of the row-scaled weight; every later kind only rescales columns
    k.col_sumsq(w, R, K, lam.rows > 0 ? rs2.data() : nullptr, colsq.data(), threads);
    if (lam.cols > 0)
        for (int64_t j = 0; j < K; ++j) {
            cs[j] = shrink(colsq[j], lr * lam.cols);
            colsq[j] *= cs[j] * cs[j];
        }
    if (lam.chans > 0)
        for (int64_t c0 = 0; c0 < K; c0 += taps) {
            float s = 0.0f;
            for (int64_t t = 0; t < taps; ++t) s += colsq[c0 + t];
            const float f = shrink(s, lr * lam.chans);
            for (int64_t t = 0; t < taps; ++t) {
                cs[c0 + t] *= f;
                colsq[c0 + t] *= f * f;
            }
        }
    if (lam.depth > 0) {
        float s = 0.0f;
        for (int64_t j = 0; j < K; ++j) s += colsq[j];
        const float f = shrink(s, lr * lam.depth);
        for (int64_t j = 0; j < K; ++j) cs[j] *= f;
    }
    k.scale_zero(w, R, K, lam.rows > 0 ? rs.data() : nullptr, cs.data(), zero_below, threads);
}

void ssl_subgrad(Isa isa, const float* w, float* g, int64_t R, int64_t K, int64_t taps, const SslLambdas& lam,
                 int threads) {
    const SslKernels& k = ssl_for(isa);
    if (R == 0 || K == 0) return;
    std::vector<float> ra(size_t(R), 0.0f), colsq(size_t(K), 0.0f), ca(size_t(K), 0.0f);
    if (lam.rows > 0) {
        k.row_sumsq(w, R, K, ra.data(), threads);
        for (int64_t r = 0; r < R; ++r) ra[r] = inv_norm(ra[r], lam.rows);
    }
    k.col_sumsq(w, R, K, nullptr, colsq.data(), threads);
    float total = 0.0f;
    for (int64_t c0 = 0; c0 < K; c0 += taps) {
        float s = 0.0f;
        for (int64_t t = 0; t < taps; ++t) s += colsq[c0 + t];
        total += s;
        const float fc = lam.chans > 0 ? inv_norm(s, lam.chans) : 0.0f;
        for (int64_t t = 0; t < taps; ++t)
            ca[c0 + t] = (lam.cols > 0 ? inv_norm(colsq[c0 + t], lam.cols) : 0.0f) + fc;
    }
    if (lam.depth > 0) {
        const float fd = inv_norm(total, lam.depth);
        for (int64_t j = 0; j < K; ++j) ca[j] += fd;
    }
    k.add_subgrad(w, g, R, K, ra.data(), ca.data(), threads);
}

void ssl_group_norms(Isa isa, const float* w, int64_t R, int64_t K, int64_t taps, int kind, float* out, int threads) {
    const SslKernels& k = ssl_for(isa);
    if (kind == 0) {
        k.row_sumsq(w, R, K, out, threads);
        for (int64_t r = 0; r < R; ++r) out[r] = std::sqrt(out[r]);
        return;
    }
    std::vector<float> colsq(size_t(K), 0.0f);
    if (R > 0 && K > 0) k.col_sumsq(w, R, K, nullptr, colsq.data(), threads);
    if (kind == 1) {
        for (int64_t j = 0; j < K; ++j) out[j] = std::sqrt(colsq[j]);
        return;
    }
    float total = 0.0f;
    for (int64_t c0 = 0, c = 0; c0 < K; c0 += taps, ++c) {
        float s = 0.0f;
        for (int64_t t = 0; t < taps; ++t) s += colsq[c0 + t];
        total += s;
        if (kind == 2) out[c] = std::sqrt(s);
    }
    if (kind == 3) out[0] = std::sqrt(total);
}

}  // namespace sb
