// Compiled once per ISA (SB_ISA_NS names the namespace): see CMakeLists.txt.
#include <omp.h>

#include <algorithm>
#include <numeric>
#include <unordered_set>
#include <vector>

#include "../common/rng.hpp"
#include "../common/simd.hpp"
#include "mest.hpp"

namespace sb::SB_ISA_NS {
namespace {

using namespace simd;

void slot_scores(const float* w, const float* g, float lam, float* e, int64_t n, int threads) {
    constexpr int64_t kChunk = 1 << 14;
    const int64_t nchunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t c = 0; c < nchunks; ++c) {
        const int64_t s = c * kChunk, end = std::min(n, s + kChunk);
        int64_t i = s;
        if (g) {
            const F vl = set1(lam);
            for (; i + W <= end; i += W) store(e + i, add(abs(load(w + i)), mul(vl, abs(load(g + i)))));
            for (; i < end; ++i) e[i] = std::fabs(w[i]) + lam * std::fabs(g[i]);
        } else {
            for (; i + W <= end; i += W) store(e + i, abs(load(w + i)));
            for (; i < end; ++i) e[i] = std::fabs(w[i]);
        }
    }
}

void unit_scores(const float* e, int64_t n_units, int64_t per_unit, double* out) {
    if (per_unit == 1) {
        for (int64_t u = 0; u < n_units; ++u) out[u] = double(e[u]);
        return;
    }
    for (int64_t u = 0; u < n_units; ++u) {
        double acc = 0.0;
        const float* p = e + u * per_unit;
        for (int64_t j = 0; j < per_unit; ++j) acc += double(p[j]) * double(p[j]);
        out[u] = acc;
    }
}

void select_drop(const double* scores, const int64_t* ids, int64_t n, int64_t k, uint8_t* drop) {
    std::fill(drop, drop + n, uint8_t(0));
    if (k <= 0) return;
    std::vector<int64_t> idx(n);
    std::iota(idx.begin(), idx.end(), int64_t(0));
    auto less = [&](int64_t a, int64_t b) {
        return scores[a] < scores[b] || (scores[a] == scores[b] && ids[a] < ids[b]);
    };
    if (k < n) std::nth_element(idx.begin(), idx.begin() + k, idx.end(), less);
    for (int64_t i = 0; i < std::min(k, n); ++i) drop[idx[i]] = 1;
}

inline uint64_t hash64(uint64_t seed, uint64_t j) {
    const uint64_t a = 2 * j, b = 2 * j + 1;
    const uint64_t hi = rng::hash32(rng::chunk_key(seed, a), uint32_t(a));
    const uint64_t lo = rng::hash32(rng::chunk_key(seed, b), uint32_t(b));
    return (hi << 32) | lo;
}

int grow_units(const int64_t* kept, int64_t n_kept, int64_t n_units, int64_t k, uint64_t seed, int64_t* out) {
    if (k <= 0) return 0;
    const int64_t n_free = n_units - n_kept;
    std::vector<int64_t> ranks;
    ranks.reserve(size_t(k));
    if (2 * k > n_free) {  // dense regime: the first k free ranks of a permutation keyed by hash64
        std::vector<std::pair<uint64_t, int64_t>> keyed(static_cast<size_t>(n_free));
        for (int64_t r = 0; r < n_free; ++r) keyed[size_t(r)] = {hash64(seed, uint64_t(r)), r};
        std::partial_sort(keyed.begin(), keyed.begin() + k, keyed.end());
        for (int64_t i = 0; i < k; ++i) ranks.push_back(keyed[size_t(i)].second);
    } else {  // sparse regime: sequential draws, first occurrences kept
        std::unordered_set<int64_t> seen;
        seen.reserve(size_t(2 * k));
        const uint64_t bound = uint64_t(64) * uint64_t(k) + 64;
        for (uint64_t j = 0; int64_t(ranks.size()) < k; ++j) {
            if (j >= bound) return -1;
            const int64_t r = int64_t(hash64(seed, j) % uint64_t(n_free));
            if (seen.insert(r).second) ranks.push_back(r);
        }
    }
    // rank r -> the r-th unit not kept: kept_sorted[i] has kept_sorted[i] - i free units before it
    std::vector<int64_t> ks(kept, kept + n_kept);
    std::sort(ks.begin(), ks.end());
    for (int64_t i = 0; i < n_kept; ++i) ks[size_t(i)] -= i;
    for (int64_t i = 0; i < k; ++i) {
        const int64_t r = ranks[size_t(i)];
        out[i] = r + int64_t(std::upper_bound(ks.begin(), ks.end(), r) - ks.begin());
    }
    return 0;
}

void csr_rebuild(const int32_t* row_ptr, const int32_t* col, const float* values, const uint8_t* drop, int64_t rows,
                 int64_t K, const int64_t* grown, int64_t n_grown, int32_t* new_row_ptr, int32_t* new_col,
                 float* new_values, int64_t* src) {
    int64_t o = 0, g = 0;
    new_row_ptr[0] = 0;
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t row_end = (r + 1) * K;
        for (int64_t i = row_ptr[r]; i < row_ptr[r + 1]; ++i) {
            const int64_t pos = r * K + col[i];
            for (; g < n_grown && grown[g] < pos; ++g, ++o) {
                new_col[o] = int32_t(grown[g] - r * K);
                new_values[o] = 0.0f;
                src[o] = -1;
            }
            if (drop[i]) continue;
            new_col[o] = col[i];
            new_values[o] = values[i];
            src[o] = i;
            ++o;
        }
        for (; g < n_grown && grown[g] < row_end; ++g, ++o) {
            new_col[o] = int32_t(grown[g] - r * K);
            new_values[o] = 0.0f;
            src[o] = -1;
        }
        new_row_ptr[r + 1] = int32_t(o);
    }
}

}  // namespace

extern const MestKernels mest = {&slot_scores, &unit_scores, &select_drop, &grow_units, &csr_rebuild};

}  // namespace sb::SB_ISA_NS
