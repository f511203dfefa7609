// Compiled once per ISA (SB_ISA_NS names the namespace): see CMakeLists.txt and bsr.hpp.
#include <omp.h>

#include <algorithm>

#include "../common/simd.hpp"
#include "bsr.hpp"
#include "planes.hpp"

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


// --- planes engine (planes.hpp): pointwise SpMM straight on NCHW planes -----------------------

// Vectors per register tile of R rows (R in 1, 2, 4, 8).
template <int R>
constexpr int ptile() {
    return vtile<R>();
}

// The V position vectors of one tile: vector v starts at image offset voff (input) / ooff
// (output) and holds lanes[v] valid lanes. TAIL: the last vector's loads are masked (it is the
// very end of the input, whose lanes past the plane need not be addressable); the other
// partial vectors read into the next plane (valid memory) and mask only their stores.
template <int R, int V, bool TAIL>
void plane_tile(const PlaneGroups& G, int64_t g, const float* __restrict in, const int64_t* voff, float* out,
                const int64_t* ooff, const int* lanes, int64_t L) {
    F acc[R][V];
    for (int r = 0; r < R; ++r)
        for (int v = 0; v < V; ++v) acc[r][v] = zero();
    int64_t vo[V];
    for (int v = 0; v < V; ++v) vo[v] = voff[v];
    const int tl = lanes[V - 1];
    for (int64_t u = G.uptr[g], u1 = G.uptr[g + 1]; u < u1; ++u) {
        const float* p = in + G.ioff[u];
        const float* w = G.vals + u * R;
        F xv[V];
        for (int v = 0; v < V; ++v) xv[v] = (TAIL && v == V - 1) ? load_lanes(p + vo[v], tl) : load(p + vo[v]);
        for (int r = 0; r < R; ++r) {
            const F wr = set1(w[r]);
            for (int v = 0; v < V; ++v) acc[r][v] = fmadd(wr, xv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < R; ++r) {
        const int64_t o = G.orow[g * R + r];
        if (o < 0) continue;
        float* op = out + o * L;
        for (int v = 0; v < V; ++v) {
            if (lanes[v] == W) store(op + ooff[v], acc[r][v]);
            else store_lanes(op + ooff[v], acc[r][v], 0, lanes[v]);
        }
    }
}

using PlaneFn = void (*)(const PlaneGroups&, int64_t, const float*, const int64_t*, float*, const int64_t*,
                         const int*, int64_t);
constexpr int kPlaneVmax = 12;

template <int R, int V, bool TAIL>
constexpr PlaneFn pick_plane() {
    if constexpr (V <= ptile<R>()) return &plane_tile<R, V, TAIL>;
    else return nullptr;
}
#define SB_PLANE_ROW(R, T)                                                                                      \
    {pick_plane<R, 1, T>(), pick_plane<R, 2, T>(),  pick_plane<R, 3, T>(),  pick_plane<R, 4, T>(),           \
     pick_plane<R, 5, T>(), pick_plane<R, 6, T>(),  pick_plane<R, 7, T>(),  pick_plane<R, 8, T>(),           \
     pick_plane<R, 9, T>(), pick_plane<R, 10, T>(), pick_plane<R, 11, T>(), pick_plane<R, 12, T>()}
#define SB_PLANE_TAB(R) {SB_PLANE_ROW(R, false), SB_PLANE_ROW(R, true)}
const PlaneFn kPlanes[4][2][kPlaneVmax] = {SB_PLANE_TAB(1), SB_PLANE_TAB(2), SB_PLANE_TAB(4), SB_PLANE_TAB(8)};
#undef SB_PLANE_TAB
#undef SB_PLANE_ROW

constexpr int plane_vt(int R) { return R == 1 ? ptile<1>() : R == 2 ? ptile<2>() : R == 4 ? ptile<4>() : ptile<8>(); }

// Tiles are runs of V consecutive position vectors of the whole batch (image-major, so a tile
// may span images when a plane is short); every tile is computed for every group while its
// input window stays in cache. Each output value is one tile's one row: the sums' order is
// fixed, whatever the thread count.
void planes_spmm(const PlaneGroups& G, const PlaneIO& io, int threads) {
    if (io.L <= 0 || io.nimg <= 0 || G.ngroups <= 0) return;
    const int ri = G.R == 1 ? 0 : G.R == 2 ? 1 : G.R == 4 ? 2 : 3;
    const int VT = plane_vt(G.R);
    const int64_t nv = (io.L + W - 1) / W, total = io.nimg * nv, ntiles = (total + VT - 1) / VT;
    // Enough work items for the threads: split the groups too when tiles are few.
    const int64_t want = 4 * int64_t(threads);
    const int64_t gchunks = ntiles >= want ? 1 : std::min<int64_t>(G.ngroups, (want + ntiles - 1) / ntiles);
    const int64_t gsize = (G.ngroups + gchunks - 1) / gchunks;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int64_t it = 0; it < ntiles * gchunks; ++it) {
        const int64_t t0 = (it / gchunks) * VT, gc = it % gchunks;
        const int V = int(std::min<int64_t>(VT, total - t0));
        int64_t voff[kPlaneVmax], ooff[kPlaneVmax];
        int lanes[kPlaneVmax];
        for (int v = 0; v < V; ++v) {
            const int64_t n = (t0 + v) / nv, q = ((t0 + v) % nv) * W;
            voff[v] = n * io.in_img + q;
            ooff[v] = n * io.out_img + q;
            lanes[v] = int(std::min<int64_t>(W, io.L - q));
        }
        const bool tail = t0 + V == total && lanes[V - 1] < W;
        const PlaneFn fn = kPlanes[ri][tail ? 1 : 0][V - 1];
        const int64_t g1 = std::min(G.ngroups, (gc + 1) * gsize);
        for (int64_t g = gc * gsize; g < g1; ++g) fn(G, g, io.in, voff, io.out, ooff, lanes, io.L);
    }
}

// jb x ib dot products of one tile over images [n0, n1), added to its gradient entries.
template <int JB, int IB>
void dots_tile(const PlaneDots& D, const PlaneDotTile& t, int i0, int64_t n0, int64_t n1) {
    F acc[JB][IB];
    for (int j = 0; j < JB; ++j)
        for (int i = 0; i < IB; ++i) acc[j][i] = zero();
    const int64_t L = D.L;
    for (int64_t n = n0; n < n1; ++n) {
        const float* dp[JB];
        const float* xp[IB];
        for (int j = 0; j < JB; ++j) dp[j] = D.dy + n * D.dy_img + int64_t(t.d[j]) * L;
        for (int i = 0; i < IB; ++i) xp[i] = D.x + n * D.x_img + int64_t(t.x[i0 + i]) * L;
        int64_t q = 0;
        for (; q + W <= L; q += W) {
            F xv[IB];
            for (int i = 0; i < IB; ++i) xv[i] = load(xp[i] + q);
            for (int j = 0; j < JB; ++j) {
                const F d = load(dp[j] + q);
                for (int i = 0; i < IB; ++i) acc[j][i] = fmadd(d, xv[i], acc[j][i]);
            }
        }
        if (q < L) {  // masked on both sides: nothing past a plane enters the sum
            const int nl = int(L - q);
            F xv[IB];
            for (int i = 0; i < IB; ++i) xv[i] = load_lanes(xp[i] + q, nl);
            for (int j = 0; j < JB; ++j) {
                const F d = load_lanes(dp[j] + q, nl);
                for (int i = 0; i < IB; ++i) acc[j][i] = fmadd(d, xv[i], acc[j][i]);
            }
        }
    }
    float* g = D.grad + t.off;
    for (int j = 0; j < JB; ++j)
        for (int i = 0; i < IB; ++i) g[j * D.gj + (i0 + i) * D.gi] += hsum(acc[j][i]);
}

template <int JB>
void dots_rows(const PlaneDots& D, const PlaneDotTile& t, int64_t n0, int64_t n1) {
    // 16-register ISAs take the inputs two at a time (4 x 4 accumulators would spill).
    constexpr int kI = kRegs >= 32 ? 4 : 2;
    for (int i0 = 0; i0 < t.ib;) {
        const int ib = std::min(kI, t.ib - i0);
        switch (ib) {
            case 1: dots_tile<JB, 1>(D, t, i0, n0, n1); break;
            case 2: dots_tile<JB, 2>(D, t, i0, n0, n1); break;
            case 3: dots_tile<JB, 3>(D, t, i0, n0, n1); break;
            default: dots_tile<JB, kI>(D, t, i0, n0, n1); break;
        }
        i0 += ib;
    }
}

// Images in chunks of D.nc; within a chunk every thread owns the same tiles (static schedule, one trip count), so no two
// threads add into one gradient value and the order of the sums is fixed by the shapes alone.
void plane_dots(const PlaneDots& D, int threads) {
    if (D.ntiles <= 0 || D.L <= 0 || D.nimg <= 0) return;
    const int64_t nc = std::max<int64_t>(1, D.nc);
#pragma omp parallel num_threads(threads)
    for (int64_t n0 = 0; n0 < D.nimg; n0 += nc) {
        const int64_t n1 = std::min(D.nimg, n0 + nc);
#pragma omp for schedule(static) nowait
        for (int64_t it = 0; it < D.ntiles; ++it) {
            const PlaneDotTile& t = D.tiles[it];
            switch (t.jb) {
                case 1: dots_rows<1>(D, t, n0, n1); break;
                case 2: dots_rows<2>(D, t, n0, n1); break;
                case 3: dots_rows<3>(D, t, n0, n1); break;
                default: dots_rows<4>(D, t, n0, n1); break;
            }
        }
    }
}

}  // namespace

extern const BsrKernels bsr = {&rows_spmm, &block_wgrad, &planes_spmm, &plane_dots};

}  // namespace sb::SB_ISA_NS
