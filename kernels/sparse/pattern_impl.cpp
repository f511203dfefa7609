// Compiled once per ISA (SB_ISA_NS names the namespace): see CMakeLists.txt and pattern.hpp.
#include <omp.h>

#include <algorithm>

#include "../common/simd.hpp"
#include "pattern.hpp"

namespace sb::SB_ISA_NS {
namespace {

using namespace simd;

constexpr int kV = kVecRegs >= 32 ? 12 : 6;

// One output row, V pixel vectors, all kernels of one pattern group (4 taps each).
template <int V>
inline void fwd_tile(F (&acc)[V], const float* __restrict xq, const int32_t* __restrict kci, int64_t k0, int64_t k1,
                     const float* __restrict vals, const int64_t* d, int64_t xplane) {
    const int64_t d0 = d[0], d1 = d[1], d2 = d[2], d3 = d[3];
    for (int64_t k = k0; k < k1; ++k) {
        const float* b = xq + int64_t(kci[k]) * xplane;
        const float* w = vals + 4 * k;
        const F w0 = set1(w[0]), w1 = set1(w[1]), w2 = set1(w[2]), w3 = set1(w[3]);
        for (int v = 0; v < V; ++v) {
            F a = acc[v];
            a = fmadd(w0, load(b + d0 + v * W), a);
            a = fmadd(w1, load(b + d1 + v * W), a);
            a = fmadd(w2, load(b + d2 + v * W), a);
            a = fmadd(w3, load(b + d3 + v * W), a);
            acc[v] = a;
        }
    }
}

template <int V>
inline void fwd_row(int64_t co, int64_t NP, const int32_t* gptr, const int32_t* kci, const float* vals,
                    const int64_t* delta, const float* xv, int64_t xplane, float* yrow, int64_t q) {
    F acc[V];
    for (int v = 0; v < V; ++v) acc[v] = zero();
    for (int64_t p = 0; p < NP; ++p)
        fwd_tile<V>(acc, xv + q, kci, gptr[co * NP + p], gptr[co * NP + p + 1], vals, delta + 4 * p, xplane);
    for (int v = 0; v < V; ++v) store(yrow + q + v * W, acc[v]);
}

void forward(int64_t Cout, int64_t NP, const int32_t* gptr, const int32_t* kci, const float* vals,
             const int64_t* delta, const float* xv, int64_t xplane, float* yext, int64_t Lqr, int64_t qchunk,
             int threads) {
    const int64_t nchunks = (Lqr + qchunk - 1) / qchunk;
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static)
    for (int64_t c = 0; c < nchunks; ++c)
        for (int64_t co = 0; co < Cout; ++co) {
            const int64_t q0 = c * qchunk, q1 = std::min(Lqr, q0 + qchunk);
            float* yrow = yext + co * Lqr;
            int64_t q = q0;
            for (; q + kV * W <= q1; q += kV * W) fwd_row<kV>(co, NP, gptr, kci, vals, delta, xv, xplane, yrow, q);
            for (; q < q1; q += W) fwd_row<1>(co, NP, gptr, kci, vals, delta, xv, xplane, yrow, q);
        }
}

// Backward-data: C taps of the pattern fall in this phase (C in 1..4, fixed per group).
template <int V, int C>
inline void bwd_tile(F (&acc)[V], const float* __restrict dq, const int32_t* __restrict tco,
                     const int32_t* __restrict tk, int64_t k0, int64_t k1, const float* __restrict vals,
                     const int32_t* tap, const int64_t* off, int64_t DS) {
    for (int64_t k = k0; k < k1; ++k) {
        const float* b = dq + int64_t(tco[k]) * DS;
        const float* w = vals + 4 * int64_t(tk[k]);
        F wv[C];
        for (int t = 0; t < C; ++t) wv[t] = set1(w[tap[t]]);
        for (int v = 0; v < V; ++v) {
            F a = acc[v];
            for (int t = 0; t < C; ++t) a = fmadd(wv[t], load(b + off[t] + v * W), a);
            acc[v] = a;
        }
    }
}

template <int V>
inline void bwd_row(int64_t ci, int64_t ph, int64_t NP, int64_t nph, const int32_t* tptr, const int32_t* tco,
                    const int32_t* tk, const float* vals, const int32_t* pcnt, const int32_t* ptap,
                    const int64_t* pdy, const float* dye, int64_t DS, float* drow, int64_t q) {
    F acc[V];
    for (int v = 0; v < V; ++v) acc[v] = zero();
    for (int64_t p = 0; p < NP; ++p) {
        const int64_t k0 = tptr[ci * NP + p], k1 = tptr[ci * NP + p + 1];
        const int64_t pp = p * nph + ph;
        const int32_t* tap = ptap + 4 * pp;
        const int64_t* off = pdy + 4 * pp;
        switch (pcnt[pp]) {
            case 4: bwd_tile<V, 4>(acc, dye + q, tco, tk, k0, k1, vals, tap, off, DS); break;
            case 3: bwd_tile<V, 3>(acc, dye + q, tco, tk, k0, k1, vals, tap, off, DS); break;
            case 2: bwd_tile<V, 2>(acc, dye + q, tco, tk, k0, k1, vals, tap, off, DS); break;
            case 1: bwd_tile<V, 1>(acc, dye + q, tco, tk, k0, k1, vals, tap, off, DS); break;
            default: break;
        }
    }
    for (int v = 0; v < V; ++v) store(drow + q + v * W, acc[v]);
}

void backward_data(int64_t Cin, int64_t NP, int64_t nph, const int32_t* tptr, const int32_t* tco, const int32_t* tk,
                   const float* vals, const int32_t* pcnt, const int32_t* ptap, const int64_t* pdy, const float* dye,
                   int64_t DS, float* dxv, int64_t PS, const int64_t* rlo, const int64_t* rhi, int64_t qchunk,
                   int threads) {
    int64_t nchunks = 0;
    for (int64_t ph = 0; ph < nph; ++ph) nchunks = std::max(nchunks, (rhi[ph] - rlo[ph] + qchunk - 1) / qchunk);
    const int64_t nrows = Cin * nph;
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static)
    for (int64_t c = 0; c < nchunks; ++c)
        for (int64_t row = 0; row < nrows; ++row) {
            const int64_t ci = row / nph, ph = row % nph;
            const int64_t q0 = rlo[ph] + c * qchunk;
            if (q0 >= rhi[ph]) continue;
            const int64_t q1 = std::min(rhi[ph], q0 + qchunk);
            float* drow = dxv + row * PS;
            int64_t q = q0;
            for (; q + kV * W <= q1; q += kV * W)
                bwd_row<kV>(ci, ph, NP, nph, tptr, tco, tk, vals, pcnt, ptap, pdy, dye, DS, drow, q);
            for (; q < q1; q += W) bwd_row<1>(ci, ph, NP, nph, tptr, tco, tk, vals, pcnt, ptap, pdy, dye, DS, drow, q);
        }
}

// Two kernels of one (co, pattern) group at a time: they share the output-gradient vector.
template <int NK>
inline void wg_kernels(const float* __restrict dy, const float* const* xb, const int64_t* d, int64_t q0, int64_t q1,
                       float* g0) {
    F acc[NK][4];
    for (int k = 0; k < NK; ++k)
        for (int t = 0; t < 4; ++t) acc[k][t] = zero();
    const int64_t d0 = d[0], d1 = d[1], d2 = d[2], d3 = d[3];
    for (int64_t q = q0; q < q1; q += W) {
        const F dv = load(dy + q);
        for (int k = 0; k < NK; ++k) {
            const float* b = xb[k] + q;
            acc[k][0] = fmadd(dv, load(b + d0), acc[k][0]);
            acc[k][1] = fmadd(dv, load(b + d1), acc[k][1]);
            acc[k][2] = fmadd(dv, load(b + d2), acc[k][2]);
            acc[k][3] = fmadd(dv, load(b + d3), acc[k][3]);
        }
    }
    for (int k = 0; k < NK; ++k)
        for (int t = 0; t < 4; ++t) g0[4 * k + t] += hsum(acc[k][t]);
}

constexpr int kWK = kV >= 12 ? 4 : 2;

void weight_grad(int64_t Cout, int64_t NP, const int32_t* gptr, const int32_t* kci, const int64_t* delta,
                 const float* xv, int64_t xplane, const float* dye, int64_t DS, int64_t dy0, int64_t L, float* grad,
                 int64_t qchunk, int threads) {
    std::fill(grad, grad + 4 * int64_t(gptr[Cout * NP]), 0.0f);
    const int64_t nchunks = (L + qchunk - 1) / qchunk;
#pragma omp parallel num_threads(threads)
    for (int64_t c = 0; c < nchunks; ++c) {
        const int64_t q0 = c * qchunk, q1 = std::min(L, q0 + qchunk);
#pragma omp for schedule(static) nowait
        for (int64_t co = 0; co < Cout; ++co) {
            const float* dy = dye + co * DS + dy0;
            for (int64_t p = 0; p < NP; ++p) {
                const int64_t* d = delta + 4 * p;
                int64_t k = gptr[co * NP + p];
                const int64_t k1 = gptr[co * NP + p + 1];
                const float* xb[kWK];
                for (; k + kWK <= k1; k += kWK) {
                    for (int j = 0; j < kWK; ++j) xb[j] = xv + int64_t(kci[k + j]) * xplane;
                    wg_kernels<kWK>(dy, xb, d, q0, q1, grad + 4 * k);
                }
                for (; k < k1; ++k) {
                    xb[0] = xv + int64_t(kci[k]) * xplane;
                    wg_kernels<1>(dy, xb, d, q0, q1, grad + 4 * k);
                }
            }
        }
    }
}

}  // namespace

extern const PatternKernels pattern = {&forward, &backward_data, &weight_grad};

}  // namespace sb::SB_ISA_NS
