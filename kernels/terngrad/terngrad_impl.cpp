// Compiled once per ISA (SB_ISA_NS names the namespace): see CMakeLists.txt.
#include <omp.h>

#include <algorithm>
#include <array>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "../common/rng.hpp"
#include "../common/simd.hpp"
#include "terngrad.hpp"

namespace sb::SB_ISA_NS {
namespace {

using namespace simd;

// --- scaler statistics: fixed block / lane order ------------------------------------------------

// max |g| over the finite values and the count of NaN / Inf (max is order-free: exact anywhere).
void block_max(const float* g, int64_t n, float* m_out, int64_t* bad_out) {
    const F big = set1(FLT_MAX);
    F mv = zero();
    int64_t bad = 0;
    int64_t i = 0;
    for (; i + W <= n; i += W) {
        const F a = abs(load(g + i));
        const M fin = cmp_ge(big, a);  // false for NaN and +-Inf
        bad += W - __builtin_popcount(mbits(fin));
        mv = max(select(fin, a, zero()), mv);
    }
    float m = hmax(mv);
    for (; i < n; ++i) {
        const float a = std::fabs(g[i]);
        if (!(a <= FLT_MAX)) ++bad;
        else m = a > m ? a : m;
    }
    *m_out = m;
    *bad_out = bad;
}

TernStats block_max_only(const float* g, int64_t n) {
    TernStats st;
    block_max(g, n, &st.maxabs, &st.nonfinite);
    return st;
}

TernStats block_stats(const float* g, int64_t n) {
    double s[8] = {0, 0, 0, 0, 0, 0, 0, 0}, q[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    float m = 0.0f;
    int64_t bad = 0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; ++l) {  // element j goes to lane j % 8, in order
            const double x = g[i + l];
            s[l] += x;
            q[l] += x * x;
        }
    for (; i < n; ++i) {
        const double x = g[i];
        s[i % 8] += x;
        q[i % 8] += x * x;
    }
    block_max(g, n, &m, &bad);
    TernStats st;
    st.sum = s[0];
    st.sumsq = q[0];
    for (int l = 1; l < 8; ++l) {
        st.sum += s[l];
        st.sumsq += q[l];
    }
    st.maxabs = m;
    st.nonfinite = bad;
    return st;
}

TernStats stats(const float* g, int64_t n, bool sums, int threads) {
    const int64_t nb = (n + kTernBlock - 1) / kTernBlock;
    std::vector<TernStats> part(static_cast<size_t>(nb));
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t b = 0; b < nb; ++b) {
        const float* gb = g + b * kTernBlock;
        const int64_t nn = std::min(kTernBlock, n - b * kTernBlock);
        part[b] = sums ? block_stats(gb, nn) : block_max_only(gb, nn);
    }
    TernStats t;
    for (const TernStats& p : part) {  // block order: the thread split never changes the result
        t.sum += p.sum;
        t.sumsq += p.sumsq;
        t.maxabs = p.maxabs > t.maxabs ? p.maxabs : t.maxabs;
        t.nonfinite += p.nonfinite;
    }
    return t;
}

// Same operation order as reference.scaler (float64, then one rounding to float32).
float scaler(const TernStats& st, int64_t n, int mode, double c) {
    if (mode == 0 || n == 0) return st.maxabs;
    const double mean = st.sum / double(n);
    double var = st.sumsq / double(n) - mean * mean;
    if (var < 0.0) var = 0.0;
    float s = static_cast<float>(c * std::sqrt(var));
    if (!(s > 0.0f) || s > st.maxabs) s = st.maxabs;
    return s;
}

// --- ternarize + pack -----------------------------------------------------------------------------

// bit j of b -> bit 2j: the 2-bit code layout of 8 elements in 16 bits.
constexpr std::array<uint16_t, 256> make_spread() {
    std::array<uint16_t, 256> t{};
    for (int b = 0; b < 256; ++b) {
        uint16_t v = 0;
        for (int j = 0; j < 8; ++j) v = uint16_t(v | (((b >> j) & 1) << (2 * j)));
        t[size_t(b)] = v;
    }
    return t;
}
constexpr std::array<uint16_t, 256> kSpread = make_spread();

inline uint32_t spread16(uint32_t b) { return uint32_t(kSpread[b & 255u]) | (uint32_t(kSpread[(b >> 8) & 255u]) << 16); }

inline unsigned code_one(float x, float s, rng::ChunkKey key, uint32_t lo) {
    const float u = float(rng::hash32(key, lo) >> 8) * 0x1.0p-24f;
    if (!(std::fabs(x) > u * s)) return 1u;
    return x > 0.0f ? 2u : 0u;
}

void ternarize_pack(const float* g, int64_t n, float s, uint64_t seed, uint8_t* out, int threads) {
    const int64_t nchunks = tern_chunks(n);
    static_assert(16 % W == 0, "a 16-element group is whole vectors");
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t c = 0; c < nchunks; ++c) {
        const int64_t b = c * kTernChunk, e = std::min(n, b + kTernChunk);
        const rng::ChunkKey key = rng::chunk_key(seed, uint64_t(b));
        const F sv = set1(s), z = zero();
        int64_t i = b;
        for (; i + 16 <= e; i += 16) {
            unsigned fire = 0, pos = 0;
            for (int k = 0; k < 16; k += W) {
                const F x = load(g + i + k);
                const M f = cmp_gt(abs(x), mul(rng::uniform_vec(key, uint32_t(i + k)), sv));
                fire |= mbits(f) << k;
                pos |= mbits(mand(f, cmp_gt(x, z))) << k;
            }
            // code = 2 (pos) -> bits 10, 1 (not fired) -> 01, 0 (neg) -> 00
            const uint32_t word = (spread16(pos) << 1) | spread16(~fire & 0xFFFFu);
            std::memcpy(out + i / 4, &word, 4);  // little-endian: byte k holds elements 4k..4k+3
        }
        for (; i < e; i += 4) {  // the tail: whole bytes, padding codes 1
            unsigned byte = 0;
            for (int j = 0; j < 4; ++j)
                byte |= (i + j < e ? code_one(g[i + j], s, key, uint32_t(i + j)) : 1u) << (2 * j);
            out[i / 4] = uint8_t(byte);
        }
    }
}

// --- decode ---------------------------------------------------------------------------------------

struct DecodeTable {
    float v[256][4];
};
constexpr DecodeTable make_decode() {
    DecodeTable t{};
    for (int b = 0; b < 256; ++b)
        for (int j = 0; j < 4; ++j) t.v[b][j] = float(int((b >> (2 * j)) & 3) - 1);
    return t;
}
constexpr DecodeTable kDecode = make_decode();

void decode(const uint8_t* packed, int64_t rows, int64_t row_stride, int64_t n, float scale, float* out,
            bool accumulate, int threads) {
    const int64_t nchunks = tern_chunks(n);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t c = 0; c < nchunks; ++c) {
        const int64_t b = c * kTernChunk, e = std::min(n, b + kTernChunk);
        const F sv = set1(scale);
        alignas(64) float acc[16];
        int64_t i = b;
        for (; i + 16 <= e; i += 16) {
            std::memcpy(acc, kDecode.v[packed[i / 4]], 16);
            std::memcpy(acc + 4, kDecode.v[packed[i / 4 + 1]], 16);
            std::memcpy(acc + 8, kDecode.v[packed[i / 4 + 2]], 16);
            std::memcpy(acc + 12, kDecode.v[packed[i / 4 + 3]], 16);
            for (int64_t r = 1; r < rows; ++r) {  // integer-valued float sums: exact
                const uint8_t* p = packed + r * row_stride + i / 4;
                for (int k = 0; k < 4; ++k)
                    for (int j = 0; j < 4; ++j) acc[4 * k + j] += kDecode.v[p[k]][j];
            }
            for (int k = 0; k < 16; k += W) {
                F y = mul(load(acc + k), sv);
                if (accumulate) y = add(load(out + i + k), y);
                store(out + i + k, y);
            }
        }
        for (; i < e; ++i) {
            float t = 0.0f;
            for (int64_t r = 0; r < rows; ++r) t += kDecode.v[packed[r * row_stride + i / 4]][i % 4];
            const float y = t * scale;
            out[i] = accumulate ? out[i] + y : y;
        }
    }
}

}  // namespace

extern const TernGradKernels terngrad = {&stats, &scaler, &ternarize_pack, &decode};

}  // namespace sb::SB_ISA_NS
