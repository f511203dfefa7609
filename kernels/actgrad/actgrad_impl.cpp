// Compiled once per ISA (SB_ISA_NS names the namespace): see CMakeLists.txt.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "../common/reduce.hpp"
#include "../common/rng.hpp"
#include "../common/simd.hpp"
#include "actgrad.hpp"

namespace sb::SB_ISA_NS {
namespace {

using namespace simd;

double abs_sum(const float* g, int64_t n, int threads) {
    const int64_t nb = (n + kReduceBlock - 1) / kReduceBlock;
    std::vector<double> part(static_cast<size_t>(nb));
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t b = 0; b < nb; ++b)
        part[b] = block_abs_sum(g + b * kReduceBlock, std::min(kReduceBlock, n - b * kReduceBlock));
    double total = 0.0;
    for (double p : part) total += p;  // block order: the thread split never changes the result
    return total;
}

// Chunks are aligned to a power of two dividing 2^32, so one RNG chunk key serves a whole chunk.
constexpr int64_t kPruneChunk = 1 << 14;

inline float prune_one(float x, float tau, rng::ChunkKey key, uint32_t lo) {
    const float a = std::fabs(x);
    if (a >= tau) return x;
    const float u = float(rng::hash32(key, lo) >> 8) * 0x1.0p-24f;
    return a > u * tau ? std::copysign(tau, x) : 0.0f;
}

int64_t stochastic_prune(const float* g, float* out, int64_t n, float tau, uint64_t seed, int threads) {
    const int64_t nchunks = (n + kPruneChunk - 1) / kPruneChunk;
    int64_t nnz = 0;
#pragma omp parallel for num_threads(threads) schedule(static) reduction(+ : nnz)
    for (int64_t c = 0; c < nchunks; ++c) {
        const int64_t s = c * kPruneChunk, e = std::min(n, s + kPruneChunk);
        const rng::ChunkKey key = rng::chunk_key(seed, uint64_t(s));
        const F tv = set1(tau), z = zero();
        int64_t i = s, local = 0;
        for (; i + W <= e; i += W) {
            const F x = load(g + i);
            const F a = abs(x);
            const M keep = cmp_ge(a, tv);
            const M promote = cmp_gt(a, mul(rng::uniform_vec(key, uint32_t(i)), tv));
            const F y = select(keep, x, select(promote, copysign(tv, x), z));
            store(out + i, y);
            local += __builtin_popcount(mbits(cmp_ne(y, z)));
        }
        for (; i < e; ++i) {
            out[i] = prune_one(g[i], tau, key, uint32_t(i));
            local += out[i] != 0.0f;
        }
        nnz += local;
    }
    return nnz;
}

}  // namespace

extern const ActGradKernels actgrad = {&abs_sum, &stochastic_prune};

}  // namespace sb::SB_ISA_NS
