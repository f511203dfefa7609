// Compiled once per ISA (SB_ISA_NS names the namespace): see CMakeLists.txt.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <utility>
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

// --- selection: exact radix threshold, no index buffer ------------------------------------------

// Order-preserving unsigned keys (x < y  <=>  key(x) < key(y); -0 and +0 share one key).
inline uint64_t key_of(float x) {
    if (x == 0.0f) x = 0.0f;
    uint32_t u;
    std::memcpy(&u, &x, 4);
    return (u & 0x80000000u) ? uint64_t(~u) : uint64_t(u | 0x80000000u);
}
inline uint64_t key_of(double x) {
    if (x == 0.0) x = 0.0;
    uint64_t u;
    std::memcpy(&u, &x, 8);
    return (u >> 63) ? ~u : (u | (uint64_t(1) << 63));
}
inline uint64_t key_of(int64_t v) { return uint64_t(v) ^ (uint64_t(1) << 63); }
inline uint64_t key_of(int32_t v) { return uint64_t(uint32_t(v) ^ 0x80000000u); }

// The k-th smallest (1-based, 1 <= k <= #{i : pred(i)}) of key(i) over the i with pred(i), keys of
// ``bits`` significant bits (a multiple of 16), by 16-bit digits from the top. *less: how many keys
// are below it, *equal: how many equal it.
template <class Key, class Pred>
uint64_t radix_kth(int64_t n, int bits, int64_t k, Key key, Pred pred, int64_t* less, int64_t* equal) {
    std::vector<int64_t> hist(size_t(1) << 16);
    uint64_t prefix = 0;
    int64_t lt = 0, eq = 0;
    for (int shift = bits - 16; shift >= 0; shift -= 16) {
        std::fill(hist.begin(), hist.end(), int64_t(0));
        const uint64_t hi = shift + 16 >= 64 ? uint64_t(0) : (~uint64_t(0) << (shift + 16));
        for (int64_t i = 0; i < n; ++i) {
            if (!pred(i)) continue;
            const uint64_t kk = key(i);
            if ((kk & hi) == prefix) ++hist[size_t((kk >> shift) & 0xFFFF)];
        }
        int64_t acc = 0;
        size_t b = 0;
        for (; b < hist.size(); ++b) {
            if (acc + hist[b] >= k) break;
            acc += hist[b];
        }
        k -= acc;
        lt += acc;
        eq = hist[b];
        prefix |= uint64_t(b) << shift;
    }
    *less = lt;
    *equal = eq;
    return prefix;
}

constexpr int64_t kSmallSelect = 4096;  // up to this many units: an index buffer of <= 32 KiB

template <class SKey, class IKey>
void select_by_keys(int64_t n, int64_t k, int sbits, SKey skey, bool has_ids, IKey ikey, int ibits, uint8_t* drop) {
    std::fill(drop, drop + n, uint8_t(0));
    if (k <= 0) return;
    if (k >= n) {
        std::fill(drop, drop + n, uint8_t(1));
        return;
    }
    if (n <= kSmallSelect) {  // a few units: nth_element on an index buffer beats 16-bit histograms
        std::vector<int64_t> idx(static_cast<size_t>(n));
        std::iota(idx.begin(), idx.end(), int64_t(0));
        auto less = [&](int64_t a, int64_t b) {
            const uint64_t sa = skey(a), sb = skey(b);
            if (sa != sb) return sa < sb;
            if (has_ids) {
                const uint64_t ia = ikey(a), ib = ikey(b);
                if (ia != ib) return ia < ib;
            }
            return a < b;
        };
        std::nth_element(idx.begin(), idx.begin() + k, idx.end(), less);
        for (int64_t i = 0; i < k; ++i) drop[idx[size_t(i)]] = 1;
        return;
    }
    int64_t lt = 0, eq = 0;
    const uint64_t t = radix_kth(n, sbits, k, skey, [](int64_t) { return true; }, &lt, &eq);
    int64_t need = k - lt;  // of the eq units scored t, the need lowest (id, slot)
    uint64_t tid = ~uint64_t(0);
    bool by_id = has_ids && need < eq;
    if (by_id) {
        int64_t lt2 = 0, eq2 = 0;
        tid = radix_kth(n, ibits, need, ikey, [&](int64_t i) { return skey(i) == t; }, &lt2, &eq2);
        need -= lt2;  // of the units scored t with id tid, the first need (slot order)
    }
    int64_t taken = 0;
    for (int64_t i = 0; i < n; ++i) {
        const uint64_t kk = skey(i);
        if (kk < t) {
            drop[i] = 1;
        } else if (kk == t) {
            if (by_id) {
                const uint64_t id = ikey(i);
                if (id < tid) {
                    drop[i] = 1;
                } else if (id == tid && taken < need) {
                    drop[i] = 1;
                    ++taken;
                }
            } else if (taken < need) {
                drop[i] = 1;
                ++taken;
            }
        }
    }
}

template <class S>
void select_scored(const S* s, const int64_t* ids64, const int32_t* ids32, int64_t n, int64_t k, uint8_t* drop) {
    const int sbits = sizeof(S) == 4 ? 32 : 64;
    auto skey = [s](int64_t i) { return key_of(s[i]); };
    if (ids64)
        select_by_keys(n, k, sbits, skey, true, [ids64](int64_t i) { return key_of(ids64[i]); }, 64, drop);
    else if (ids32)
        select_by_keys(n, k, sbits, skey, true, [ids32](int64_t i) { return key_of(ids32[i]); }, 32, drop);
    else
        select_by_keys(n, k, sbits, skey, false, [](int64_t) { return uint64_t(0); }, 16, drop);
}

void select_drop(const float* s32, const double* s64, const int64_t* ids64, const int32_t* ids32, int64_t n,
                 int64_t k, uint8_t* drop) {
    if (s32)
        select_scored(s32, ids64, ids32, n, k, drop);
    else
        select_scored(s64, ids64, ids32, n, k, drop);
}

// --- growth ---------------------------------------------------------------------------------

inline uint64_t hash64(uint64_t seed, uint64_t j) {
    const uint64_t a = 2 * j, b = 2 * j + 1;
    const uint64_t hi = rng::hash32(rng::chunk_key(seed, a), uint32_t(a));
    const uint64_t lo = rng::hash32(rng::chunk_key(seed, b), uint32_t(b));
    return (hi << 32) | lo;
}

// The set of values already drawn from [0, n): a bitmap over [0, n) or an open-addressing table
// sized for k entries, whichever is smaller.
class Seen {
   public:
    // k: how many values will be inserted at most; bitmap_only: always the bitmap
    Seen(int64_t n, int64_t k, bool bitmap_only = false) {
        size_t cap = 16;
        while (cap < size_t(2 * k)) cap <<= 1;  // load factor <= 1/2
        const uint64_t bitmap_bytes = uint64_t((n + 63) / 64) * 8;
        bitmap_ = bitmap_only || bitmap_bytes <= uint64_t(cap) * 8;
        if (bitmap_) {
            bits_.assign(size_t((n + 63) / 64), uint64_t(0));
        } else {
            table_.assign(cap, int64_t(-1));
            mask_ = cap - 1;
        }
    }
    bool insert(int64_t r) {  // true if r was not seen before
        if (bitmap_) {
            uint64_t& w = bits_[size_t(r >> 6)];
            const uint64_t b = uint64_t(1) << (r & 63);
            if (w & b) return false;
            w |= b;
            return true;
        }
        size_t h = size_t((uint64_t(r) * 0x9E3779B97F4A7C15ull) >> 20) & mask_;
        for (;; h = (h + 1) & mask_) {
            if (table_[h] == r) return false;
            if (table_[h] < 0) {
                table_[h] = r;
                return true;
            }
        }
    }
    bool bitmap() const { return bitmap_; }
    std::vector<uint64_t> take_bits() { return std::move(bits_); }

   private:
    bool bitmap_ = true;
    std::vector<uint64_t> bits_;
    std::vector<int64_t> table_;
    size_t mask_ = 0;
};

// k distinct draws hash64(seed, j) mod n (j = 0, 1, ...; repeats skipped), each passed to emit in
// draw order; ``seen`` holds them afterwards. false if the draw bound was hit.
template <class Emit>
bool draw_distinct(int64_t n, int64_t k, uint64_t seed, Seen& seen, Emit emit) {
    const uint64_t bound = uint64_t(64) * uint64_t(k) + 64;
    int64_t got = 0;
    for (uint64_t j = 0; got < k; ++j) {
        if (j >= bound) return false;
        const int64_t r = int64_t(hash64(seed, j) % uint64_t(n));
        if (seen.insert(r)) {
            emit(r);
            ++got;
        }
    }
    return true;
}

// k distinct ranks in [0, n_free) in draw order (see reference.free_rank_draws).
bool free_ranks(int64_t n_free, int64_t k, uint64_t seed, std::vector<int64_t>& ranks) {
    ranks.clear();
    ranks.reserve(size_t(k));
    if (2 * k > n_free) {  // dense regime: the first k free ranks of a permutation keyed by hash64
        std::vector<std::pair<uint64_t, int64_t>> keyed(static_cast<size_t>(n_free));
        for (int64_t r = 0; r < n_free; ++r) keyed[size_t(r)] = {hash64(seed, uint64_t(r)), r};
        std::partial_sort(keyed.begin(), keyed.begin() + k, keyed.end());
        for (int64_t i = 0; i < k; ++i) ranks.push_back(keyed[size_t(i)].second);
        return true;
    }
    Seen seen(n_free, k);  // sparse regime: sequential draws, first occurrences kept
    return draw_distinct(n_free, k, seed, seen, [&](int64_t r) { ranks.push_back(r); });
}

// out[i] = the ranks[i]-th unit not kept, the kept ids given in ascending order by kept_at(j),
// j = 0 .. n_kept-1 (called with nondecreasing j): a merge of the sorted ranks with the kept ids
// (kept_at(j) - j free units lie before the j-th kept one).
template <class KeptAt>
void map_ranks(const std::vector<int64_t>& ranks, int64_t n_kept, KeptAt kept_at, int64_t* out) {
    const int64_t k = int64_t(ranks.size());
    std::vector<int64_t> order(static_cast<size_t>(k));
    std::iota(order.begin(), order.end(), int64_t(0));
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return ranks[size_t(a)] < ranks[size_t(b)]; });
    int64_t j = 0;
    for (int64_t o : order) {
        const int64_t r = ranks[size_t(o)];
        while (j < n_kept && kept_at(j) - j <= r) ++j;
        out[o] = r + j;
    }
}

int grow_units(const int64_t* kept, int64_t n_kept, int64_t n_units, int64_t k, uint64_t seed, int64_t* out) {
    if (k <= 0) return 0;
    std::vector<int64_t> ranks;
    if (!free_ranks(n_units - n_kept, k, seed, ranks)) return -1;
    bool sorted = true;
    for (int64_t i = 1; i < n_kept && sorted; ++i) sorted = kept[i - 1] < kept[i];
    if (sorted) {
        map_ranks(ranks, n_kept, [kept](int64_t j) { return kept[j]; }, out);
    } else {  // one sorted copy of an unsorted list
        std::vector<int64_t> ks(kept, kept + n_kept);
        std::sort(ks.begin(), ks.end());
        map_ranks(ranks, n_kept, [&ks](int64_t j) { return ks[size_t(j)]; }, out);
    }
    return 0;
}

int grow_csr(const int32_t* row_ptr, const int32_t* col, int64_t rows, int64_t K, int64_t k, uint64_t seed,
             int64_t* out) {
    if (k <= 0) return 0;
    const int64_t nnz = rows ? int64_t(row_ptr[rows]) : 0;
    std::vector<int64_t> ranks;
    if (!free_ranks(rows * K - nnz, k, seed, ranks)) return -1;
    int64_t r = 0;  // row of slot j (j nondecreasing)
    map_ranks(ranks, nnz, [&](int64_t j) {
        while (int64_t(row_ptr[r + 1]) <= j) ++r;
        return r * K + int64_t(col[j]);
    }, out);
    return 0;
}

int random_csr(int64_t rows, int64_t K, int64_t nnz, uint64_t seed, int32_t* row_ptr, int32_t* col) {
    const int64_t n = rows * K;
    const bool complement = !(2 * nnz < n);  // draw the zeros
    const int64_t k = complement ? n - nnz : nnz;
    std::vector<uint64_t> bits(size_t((n + 63) / 64), uint64_t(0));
    if (k > 0) {
        Seen seen(n, k, true);  // a bitmap over [0, n): its bits are the mask
        if (!draw_distinct(n, k, seed, seen, [](int64_t) {})) return -1;
        bits = seen.take_bits();
    }
    int64_t o = 0, r = 0;
    row_ptr[0] = 0;
    for (size_t w = 0; w < bits.size(); ++w) {
        uint64_t x = complement ? ~bits[w] : bits[w];
        const int64_t base = int64_t(w) * 64;
        if (base + 64 > n) x &= (uint64_t(1) << (n - base)) - 1;  // n - base in [1, 63] here
        while (x) {
            const int64_t p = base + __builtin_ctzll(x);
            x &= x - 1;
            while (p >= (r + 1) * K) row_ptr[++r] = int32_t(o);
            col[o++] = int32_t(p - r * K);
        }
    }
    while (r < rows) row_ptr[++r] = int32_t(o);
    return 0;
}

void csr_rebuild(const int32_t* row_ptr, const int32_t* col, const float* values, const uint8_t* drop, int64_t rows,
                 int64_t K, const int64_t* grown, int64_t n_grown, int64_t width, int32_t* new_row_ptr,
                 int32_t* new_col, float* new_values, int64_t* src, int n_states, const float* const* states,
                 float* const* new_states) {
    int64_t o = 0, g = 0;
    new_row_ptr[0] = 0;
    auto put_grown = [&](int64_t r) {
        new_col[o] = int32_t(grown[g] - r * K);
        std::fill(new_values + o * width, new_values + (o + 1) * width, 0.0f);
        if (src) src[o] = -1;
        for (int s = 0; s < n_states; ++s) std::fill(new_states[s] + o * width, new_states[s] + (o + 1) * width, 0.0f);
        ++g;
        ++o;
    };
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t row_end = (r + 1) * K;
        for (int64_t i = row_ptr[r]; i < row_ptr[r + 1]; ++i) {
            const int64_t pos = r * K + col[i];
            while (g < n_grown && grown[g] < pos) put_grown(r);
            if (drop[i]) continue;
            new_col[o] = col[i];
            std::copy(values + i * width, values + (i + 1) * width, new_values + o * width);
            if (src) src[o] = i;
            for (int s = 0; s < n_states; ++s)
                std::copy(states[s] + i * width, states[s] + (i + 1) * width, new_states[s] + o * width);
            ++o;
        }
        while (g < n_grown && grown[g] < row_end) put_grown(r);
        new_row_ptr[r + 1] = int32_t(o);
    }
}

}  // namespace

extern const MestKernels mest = {&slot_scores, &unit_scores, &select_drop, &grow_units,
                                 &grow_csr,    &random_csr,  &csr_rebuild};

}  // namespace sb::SB_ISA_NS
