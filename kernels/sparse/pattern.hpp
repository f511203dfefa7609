// Pattern-sparse 3x3 direct convolution (PatDNN / MEST pattern scheme), all training stages.
//
// Format. Every kept 3x3 kernel (co, ci) keeps exactly 4 taps given by one pattern of a small
// library (NP patterns x 4 tap indices kh*3+kw); whole kernels are removed for connectivity
// sparsity. Kernels are stored grouped by (co, pattern): gptr[co * NP + p] .. gptr[co * NP + p + 1]
// index kci (input channel, ascending) and values[k][4] in the pattern's tap order. Inside a
// group the 4 tap offsets are loop invariants, so the inner loop has no branch and decodes one
// int32 per kernel (amortized over 4 taps x V pixel vectors).
//
// Activations use the phase-plane layout of kernels/common/phase_planes.hpp.
//
// Files: pattern.cpp plans each stage (tap deltas, the transposed groups of backward-data, the
// per-phase tap lists) and runs it; pattern_impl.cpp holds the per-ISA microkernels (this table).
#pragma once

#include <cstdint>

#include "../common/geometry.hpp"
#include "../common/isa.hpp"

namespace sb {

struct PatternKernels {
    // yext[co * Lqr + q] = sum_{p, k in group(co, p)} sum_t vals[4k + t] * xv[kci[k] * xplane + delta[4p + t] + q]
    void (*forward)(int64_t Cout, int64_t NP, const int32_t* gptr, const int32_t* kci, const float* vals,
                    const int64_t* delta, const float* xv, int64_t xplane, float* yext, int64_t Lqr, int64_t qchunk,
                    int threads);
    // Transposed groups (ci, p): tptr[ci * NP + p], tco (output channel), tk (kernel index).
    // For each phase ph and pattern p the taps t of p lying in phase ph are ptap[(p * nph + ph) * 4 ..]
    // (count pcnt[p * nph + ph]) with dy offsets pdy[same] (= max_off - tap offset):
    // dxv[(ci * nph + ph) * PS + r] = sum sum_t vals[4k + ptap] * dye[co * DS + pdy + r], r in [rlo[ph], rhi[ph]).
    void (*backward_data)(int64_t Cin, int64_t NP, int64_t nph, const int32_t* tptr, const int32_t* tco,
                          const int32_t* tk, const float* vals, const int32_t* pcnt, const int32_t* ptap,
                          const int64_t* pdy, const float* dye, int64_t DS, float* dxv, int64_t PS,
                          const int64_t* rlo, const int64_t* rhi, int64_t qchunk, int threads);
    // grad[4k + t] = sum_{q < L} dye[co * DS + dy0 + q] * xv[kci[k] * xplane + delta[4p + t] + q]
    void (*weight_grad)(int64_t Cout, int64_t NP, const int32_t* gptr, const int32_t* kci, const int64_t* delta,
                        const float* xv, int64_t xplane, const float* dye, int64_t DS, int64_t dy0, int64_t L,
                        float* grad, int64_t qchunk, int threads);
};

SB_DECLARE_ISA_TABLE(PatternKernels, pattern)

// A validated pattern-sparse 3x3 weight (see the format above); arrays borrowed from the caller.
struct PatternWeight {
    const float* values;   // 4 * nk (unused by the weight gradient)
    const int32_t* gptr;   // Cout * NP + 1
    const int32_t* kci;    // nk
    const int32_t* lib;    // NP x 4 taps kh*3+kw
    int64_t NP, nk;
};

// Family entry points (pattern.cpp). g: the complete conv geometry (kh = kw = 3, uniform
// stride / padding; Ho, Wo >= 1; N, Cin, Cout >= 1). qchunk >= 0 (0: the stage's default).
void pattern_conv_forward(Isa isa, const ConvGeometry& g, const PatternWeight& P, const float* x, float* y,
                          int64_t qchunk, int threads);
void pattern_conv_backward_data(Isa isa, const ConvGeometry& g, const PatternWeight& P, const float* dy, float* dx,
                                int64_t qchunk, int threads);
// grad: 4 * nk, in the values' storage order.
void pattern_conv_weight_grad(Isa isa, const ConvGeometry& g, const PatternWeight& P, const float* x,
                              const float* dy, float* grad, int64_t qchunk, int threads);

}  // namespace sb
