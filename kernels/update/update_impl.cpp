// Compiled once per ISA (SB_ISA_NS names the namespace): see CMakeLists.txt.
#include <omp.h>

#include <algorithm>

#include "../common/simd.hpp"
#include "update.hpp"

namespace sb::SB_ISA_NS {
namespace {

using namespace simd;

void sgd_momentum(float* w, const float* g, float* buf, int64_t n, float lr, float momentum, float wd,
                  int threads) {
    constexpr int64_t kChunk = 1 << 14;  // a few L1-sized chunks per thread, statically split
    const int64_t nchunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t c = 0; c < nchunks; ++c) {
        const int64_t s = c * kChunk, e = std::min(n, s + kChunk);
        const F vlr = set1(lr), vm = set1(momentum), vwd = set1(wd);
        int64_t i = s;
        for (; i + W <= e; i += W) {
            const F wv = load(w + i);
            const F d = add(load(g + i), mul(vwd, wv));
            const F b = add(mul(vm, load(buf + i)), d);
            store(buf + i, b);
            store(w + i, sub(wv, mul(vlr, b)));
        }
        for (; i < e; ++i) {  // same operations, same order: identical to the vector lanes
            const float d = g[i] + wd * w[i];
            const float b = momentum * buf[i] + d;
            buf[i] = b;
            w[i] = w[i] - lr * b;
        }
    }
}

}  // namespace

extern const UpdateKernels update = {&sgd_momentum};

}  // namespace sb::SB_ISA_NS
