// SWAT selection planning, compiled once: exact k-th largest |x| by a sampled bracket (one
// streaming pass plus a selection among the few candidates) or, when the bracket misses or the
// tensor is small, a three-pass radix select on the 31-bit key (11 + 10 + 10 bits).
// Every count is an exact integer, so the result never depends on the thread count.
#include "swat.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace sb {
namespace {

// walk bins from the top: the bin holding the k-th largest; *above = elements in higher bins
int64_t find_bin(const std::vector<int64_t>& h, int64_t k, int64_t* above) {
    int64_t cum = 0;
    for (int64_t b = int64_t(h.size()) - 1; b >= 0; --b) {
        if (cum + h[size_t(b)] >= k) {
            *above = cum;
            return b;
        }
        cum += h[size_t(b)];
    }
    throw std::logic_error("swat select: histogram holds fewer than k elements");
}

Selection radix(const SwatKernels& K, const float* x, int64_t n, int64_t k, int threads) {
    std::vector<int64_t> h1(2048), h2(1024), h3(1024);
    const int64_t nan = K.histogram(x, n, 20, 2048, 31, 0, h1.data(), threads);
    if (nan) throw NanError("contains " + std::to_string(nan) + " NaN value(s)");
    int64_t a1, a2, a3;
    const uint32_t b1 = uint32_t(find_bin(h1, k, &a1));
    K.histogram(x, n, 10, 1024, 20, b1, h2.data(), threads);
    const uint32_t b2 = uint32_t(find_bin(h2, k - a1, &a2));
    K.histogram(x, n, 0, 1024, 10, (b1 << 10) | b2, h3.data(), threads);
    const uint32_t b3 = uint32_t(find_bin(h3, k - a1 - a2, &a3));
    Selection s;
    s.key = (b1 << 20) | (b2 << 10) | b3;
    s.n_gt = a1 + a2 + a3;
    s.n_eq = h3[b3];
    s.need_eq = k - s.n_gt;
    s.passes = 3;
    return s;
}

constexpr int64_t kSample = 1 << 16;
constexpr int64_t kSampleMinN = int64_t(1) << 19;

inline uint32_t key_at(const float* x, int64_t i) {
    uint32_t u;
    std::memcpy(&u, x + i, 4);
    return u & kAbsMask;
}

// false when the sampled bracket missed the k-th largest (the caller falls back to radix)
bool sampled(const SwatKernels& K, const float* x, int64_t n, int64_t k, int threads, Selection* out) {
    const int64_t m = kSample;
    std::vector<uint32_t> s(static_cast<size_t>(m));
    for (int64_t j = 0; j < m; ++j) s[size_t(j)] = key_at(x, (j * n) / m + n / (2 * m));  // fixed positions
    // descending rank r of the k-th largest in the sample, bracket r -/+ 4 binomial sd + 16
    const double p = double(k) / double(n);
    const int64_t r = std::min<int64_t>(m - 1, int64_t(p * double(m)));
    const int64_t d = int64_t(4.0 * std::sqrt(double(m) * p * (1.0 - p))) + 16;
    uint32_t hi = kInfKey, lo = 0;
    if (r - d >= 0) {
        std::nth_element(s.begin(), s.begin() + (r - d), s.end(), std::greater<uint32_t>());
        hi = std::min(s[size_t(r - d)], kInfKey);
    }
    if (r + d < m) {
        std::nth_element(s.begin(), s.begin() + (r + d), s.end(), std::greater<uint32_t>());
        lo = std::min(s[size_t(r + d)], kInfKey);
    }
    if (hi == kInfKey) hi = kInfKey;  // no upper end: everything finite counts as a candidate
    if (lo > hi) return false;
    const int64_t expect = int64_t(double(n) * double(2 * d + 1) / double(m));
    const int64_t cap = std::min(n, 4 * expect + 4096);
    std::vector<uint32_t> cand(static_cast<size_t>(cap));
    int64_t n_hi = 0, n_nan = 0;
    const int64_t nc = K.bracket(x, n, lo, hi, cand.data(), cap, &n_hi, &n_nan, threads);
    if (n_nan) throw NanError("contains " + std::to_string(n_nan) + " NaN value(s)");
    if (nc < 0 || n_hi >= k || n_hi + nc < k) return false;
    const int64_t need = k - n_hi;  // the need-th largest candidate
    std::nth_element(cand.begin(), cand.begin() + (need - 1), cand.begin() + nc, std::greater<uint32_t>());
    const uint32_t T = cand[size_t(need - 1)];
    int64_t gt = 0, eq = 0;
    for (int64_t i = 0; i < nc; ++i) {
        gt += cand[size_t(i)] > T;
        eq += cand[size_t(i)] == T;
    }
    out->key = T;
    out->n_gt = n_hi + gt;
    out->n_eq = eq;
    out->need_eq = k - out->n_gt;
    out->passes = 1;
    return true;
}

}  // namespace

Selection select_kth(Isa isa, const float* x, int64_t n, int64_t k, const char* method, int threads) {
    if (k < 1 || k > n) throw std::invalid_argument("k must be in [1, numel]");
    const std::string m(method);
    if (m != "auto" && m != "radix" && m != "sample")
        throw std::invalid_argument("method must be 'auto', 'radix' or 'sample', got '" + m + "'");
    const SwatKernels& K = swat_for(isa);
    if (m != "radix" && (m == "sample" || n >= kSampleMinN)) {
        Selection s;
        if (n >= kSample) {
            if (sampled(K, x, n, k, threads, &s)) return s;
            Selection r = radix(K, x, n, k, threads);  // the bracket missed: its pass is paid too
            r.passes += 1;
            return r;
        }
    }
    return radix(K, x, n, k, threads);
}

}  // namespace sb
