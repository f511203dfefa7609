// Deterministic float reductions: the summation order is fixed by the data layout alone, never
// by the ISA or the thread count, so reductions (and everything derived from them, like the
// DBTD threshold) are bit-identical everywhere. Mirrored by sparsebench.rng.abs_sum_det.
//   - the input is cut into blocks of kReduceBlock elements;
//   - inside a block, element j is added (as a double) to accumulator j % 8, in order;
//   - a block's sum is ((((((a0 + a1) + a2) + a3) + a4) + a5) + a6) + a7;
//   - the total is the block sums added in block order.
#pragma once

#include <cmath>
#include <cstdint>

#include "simd.hpp"

namespace sb::SB_ISA_NS {

constexpr int64_t kReduceBlock = 4096;

inline double block_abs_sum(const float* x, int64_t n) {
    simd::Acc8d acc;
    const int64_t nv = (n / 16) * 16;  // a multiple of every ISA's width keeps lanes aligned
    int64_t i = 0;
    for (; i < nv; i += simd::W) acc.add_abs(x + i);
    double lanes[8];
    acc.lanes(lanes);
    for (; i < n; ++i) lanes[i % 8] += double(std::fabs(x[i]));
    double s = lanes[0];
    for (int l = 1; l < 8; ++l) s += lanes[l];
    return s;
}

}  // namespace sb::SB_ISA_NS
