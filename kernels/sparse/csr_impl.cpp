// Compiled once per ISA (SB_ISA_NS names the namespace): see CMakeLists.txt and csr.hpp.
// The microkernels of the CSR family: register-tile FMA over a plan's tiles and the SDDMM tile;
// the layouts and the plan come from csr.cpp.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "../common/simd.hpp"
#include "../common/workspace.hpp"
#include "csr.hpp"

namespace sb::SB_ISA_NS {
namespace {

using namespace simd;
using namespace csr_plan;

// --- the shared core: rows of sparse weights x shifted contiguous input runs ---------------

// acc[b][v] (+)= w_k * in0[b*img + off_k + v*W] for k in [k0, k1); starts from tb when accum
// (a partial sum of earlier nonzeros of the same row, so the summation order never changes);
// the tile goes to tb.
template <int NB, int VV>
void tile_fma(const float* in0, int64_t img, const int32_t* offs, const float* vals, int64_t k0, int64_t k1,
              float* tb, bool accum) {
    F acc[NB * VV];
    if (accum)
        for (int i = 0; i < NB * VV; ++i) acc[i] = load(tb + i * W);
    else
        for (int i = 0; i < NB * VV; ++i) acc[i] = zero();
    for (int64_t k = k0; k < k1; ++k) {
        const F w = set1(vals[k]);
        const float* p = in0 + offs[k];
        for (int b = 0; b < NB; ++b)
            for (int v = 0; v < VV; ++v) acc[b * VV + v] = fmadd(w, load(p + b * img + v * W), acc[b * VV + v]);
    }
    for (int i = 0; i < NB * VV; ++i) store(tb + i * W, acc[i]);
}

using TileFn = void (*)(const float*, int64_t, const int32_t*, const float*, int64_t, int64_t, float*, bool);

template <int NB, int VV>
constexpr TileFn pick_tile() {
    if constexpr (NB * VV <= kMaxAcc) return &tile_fma<NB, VV>;
    else return nullptr;
}
#define SB_TILE_ROW(NB)                                                                                     \
    {pick_tile<NB, 1>(), pick_tile<NB, 2>(), pick_tile<NB, 3>(), pick_tile<NB, 4>(), pick_tile<NB, 5>(), \
     pick_tile<NB, 6>(), pick_tile<NB, 7>(), pick_tile<NB, 8>()}
const TileFn kTiles[8][8] = {SB_TILE_ROW(1), SB_TILE_ROW(2), SB_TILE_ROW(3), SB_TILE_ROW(4),
                             SB_TILE_ROW(5), SB_TILE_ROW(6), SB_TILE_ROW(7), SB_TILE_ROW(8)};
#undef SB_TILE_ROW

// A run of lanes [lo, hi) of tile vector acc going to out + row offset + off (+ lane * dst_col).
struct Seg {
    int acc, lo, hi;
    int64_t off;
};

// The valid lanes of a tile (positions [p0, p0 + vv*W) of nb images) as segments.
void tile_segments(int nb, int vv, int64_t p0, const ClassGeom& c, int64_t RS, int64_t dst_img,
                   std::vector<Seg>& segs) {
    segs.clear();
    for (int b = 0; b < nb; ++b)
        for (int v = 0; v < vv; ++v) {
            const int64_t q = p0 + int64_t(v) * W, qend = std::min<int64_t>(q + W, c.L);
            for (int64_t a = q / RS; a * RS < qend; ++a) {
                const int64_t lo = std::max(q, a * RS) - q, hi = std::min(qend, a * RS + c.Acols) - q;
                if (hi > lo)
                    segs.push_back(Seg{b * vv + v, int(lo), int(hi),
                                       b * dst_img + a * c.dst_row + (q - a * RS) * c.dst_col});
            }
        }
}

inline void emit_tile(const float* tb, const std::vector<Seg>& segs, float* dst, int64_t dst_col) {
    if (dst_col == 1) {
        for (const Seg& s : segs) store_lanes(dst + s.off, load(tb + s.acc * W), s.lo, s.hi);
    } else {
        for (const Seg& s : segs)
            for (int l = s.lo; l < s.hi; ++l) dst[s.off + l * dst_col] = tb[s.acc * W + l];
    }
}

void run_tiles(const TileRun& P, int threads) {
    if (P.total == 0) return;
    const int ncls = int(P.cls.size());
    const int64_t nch = P.nch, cstride = P.cstride, nrc = P.nrc, rchunk = P.rchunk, total = P.total;
    const int32_t* cptr = P.cptr;
    const std::vector<TileItem>& items = P.items;
#pragma omp parallel num_threads(threads)
    {
        const int64_t tile_floats = int64_t(kMaxAcc) * W;
        float* tbuf = ws::get<float>(ws::kThreadTile, (nch > 1 ? kRowBlock : 1) * tile_floats);  // this worker's
        std::vector<Seg> segs;
        segs.reserve(64);
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < total; ++it) {
            const TileItem& I = items[it / nrc];
            const int64_t r0 = (it % nrc) * rchunk, r1 = std::min(P.R, r0 + rchunk);
            const ClassGeom& cg = P.cls[I.c];
            const TileFn fn = kTiles[I.nb - 1][I.vv - 1];
            const float* in0 = P.in + I.n0 * P.img + I.p0;
            tile_segments(I.nb, I.vv, I.p0, cg, P.RS, P.dst_img, segs);
            float* dst0 = P.out + I.n0 * P.dst_img + cg.dst_off;
            if (nch == 1) {
                for (int64_t r = r0; r < r1; ++r) {
                    const int64_t k0 = P.ptr[r * ncls + I.c], k1 = P.ptr[r * ncls + I.c + 1];
                    fn(in0, P.img, P.offs, P.vals, k0, k1, tbuf, false);
                    emit_tile(tbuf, segs, dst0 + r * P.dst_ch, cg.dst_col);
                }
                continue;
            }
            for (int64_t rb = r0; rb < r1; rb += kRowBlock) {
                const int64_t rb1 = std::min(r1, rb + kRowBlock);
                for (int64_t j = 0; j < nch; ++j)
                    for (int64_t r = rb; r < rb1; ++r) {
                        const int32_t* cpp = cptr + (r * ncls + I.c) * cstride;
                        if (j > 0 && cpp[j] == cpp[j + 1]) continue;
                        fn(in0, P.img, P.offs, P.vals, cpp[j], cpp[j + 1], tbuf + (r - rb) * tile_floats, j > 0);
                    }
                for (int64_t r = rb; r < rb1; ++r)
                    emit_tile(tbuf + (r - rb) * tile_floats, segs, dst0 + r * P.dst_ch, cg.dst_col);
            }
        }
    }
}

// --- SpMM core: positions as the vector dimension (csr_plan::SpmmRun) ------------------------

// One tile of one row: acc[b][v] (+)= w_k * in0[b*img + off_k + v*W] for k in [k0, k1), starting
// from the output when accum (a partial sum of the row's earlier channel chunks, so the order of
// the sums never changes), stored straight to o0 + b*oimg + v*W. TAIL: the last vector of every
// image holds only `tail` valid lanes (loads and stores masked: nothing past them is touched).
template <int NB, int VV, bool TAIL>
void spmm_tile(const float* in0, int64_t img, const int32_t* offs, const float* vals, int64_t k0, int64_t k1,
               float* o0, int64_t oimg, int tail, bool accum) {
    F acc[NB * VV];
    if (accum) {
        for (int b = 0; b < NB; ++b)
            for (int v = 0; v < VV; ++v)
                acc[b * VV + v] = (TAIL && v == VV - 1) ? load_lanes(o0 + b * oimg + v * W, tail)
                                                        : load(o0 + b * oimg + v * W);
    } else {
        for (int i = 0; i < NB * VV; ++i) acc[i] = zero();
    }
    for (int64_t k = k0; k < k1; ++k) {
        const F w = set1(vals[k]);
        const float* p = in0 + offs[k];
        for (int b = 0; b < NB; ++b)
            for (int v = 0; v < VV; ++v) {
                const F x = (TAIL && v == VV - 1) ? load_lanes(p + b * img + v * W, tail) : load(p + b * img + v * W);
                acc[b * VV + v] = fmadd(w, x, acc[b * VV + v]);
            }
    }
    for (int b = 0; b < NB; ++b)
        for (int v = 0; v < VV; ++v) {
            if (TAIL && v == VV - 1) store_lanes(o0 + b * oimg + v * W, acc[b * VV + v], 0, tail);
            else store(o0 + b * oimg + v * W, acc[b * VV + v]);
        }
}

using SpmmFn = void (*)(const float*, int64_t, const int32_t*, const float*, int64_t, int64_t, float*, int64_t, int,
                        bool);

template <int NB, int VV, bool TAIL>
constexpr SpmmFn pick_spmm() {
    if constexpr (NB * VV <= kMaxAcc) return &spmm_tile<NB, VV, TAIL>;
    else return nullptr;
}
#define SB_SPMM_ROW(NB, T)                                                                                       \
    {pick_spmm<NB, 1, T>(), pick_spmm<NB, 2, T>(), pick_spmm<NB, 3, T>(), pick_spmm<NB, 4, T>(),             \
     pick_spmm<NB, 5, T>(), pick_spmm<NB, 6, T>(), pick_spmm<NB, 7, T>(), pick_spmm<NB, 8, T>()}
#define SB_SPMM_TAB(T)                                                                                           \
    {SB_SPMM_ROW(1, T), SB_SPMM_ROW(2, T), SB_SPMM_ROW(3, T), SB_SPMM_ROW(4, T),                             \
     SB_SPMM_ROW(5, T), SB_SPMM_ROW(6, T), SB_SPMM_ROW(7, T), SB_SPMM_ROW(8, T)}
const SpmmFn kSpmm[2][8][8] = {SB_SPMM_TAB(false), SB_SPMM_TAB(true)};
#undef SB_SPMM_TAB
#undef SB_SPMM_ROW

void run_spmm(const SpmmRun& P, int threads) {
    if (P.total == 0) return;
    const int64_t nch = P.nch, nrc = P.nrc, rchunk = P.rchunk, R = P.R, L = P.L;
    const int tail = int(L % W);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int64_t it = 0; it < P.total; ++it) {
        const SpmmItem& I = P.items[it / nrc];
        const int64_t r0 = (it % nrc) * rchunk, r1 = std::min(R, r0 + rchunk);
        const bool has_tail = tail > 0 && I.p0 + int64_t(I.vv) * W > L;
        const SpmmFn fn = kSpmm[has_tail ? 1 : 0][I.nb - 1][I.vv - 1];
        const float* in0 = P.in + I.n0 * P.in_img + I.p0;
        float* o0 = P.out + I.n0 * P.out_img + I.p0;
        // The next tile's output lines of the same row, requested for writing one tile ahead:
        // the rows of a tile are far apart (one output plane each), too many streams for the
        // hardware prefetcher, and a store that misses waits for the line (read for ownership).
        const float* pf = nullptr;
        int64_t pf_floats = 0, pf_img = 0;
        int pf_nb = 0;
        if (it + nrc < P.total) {
            const SpmmItem& J = P.items[(it + nrc) / nrc];
            pf = P.out + J.n0 * P.out_img + J.p0;
            pf_floats = std::min<int64_t>(int64_t(J.vv) * W, L - J.p0);
            pf_nb = J.nb;
            pf_img = P.out_img;
        }
        if (nch == 1) {
            for (int64_t r = r0; r < r1; ++r) {
                if (pf)
                    for (int b = 0; b < pf_nb; ++b) {
                        const char* q = reinterpret_cast<const char*>(pf + b * pf_img + r * P.out_row);
                        for (int64_t off = 0; off < pf_floats * 4; off += 64) __builtin_prefetch(q + off, 1, 3);
                    }
                fn(in0, P.in_img, P.offs, P.vals, P.ptr[r], P.ptr[r + 1], o0 + r * P.out_row, P.out_img, tail, false);
            }
            continue;
        }
        for (int64_t j = 0; j < nch; ++j)
            for (int64_t r = r0; r < r1; ++r) {
                const int32_t* cp = P.cptr + r * (nch + 1);
                if (j > 0 && cp[j] == cp[j + 1]) continue;
                fn(in0, P.in_img, P.offs, P.vals, cp[j], cp[j + 1], o0 + r * P.out_row, P.out_img, tail, j > 0);
            }
    }
}

// --- SDDMM core: dval[k] = sum_n sum_p dyf[n, row, p] * x[n, off_k + p], p < Lp -------------
// Lp need not be a multiple of W (the pointwise conv reads the NCHW planes in place): the last
// partial vector is loaded masked on both sides, so nothing past a plane enters the sum.

template <int T>
void sddmm_tile(const float* dy0, int64_t dy_img, const float* x0, int64_t x_img, const int32_t* offs, int64_t n,
                int64_t Lp, float* out) {
    F acc[T];
    for (int t = 0; t < T; ++t) acc[t] = zero();
    for (int64_t b = 0; b < n; ++b) {
        const float* d = dy0 + b * dy_img;
        const float* x = x0 + b * x_img;
        const float* xp[T];
        for (int t = 0; t < T; ++t) xp[t] = x + offs[t];
        int64_t p = 0;
        for (; p + W <= Lp; p += W) {
            const F dv = load(d + p);
            for (int t = 0; t < T; ++t) acc[t] = fmadd(dv, load(xp[t] + p), acc[t]);
        }
        if (p < Lp) {
            const int n_l = int(Lp - p);
            const F dv = load_lanes(d + p, n_l);
            for (int t = 0; t < T; ++t) acc[t] = fmadd(dv, load_lanes(xp[t] + p, n_l), acc[t]);
        }
    }
    for (int t = 0; t < T; ++t) out[t] = hsum(acc[t]);
}

using SddmmFn = void (*)(const float*, int64_t, const float*, int64_t, const int32_t*, int64_t, int64_t, float*);
const SddmmFn kSddmm[8] = {&sddmm_tile<1>, &sddmm_tile<2>, &sddmm_tile<3>, &sddmm_tile<4>,
                           &sddmm_tile<5>, &sddmm_tile<6>, &sddmm_tile<7>, &sddmm_tile<8>};

void run_sddmm(const SddmmRun& S, int threads) {
    const int64_t R = S.R, Lp = S.Lp, x_img = S.x_img, nimg = S.nimg, nc = S.nc;
    const int32_t* row_ptr = S.row_ptr;
    const int32_t* offs = S.offs;
    const float* dyf = S.dyf;
    const float* x = S.x;
    float* dval = S.dval;
    const int64_t dy_img = R * Lp;
    for (int64_t n0 = 0; n0 < nimg; n0 += nc) {
        const int64_t nn = std::min(nc, nimg - n0);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
        for (int64_t r = 0; r < R; ++r) {
            float part[kMaxAcc];
            for (int64_t k = row_ptr[r]; k < row_ptr[r + 1]; k += kMaxAcc) {
                const int64_t t = std::min<int64_t>(kMaxAcc, row_ptr[r + 1] - k);
                kSddmm[t - 1](dyf + n0 * dy_img + r * Lp, dy_img, x + n0 * x_img, x_img, offs + k, nn, Lp, part);
                for (int64_t i = 0; i < t; ++i) dval[k + i] = (n0 == 0 ? 0.0f : dval[k + i]) + part[i];
            }
        }
    }
}

// --- layout passes (compiled with the variant's flags) -----------------------------------------

// Fills P (see csr_plan::Prepared) from x: zero border, stride phases split, zero slack.
void prepare_input(const ConvGeometry& g, const Prepared& P, const float* x, int threads) {
    const int64_t s = g.sh;
    float* out = P.buf;
    std::fill(out + g.N * P.img, out + g.N * P.img + P.slack, 0.0f);
#pragma omp parallel for num_threads(threads) schedule(static) collapse(2)
    for (int64_t n = 0; n < g.N; ++n)
        for (int64_t ci = 0; ci < g.Cin; ++ci) {
            const float* src = x + (n * g.Cin + ci) * g.H * g.W;
            for (int64_t ph = 0; ph < s; ++ph)
                for (int64_t pw = 0; pw < s; ++pw) {
                    float* dst = out + n * P.img + ((ci * s + ph) * s + pw) * P.plane;
                    for (int64_t r = 0; r < P.Hq; ++r) {
                        float* d = dst + r * P.Wq;
                        const int64_t h = r * s + ph - g.ph;
                        if (h < 0 || h >= g.H) {
                            std::fill(d, d + P.Wq, 0.0f);
                            continue;
                        }
                        const float* srow = src + h * g.W;
                        if (s == 1) {
                            const int64_t lo = std::min(g.ph, P.Wq), hi = std::min(P.Wq, g.ph + g.W);
                            std::fill(d, d + lo, 0.0f);
                            if (hi > lo) std::memcpy(d + lo, srow + (lo - g.ph), sizeof(float) * (hi - lo));
                            std::fill(d + std::max(hi, lo), d + P.Wq, 0.0f);
                        } else {
                            // columns c with w = c*s + pw - pad in [0, W): a branch-free strided
                            // copy between zero borders
                            const int64_t off = pw - g.ph;
                            const int64_t clo = std::min(P.Wq, off >= 0 ? int64_t(0) : (-off + s - 1) / s);
                            const int64_t chi = std::max(clo, std::min(P.Wq, g.W - off > 0 ? (g.W - off + s - 1) / s : 0));
                            std::fill(d, d + clo, 0.0f);
                            const float* sp = srow + off;
                            for (int64_t c = clo; c < chi; ++c) d[c] = sp[c * s];
                            std::fill(d + chi, d + P.Wq, 0.0f);
                        }
                    }
                }
        }
}

// --- linear layouts: the batch as the vector dimension ----------------------------------------

// a (rows, cols) -> out (cols, ld) with out[c, r] = a[r, c]; columns r >= rows of out untouched.
void transpose(const float* a, int64_t rows, int64_t cols, float* out, int64_t ld, int threads) {
    constexpr int64_t Bk = 32;
#pragma omp parallel for num_threads(threads) schedule(static) collapse(2)
    for (int64_t c0 = 0; c0 < cols; c0 += Bk)
        for (int64_t r0 = 0; r0 < rows; r0 += Bk) {
            const int64_t c1 = std::min(cols, c0 + Bk), r1 = std::min(rows, r0 + Bk);
            for (int64_t c = c0; c < c1; ++c)
                for (int64_t r = r0; r < r1; ++r) out[c * ld + r] = a[r * cols + c];
        }
}

}  // namespace

extern const CsrKernels csr = {W, &run_tiles, &run_sddmm, &run_spmm, &prepare_input, &transpose};

}  // namespace sb::SB_ISA_NS
