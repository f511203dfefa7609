// TernGrad (Wen et al., NIPS 2017): per-layer scaler, stochastic ternarization fused with 2-bit
// packing, and decoding (sum over ranks of the ternary codes times a scale). Element i of a
// gradient is coded as sign + 1 in {0, 1, 2} at bits 2*(i % 4) of byte i / 4; padding codes are 1
// (the value 0). Mirrored by sparsebench.methods.terngrad.reference.
#pragma once

#include <cstdint>

#include "../common/isa.hpp"

namespace sb {

// One pass over g: the figures both scaler modes need, reduced in a fixed block order (blocks of
// kTernBlock elements, 8 double lanes inside a block, blocks added in order), so the result is
// independent of ISA and thread count.
struct TernStats {
    double sum = 0.0;     // sum of g
    double sumsq = 0.0;   // sum of g * g (each product exact in double)
    float maxabs = 0.0f;  // max |g| over the finite elements
    int64_t nonfinite = 0;  // NaN or +-Inf elements
};

constexpr int64_t kTernBlock = 4096;
// Elements per parallel chunk of the encoder / decoder: a multiple of 16 (whole 4-byte groups)
// and a power of two dividing 2^32, so one RNG chunk key serves a whole chunk.
constexpr int64_t kTernChunk = int64_t(1) << 15;

inline int64_t packed_bytes(int64_t n) { return (n + 3) / 4; }

struct TernGradKernels {
    // sums = false: only maxabs and nonfinite (the max scaler needs no more).
    TernStats (*stats)(const float* g, int64_t n, bool sums, int threads);
    // s = max|g| (mode 0), or c * std(g) (mode 1) capped at max|g| (max|g| when c * std is 0).
    float (*scaler)(const TernStats& st, int64_t n, int mode, double c);
    // code_i = 1 + sign(g_i) if |g_i| > u_i * s else 1, u_i = rng::uniform(seed, i); packed 4 a byte.
    void (*ternarize_pack)(const float* g, int64_t n, float s, uint64_t seed, uint8_t* out, int threads);
    // out_i (+)= float(sum_r (code_{r,i} - 1)) * scale, row r of `rows` at packed + r * row_stride.
    void (*decode)(const uint8_t* packed, int64_t rows, int64_t row_stride, int64_t n, float scale, float* out,
                   bool accumulate, int threads);
};

SB_DECLARE_ISA_TABLE(TernGradKernels, terngrad)

// Planning (terngrad.cpp): the chunk partition of n elements and the checks the bindings share.
int64_t tern_chunks(int64_t n);
// Throws std::invalid_argument naming what is wrong with a decode's byte range.
void check_decode_range(int64_t row_bytes, int64_t offset, int64_t n);

}  // namespace sb
