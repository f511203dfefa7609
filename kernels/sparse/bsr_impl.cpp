// Compiled once per ISA (SB_ISA_NS names the namespace): see CMakeLists.txt and bsr.hpp.
#include <omp.h>

#include <algorithm>

#include "../common/simd.hpp"
#include "bsr.hpp"

namespace sb::SB_ISA_NS {
namespace {

using namespace simd;

constexpr int kRegs = kVecRegs;

// Pixel vectors per register tile for R output rows: R*V accumulators + V inputs + 1 weight.
template <int R>
constexpr int vtile() {
    if (kRegs >= 32) return R == 1 ? 12 : R == 2 ? 8 : R == 3 ? 7 : R == 4 ? 5 : R == 5 ? 5 : R == 6 ? 4 : 3;
    return R == 1 ? 6 : R == 2 ? 4 : R == 3 ? 3 : R <= 6 ? 2 : 1;
}

template <int R, int V>
inline void tile(const float* __restrict in, const int32_t* __restrict ioff, const int32_t* __restrict vidx,
                 int64_t u0, int64_t u1, const float* __restrict vals, int64_t vstride, float* __restrict out,
                 int64_t ostride, int64_t q, bool accumulate) {
    F acc[R][V];
    if (accumulate) {
        for (int r = 0; r < R; ++r)
            for (int v = 0; v < V; ++v) acc[r][v] = load(out + r * ostride + q + v * W);
    } else {
        for (int r = 0; r < R; ++r)
            for (int v = 0; v < V; ++v) acc[r][v] = zero();
    }
    for (int64_t u = u0; u < u1; ++u) {
        const float* xp = in + ioff[u] + q;
        const float* wp = vals + vidx[u];
        F xv[V];
        for (int v = 0; v < V; ++v) xv[v] = load(xp + v * W);
        for (int r = 0; r < R; ++r) {
            const F w = set1(wp[r * vstride]);
            for (int v = 0; v < V; ++v) acc[r][v] = fmadd(w, xv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < R; ++r)
        for (int v = 0; v < V; ++v) store(out + r * ostride + q + v * W, acc[r][v]);
}

template <int R>
void rows_chunk(const RowGroups& G, int64_t gi, const float* vals, const float* in, float* out, int64_t q0,
                int64_t q1) {
    constexpr int V = vtile<R>();
    const int64_t u0 = G.uptr[gi], u1 = G.uptr[gi + 1];
    float* o = out + G.out_off[gi];
    int64_t q = q0;
    for (; q + V * W <= q1; q += V * W) tile<R, V>(in, G.ioff, G.vidx, u0, u1, vals, G.vstride, o, G.ostride, q, G.accumulate);
    for (; q < q1; q += W) tile<R, 1>(in, G.ioff, G.vidx, u0, u1, vals, G.vstride, o, G.ostride, q, G.accumulate);
}

void rows_spmm(int R, const RowGroups& G, const float* vals, const float* in, float* out, int64_t qchunk,
               int threads) {
    int64_t nchunks = 0;
    for (int64_t gi = 0; gi < G.ngroups; ++gi)
        nchunks = std::max(nchunks, (G.qhi[gi] - G.qlo[gi] + qchunk - 1) / qchunk);
    const int64_t ng = G.ngroups;
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static)
    for (int64_t c = 0; c < nchunks; ++c)
        for (int64_t gi = 0; gi < ng; ++gi) {
            const int64_t q0 = G.qlo[gi] + c * qchunk;
            if (q0 >= G.qhi[gi]) continue;
            const int64_t q1 = std::min(G.qhi[gi], q0 + qchunk);
            switch (R) {
                case 1: rows_chunk<1>(G, gi, vals, in, out, q0, q1); break;
                case 2: rows_chunk<2>(G, gi, vals, in, out, q0, q1); break;
                case 3: rows_chunk<3>(G, gi, vals, in, out, q0, q1); break;
                case 4: rows_chunk<4>(G, gi, vals, in, out, q0, q1); break;
                case 5: rows_chunk<5>(G, gi, vals, in, out, q0, q1); break;
                case 6: rows_chunk<6>(G, gi, vals, in, out, q0, q1); break;
                case 7: rows_chunk<7>(G, gi, vals, in, out, q0, q1); break;
                default: rows_chunk<8>(G, gi, vals, in, out, q0, q1); break;
            }
        }
}

// One JB x IB sub-block of a weight block, reduced over q in [q0, q1).
template <int JB, int IB>
inline void wg_micro(const float* const* dyp, const float* const* xp, int64_t q0, int64_t q1, float* g,
                     int64_t gstride_i) {
    F acc[JB][IB];
    for (int j = 0; j < JB; ++j)
        for (int i = 0; i < IB; ++i) acc[j][i] = zero();
    for (int64_t q = q0; q < q1; q += W) {
        F xv[IB];
        for (int i = 0; i < IB; ++i) xv[i] = load(xp[i] + q);
        for (int j = 0; j < JB; ++j) {
            const F d = load(dyp[j] + q);
            for (int i = 0; i < IB; ++i) acc[j][i] = fmadd(d, xv[i], acc[j][i]);
        }
    }
    for (int j = 0; j < JB; ++j)
        for (int i = 0; i < IB; ++i) g[i * gstride_i + j] += hsum(acc[j][i]);
}

constexpr int kJB = 4;
constexpr int kIB = kRegs >= 32 ? 4 : 2;

template <int JB>
inline void wg_dispatch_i(int ib, const float* const* dyp, const float* const* xp, int64_t q0, int64_t q1, float* g,
                          int64_t gs) {
    if (ib >= 4 && kIB >= 4) wg_micro<JB, (kIB >= 4 ? 4 : 2)>(dyp, xp, q0, q1, g, gs);
    else if (ib >= 2) wg_micro<JB, 2>(dyp, xp, q0, q1, g, gs);
    else wg_micro<JB, 1>(dyp, xp, q0, q1, g, gs);
}

void block_wgrad(int64_t nbr, const int32_t* row_ptr, const int32_t* col, int bo, int bi, int64_t ncb,
                 const int64_t* xdelta, const float* xv, int64_t xstride, const float* dye, int64_t DS, int64_t dy0,
                 int64_t L, float* grad, int64_t qchunk, int threads) {
    const int64_t nvals = int64_t(row_ptr[nbr]) * bo * bi;
    std::fill(grad, grad + nvals, 0.0f);
    const int64_t nchunks = (L + qchunk - 1) / qchunk;
#pragma omp parallel num_threads(threads)
    for (int64_t c = 0; c < nchunks; ++c) {
        const int64_t q0 = c * qchunk, q1 = std::min(L, q0 + qchunk);
        // Static schedule with the same trip count: every thread owns the same block rows in
        // every chunk, so no two threads ever add into the same gradient value.
#pragma omp for schedule(static) nowait
        for (int64_t br = 0; br < nbr; ++br) {
            for (int64_t b = row_ptr[br]; b < row_ptr[br + 1]; ++b) {
                const int64_t tap = col[b] / ncb, cb = col[b] % ncb;
                float* gb = grad + b * bo * bi;
                for (int j0 = 0; j0 < bo; j0 += kJB) {
                    const int jb = std::min(kJB, bo - j0);
                    const float* dyp[kJB];
                    for (int j = 0; j < jb; ++j) dyp[j] = dye + (br * bo + j0 + j) * DS + dy0;
                    for (int i0 = 0; i0 < bi;) {
                        const int ib = std::min(kIB, bi - i0);
                        const int step = ib >= 4 ? 4 : ib >= 2 ? 2 : 1;
                        const float* xp[4];
                        for (int i = 0; i < step; ++i) xp[i] = xv + (cb * bi + i0 + i) * xstride + xdelta[tap];
                        float* g = gb + int64_t(i0) * bo + j0;
                        if (jb >= 4) wg_dispatch_i<4>(ib, dyp, xp, q0, q1, g, bo);
                        else if (jb >= 2) wg_dispatch_i<2>(ib, dyp, xp, q0, q1, g, bo);
                        else wg_dispatch_i<1>(ib, dyp, xp, q0, q1, g, bo);
                        i0 += step;
                    }
                    if (jb == 3) {  // bo not a power of two is rejected at the boundary; keep safe
                    }
                }
            }
        }
    }
}

}  // namespace

extern const BsrKernels bsr = {&rows_spmm, &block_wgrad};

}  // namespace sb::SB_ISA_NS
