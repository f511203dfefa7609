// Compiled once per ISA (SB_ISA_NS names the namespace): see CMakeLists.txt and filter.hpp.
// The weight-gradient microkernel of the filter / channel-pruned conv.
#include <omp.h>

#include <algorithm>

#include "../common/simd.hpp"
#include "filter.hpp"

namespace sb::SB_ISA_NS {
namespace {

using namespace simd;

// Dense (compacted) weight gradient: JB output channels x TB taps of one input channel in
// registers, reduced over a q chunk; per step JB + TB loads (the TB tap loads overlap, L1 hits)
// for JB * TB FMAs.
constexpr int kDwJB = kVecRegs >= 32 ? 3 : 1;

template <int JB, int TB>
inline void dw_micro(const float* __restrict dyp, int64_t DS, const float* const* xt, int64_t q0, int64_t q1,
                     float* __restrict g, int64_t gstride_co) {
    F acc[JB][TB];
    for (int j = 0; j < JB; ++j)
        for (int t = 0; t < TB; ++t) acc[j][t] = zero();
    const float* xp[TB];
    for (int t = 0; t < TB; ++t) xp[t] = xt[t];
    for (int64_t q = q0; q < q1; q += W) {
        F d[JB];
        for (int j = 0; j < JB; ++j) d[j] = load(dyp + j * DS + q);
        for (int t = 0; t < TB; ++t) {
            const F xv = load(xp[t] + q);
            for (int j = 0; j < JB; ++j) acc[j][t] = fmadd(d[j], xv, acc[j][t]);
        }
    }
    for (int j = 0; j < JB; ++j)
        for (int t = 0; t < TB; ++t) g[j * gstride_co + t] += hsum(acc[j][t]);
}

template <int JB>
inline void dw_taps(const float* dyp, int64_t DS, const float* xci, const int64_t* xdelta, int64_t T, int64_t q0,
                    int64_t q1, float* g, int64_t gstride_co) {
    const float* xt[9];
    int64_t t = 0;
    for (; t + 9 <= T; t += 9) {
        for (int i = 0; i < 9; ++i) xt[i] = xci + xdelta[t + i];
        dw_micro<JB, 9>(dyp, DS, xt, q0, q1, g + t, gstride_co);
    }
    for (; t + 3 <= T; t += 3) {
        for (int i = 0; i < 3; ++i) xt[i] = xci + xdelta[t + i];
        dw_micro<JB, 3>(dyp, DS, xt, q0, q1, g + t, gstride_co);
    }
    for (; t < T; ++t) {
        xt[0] = xci + xdelta[t];
        dw_micro<JB, 1>(dyp, DS, xt, q0, q1, g + t, gstride_co);
    }
}

void dense_wgrad(int64_t nco, int64_t nci, int64_t T, const int64_t* xdelta, const float* xv, int64_t xstride,
                 const float* dye, int64_t DS, int64_t dy0, int64_t L, float* grad, int64_t qchunk, int threads) {
    std::fill(grad, grad + nco * nci * T, 0.0f);
    const int64_t nchunks = (L + qchunk - 1) / qchunk;
    const int64_t gs = nci * T;
#pragma omp parallel num_threads(threads)
    for (int64_t c = 0; c < nchunks; ++c) {
        const int64_t q0 = c * qchunk, q1 = std::min(L, q0 + qchunk);
        // Same static partition of input channels in every chunk: no two threads share a value.
#pragma omp for schedule(static) nowait
        for (int64_t ci = 0; ci < nci; ++ci) {
            const float* xci = xv + ci * xstride;
            int64_t co = 0;
            for (; co + kDwJB <= nco; co += kDwJB)
                dw_taps<kDwJB>(dye + co * DS + dy0, DS, xci, xdelta, T, q0, q1, grad + co * gs + ci * T, gs);
            for (; co < nco; ++co) dw_taps<1>(dye + co * DS + dy0, DS, xci, xdelta, T, q0, q1, grad + co * gs + ci * T, gs);
        }
    }
}

}  // namespace

extern const FilterKernels filter = {&dense_wgrad};

}  // namespace sb::SB_ISA_NS
