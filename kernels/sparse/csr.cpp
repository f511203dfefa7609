// Unstructured (CSR) conv / linear stages: the layouts (prepared input, padded / flattened
// output gradient, transposes), the per-nonzero offsets and the tiling plan of every stage,
// compiled once; the variant's microkernels (csr_impl.cpp) execute the plan. See csr.hpp.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "../common/phases.hpp"
#include "../common/workspace.hpp"
#include "csr.hpp"

namespace sb {
namespace {

using namespace csr_plan;

inline int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t floordiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
inline int64_t ceildiv_signed(int64_t a, int64_t b) { return -floordiv(-a, b); }

// L1 bytes the input window of one (tile, channel chunk) may take.
constexpr int64_t kL1WindowBytes = 20 << 10;
// Chunk only when a (row, chunk) keeps at least this many nonzeros on average: each chunk
// costs a reload and store of the tile.
constexpr double kMinNnzPerChunk = 12.0;

// Register tiles over V vectors of positions in each of nimg images: V >= kMaxAcc splits into
// near-equal tiles of at most kMaxAcc vectors; otherwise whole images are packed, nb per tile.
// emit(nb, vectors, first image, first position) per tile; returns the largest nb * vectors.
template <class Emit>
int split_tiles(int64_t V, int64_t nimg, int W, Emit emit) {
    int max_tile = 1;
    if (V >= kMaxAcc) {
        const int64_t nt = cdiv(V, kMaxAcc);
        for (int64_t n = 0; n < nimg; ++n) {
            int64_t v0 = 0;
            for (int64_t t = 0; t < nt; ++t) {
                const int64_t vv = V / nt + (t < V % nt ? 1 : 0);
                emit(1, int(vv), n, v0 * W);
                max_tile = std::max<int>(max_tile, int(vv));
                v0 += vv;
            }
        }
    } else {
        const int64_t NB = kMaxAcc / V;
        for (int64_t n0 = 0; n0 < nimg; n0 += NB) {
            const int nb = int(std::min(NB, nimg - n0));
            emit(nb, int(V), n0, int64_t(0));
            max_tile = std::max<int>(max_tile, nb * int(V));
        }
    }
    return max_tile;
}

// Per row, where each of nch channel chunks of `span` offset units starts among its nonzeros
// (offsets ascend within a row): rows x (nch + 1) pointers in the workspace.
const int32_t* chunk_pointers(const int32_t* ptr, const int32_t* offs, int64_t rows, int64_t nch, int64_t span,
                              int threads) {
    int32_t* cp = ws::get<int32_t>(ws::kPointers, rows * (nch + 1));
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
        int32_t k = ptr[r];
        const int32_t k1 = ptr[r + 1];
        int32_t* o = cp + r * (nch + 1);
        for (int64_t j = 0; j < nch; ++j) {
            o[j] = k;
            while (k < k1 && offs[k] < (j + 1) * span) ++k;
        }
        o[nch] = k1;
    }
    return cp;
}

// The tiling of P for vectors of W lanes: fills P.items, the chunking and the work count.
void plan_tiles(TileRun& P, int W, int threads) {
    phases::Scope phase_scope("plan");
    std::vector<TileItem>& items = P.items;
    items.clear();
    const int ncls = int(P.cls.size());
    int max_tile = 1, max_nb = 1;
    for (int c = 0; c < ncls; ++c) {
        const int64_t L = P.cls[c].L;
        if (L <= 0 || P.nimg <= 0) continue;
        max_tile = std::max(max_tile, split_tiles(cdiv(L, W), P.nimg, W, [&](int nb, int vv, int64_t n0, int64_t p0) {
            items.push_back({c, nb, vv, n0, p0});
            max_nb = std::max(max_nb, nb);
        }));
    }
    P.total = 0;
    if (items.empty() || P.R <= 0) return;

    // Channel chunks: the input window of one chunk (all its channels, for the tile's images)
    // stays in L1 while every row of a row block consumes its nonzeros.
    const int64_t nnz = P.ptr[P.R * ncls];
    const int64_t nchan = P.chan > 0 ? cdiv(P.img, P.chan) : 1;
    const int64_t win =
        int64_t(sizeof(float)) * max_nb * P.chan_runs * (int64_t(max_tile / max_nb) * W + P.chan_window);
    int64_t cpc = std::max<int64_t>(1, kL1WindowBytes / std::max<int64_t>(win, 1));  // channels per chunk
    int64_t nch = cdiv(nchan, cpc);
    if (nch > 1 && double(nnz) / double(P.R * ncls * nch) < kMinNnzPerChunk) {
        nch = std::max<int64_t>(1, int64_t(double(nnz) / double(P.R * ncls) / kMinNnzPerChunk));
        cpc = cdiv(nchan, nch);
        nch = cdiv(nchan, cpc);
    }
    // cptr[(r*ncls + c)*(nch+1) + j]: first nonzero of chunk j in segment (r, c).
    const int32_t* cptr = P.ptr;
    int64_t cstride = 1;
    if (nch > 1) {
        cptr = chunk_pointers(P.ptr, P.offs, P.R * ncls, nch, cpc * P.chan, threads);
        cstride = nch + 1;
    }

    // Row chunks only when there are too few tiles to feed the threads.
    const int64_t want = 4 * int64_t(threads);
    const int64_t nrc = int64_t(items.size()) >= want ? 1 : std::min<int64_t>(P.R, cdiv(want, int64_t(items.size())));
    const int64_t rchunk = cdiv(P.R, nrc);
    const int64_t total = int64_t(items.size()) * nrc;
    P.nch = nch;
    P.cptr = cptr;
    P.cstride = cstride;
    P.nrc = nrc;
    P.rchunk = rchunk;
    P.total = total;
}

// L1 bytes the input window of one SpMM (tile, channel chunk) may take.
constexpr int64_t kSpmmWindowBytes = 32 << 10;

// The tiling of an SpMM (csr_plan::SpmmRun) for vectors of W lanes: tiles of at most kMaxAcc
// vectors (nb images x vv vectors when a row is short), channel chunks so that one chunk's input
// window (chans rows of the tile) stays in L1, row chunks when there are too few tiles.
// nchan: input rows; chan: floats between input rows (offs / chan = the row of a nonzero).
void plan_spmm(SpmmRun& P, int64_t nchan, int64_t chan, int W, int threads) {
    phases::Scope phase_scope("plan");
    P.items.clear();
    P.total = 0;
    if (P.L <= 0 || P.nimg <= 0 || P.R <= 0) return;
    const int max_tile = split_tiles(cdiv(P.L, W), P.nimg, W, [&](int nb, int vv, int64_t n0, int64_t p0) {
        P.items.push_back({nb, vv, n0, p0});
    });
    const int64_t nnz = P.ptr[P.R];
    const int64_t win = int64_t(sizeof(float)) * max_tile * W;  // per input row
    int64_t cpc = std::max<int64_t>(1, kSpmmWindowBytes / win);
    int64_t nch = cdiv(nchan, cpc);
    if (nch > 1 && double(nnz) / double(P.R * nch) < kMinNnzPerChunk) {
        nch = std::max<int64_t>(1, int64_t(double(nnz) / double(P.R) / kMinNnzPerChunk));
        cpc = cdiv(nchan, nch);
        nch = cdiv(nchan, cpc);
    }
    P.nch = nch;
    P.cptr = nullptr;
    if (nch > 1) {
        P.cptr = chunk_pointers(P.ptr, P.offs, P.R, nch, cpc * chan, threads);
    }
    const int64_t want = 4 * int64_t(threads);
    const int64_t ni = int64_t(P.items.size());
    P.nrc = ni >= want ? 1 : std::min<int64_t>(P.R, cdiv(want, ni));
    P.rchunk = cdiv(P.R, P.nrc);
    P.nrc = cdiv(P.R, P.rchunk);
    P.total = ni * P.nrc;
}

// The SDDMM run of a plan: images per chunk (enough vectors to amortize the horizontal sums,
// few enough for L2), from the shapes and W only, never from threads: results are
// thread-count independent.
void run_sddmm(const CsrKernels& K, int64_t R, const int32_t* row_ptr, const int32_t* offs, const float* dyf,
               int64_t Lp, const float* x, int64_t x_img, int64_t nimg, float* dval, int threads) {
    const int W = K.W;
    const int64_t nnz = row_ptr[R];
    if (nnz == 0) return;
    if (nimg <= 0 || Lp <= 0) {
        std::fill(dval, dval + nnz, 0.0f);
        return;
    }
    int64_t nc = std::min(nimg, std::max<int64_t>(1, cdiv(32, cdiv(Lp, W))));
    while (nc > 1 && nc * x_img * int64_t(sizeof(float)) > (int64_t(1) << 20)) --nc;
    K.run_sddmm(SddmmRun{R, row_ptr, offs, dyf, Lp, x, x_img, nimg, nc, dval}, threads);
}

// --- layout preparation --------------------------------------------------------------------

// The prepared input's layout (csr_plan::Prepared) for this geometry and vector width, in the calling thread's
// workspace; the variant's prepare_input fills it.
Prepared prepared_layout(const ConvGeometry& g, int64_t slack_extra, int W) {
    Prepared P;
    const int64_t s = g.stride(), Hp = g.H + 2 * g.pad(), Wp = g.W + 2 * g.pad();
    P.Hq = cdiv(Hp, s);
    P.Wq = cdiv(Wp, s);
    P.plane = P.Hq * P.Wq;
    P.img = g.Cin * s * s * P.plane;
    P.slack = slack_extra + 2 * W;
    P.buf = ws::get<float>(ws::kInput, g.N * P.img + P.slack);
    return P;
}

Prepared prepare_input(const CsrKernels& K, const ConvGeometry& g, const float* x, int64_t slack_extra, int threads) {
    phases::Scope phase_scope("layout:prepare_input");
    const Prepared P = prepared_layout(g, slack_extra, K.W);
    K.prepare_input(g, P, x, threads);
    return P;
}

// Offset of each nonzero (ci, i, j) in the prepared input.
int32_t* forward_offsets(const ConvGeometry& g, const Prepared& P, const int32_t* row_ptr, const int32_t* col,
                         int threads) {
    phases::Scope phase_scope("plan");
    const int64_t kk = g.kh * g.kw, s = g.stride(), nnz = row_ptr[g.Cout];
    std::vector<int32_t> tapoff(size_t(std::max<int64_t>(kk, 1)));
    for (int64_t i = 0; i < g.kh; ++i)
        for (int64_t j = 0; j < g.kw; ++j)
            tapoff[i * g.kw + j] = int32_t(((i % s) * s + (j % s)) * P.plane + (i / s) * P.Wq + (j / s));
    int32_t* offs = ws::get<int32_t>(ws::kIndex, nnz);
    const int64_t cstride = s * s * P.plane;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t k = 0; k < nnz; ++k) {
        const int32_t c = col[k];
        const int32_t ci = int32_t(c / kk);
        offs[k] = int32_t(ci * cstride) + tapoff[c - ci * kk];
    }
    return offs;
}

// One positions-innermost SpMM on planes: R output rows from `in_ch` input planes of L positions,
// N images (1x1 stride-1 conv forward W x X and backward-data W^T x dY on NCHW; linear on the
// transposed batch, N = 1).
void run_pointwise(const CsrKernels& K, const float* in, int64_t in_ch, const int32_t* ptr, const int32_t* offs,
                   const float* vals, int64_t R, int64_t L, int64_t N, float* out, int threads) {
    SpmmRun sp;
    sp.in = in;
    sp.in_img = in_ch * L;
    sp.ptr = ptr;
    sp.offs = offs;
    sp.vals = vals;
    sp.R = R;
    sp.L = L;
    sp.nimg = N;
    sp.out = out;
    sp.out_img = R * L;
    sp.out_row = L;
    plan_spmm(sp, in_ch, L, K.W, threads);
    K.run_spmm(sp, threads);
}

}  // namespace

void csr_conv_forward(Isa isa, const ConvGeometry& g, const int32_t* row_ptr, const int32_t* col, const float* val,
                  const float* x, float* y, int threads) {
    const CsrKernels& K = csr_for(isa);
    const int W = K.W;
    if (g.N == 0 || g.Cout == 0 || g.Ho <= 0 || g.Wo <= 0) return;
    ws::Scope scope;
    if (g.pointwise()) {
        const int64_t L = g.H * g.W, nnz = row_ptr[g.Cout];
        int32_t* offs = ws::get<int32_t>(ws::kIndex, nnz);
        for (int64_t k = 0; k < nnz; ++k) offs[k] = int32_t(col[k] * L);
        run_pointwise(K, x, g.Cin, row_ptr, offs, val, g.Cout, L, g.N, y, threads);
        return;
    }
    const int64_t Wq = cdiv(g.W + 2 * g.pad(), g.stride());
    const int64_t L = g.Ho * Wq;
    const Prepared P = prepare_input(K, g, x, cdiv(L, W) * W, threads);
    const int32_t* offs = forward_offsets(g, P, row_ptr, col, threads);
    TileRun pl;
    pl.in = P.buf;
    pl.img = P.img;
    pl.nimg = g.N;
    pl.RS = P.Wq;
    pl.cls = {ClassGeom{L, g.Ho, g.Wo, 0, g.Wo, 1}};
    pl.R = g.Cout;
    pl.ptr = row_ptr;
    pl.vals = val;
    pl.offs = offs;
    pl.chan = g.stride() * g.stride() * P.plane;
    pl.chan_window = ((g.kh - 1) / g.stride()) * P.Wq + (g.kw - 1) / g.stride();
    pl.chan_runs = g.stride() * g.stride();
    pl.out = y;
    pl.dst_img = g.Cout * g.Ho * g.Wo;
    pl.dst_ch = g.Ho * g.Wo;
    plan_tiles(pl, W, threads);
    K.run_tiles(pl, threads);
}

void csr_conv_backward_data(Isa isa, const ConvGeometry& g, const int32_t* tptr, const int32_t* tsrc, const int32_t* tco,
                        const int32_t* ttap, const float* val, const float* dy, float* dx, int threads) {
    const CsrKernels& K = csr_for(isa);
    const int W = K.W;
    if (g.N == 0 || g.Cin == 0 || g.H == 0 || g.W == 0) return;
    if (g.pointwise()) {
        ws::Scope scope;
        const int64_t L = g.H * g.W, nnz = tptr[g.Cin];
        float* tval = ws::get<float>(ws::kValues, nnz);
        int32_t* toff = ws::get<int32_t>(ws::kIndex, nnz);
        for (int64_t t = 0; t < nnz; ++t) {
            tval[t] = val[tsrc[t]];
            toff[t] = int32_t(tco[t] * L);
        }
        run_pointwise(K, dy, g.Cout, tptr, toff, tval, g.Cin, L, g.N, dx, threads);
        return;
    }
    const int64_t s = g.stride(), ncls = s * s;
    const int64_t qh = cdiv(g.kh, s) - 1, qw = cdiv(g.kw, s) - 1;
    std::vector<int64_t> alo_h(s), ah(s), alo_w(s), aw(s);
    int64_t Hd = 1, Wd = 1;
    for (int64_t r = 0; r < s; ++r) {
        alo_h[r] = std::max<int64_t>(0, ceildiv_signed(g.pad() - r, s));
        const int64_t hi_h = ceildiv_signed(g.pad() + g.H - r, s);
        ah[r] = std::max<int64_t>(0, hi_h - alo_h[r]);
        Hd = std::max(Hd, hi_h + qh);
        alo_w[r] = std::max<int64_t>(0, ceildiv_signed(g.pad() - r, s));
        const int64_t hi_w = ceildiv_signed(g.pad() + g.W - r, s);
        aw[r] = std::max<int64_t>(0, hi_w - alo_w[r]);
        Wd = std::max(Wd, hi_w + qw);
    }
    const int64_t plane = Hd * Wd, img = g.Cout * plane;
    int64_t Vmax = 0;
    for (int64_t r = 0; r < s; ++r) Vmax = std::max(Vmax, cdiv(ah[r] * Wd, W));
    const int64_t slack = Vmax * W + 2 * W;
    ws::Scope scope;
    float* dyp = ws::get<float>(ws::kInput, g.N * img + slack);
    std::fill(dyp + g.N * img, dyp + g.N * img + slack, 0.0f);
    {
        phases::Scope phase_scope("layout:pad_dy");
#pragma omp parallel for num_threads(threads) schedule(static) collapse(2)
        for (int64_t n = 0; n < g.N; ++n)
            for (int64_t co = 0; co < g.Cout; ++co) {
                float* d = dyp + (n * g.Cout + co) * plane;
                const float* src = dy + (n * g.Cout + co) * g.Ho * g.Wo;
                for (int64_t m = 0; m < Hd; ++m) {
                    float* drow = d + m * Wd;
                    const int64_t ho = m - qh;
                    if (ho < 0 || ho >= g.Ho) {
                        std::fill(drow, drow + Wd, 0.0f);
                        continue;
                    }
                    const int64_t lo = std::min(qw, Wd), hi = std::min(Wd, qw + g.Wo);
                    std::fill(drow, drow + lo, 0.0f);
                    if (hi > lo) std::memcpy(drow + lo, src + ho * g.Wo + (lo - qw), sizeof(float) * (hi - lo));
                    std::fill(drow + std::max(hi, lo), drow + Wd, 0.0f);
                }
            }
    }
    const int64_t nnz = tptr[g.Cin * ncls];
    float* tval = ws::get<float>(ws::kValues, nnz);
    int32_t* toff = ws::get<int32_t>(ws::kIndex, nnz);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t t = 0; t < nnz; ++t) {
        tval[t] = val[tsrc[t]];
        const int64_t i = ttap[t] / g.kw, j = ttap[t] % g.kw;
        toff[t] = int32_t(tco[t] * plane + (alo_h[i % s] - i / s + qh) * Wd + (alo_w[j % s] - j / s + qw));
    }
    TileRun pl;
    pl.in = dyp;
    pl.img = img;
    pl.nimg = g.N;
    pl.RS = Wd;
    for (int64_t rh = 0; rh < s; ++rh)
        for (int64_t rw = 0; rw < s; ++rw)
            pl.cls.push_back(ClassGeom{ah[rh] * Wd, ah[rh], aw[rw],
                                       (s * alo_h[rh] + rh - g.pad()) * g.W + (s * alo_w[rw] + rw - g.pad()), s * g.W,
                                       s});
    pl.R = g.Cin;
    pl.ptr = tptr;
    pl.vals = tval;
    pl.offs = toff;
    pl.chan = plane;
    pl.chan_window = qh * Wd + qw;
    pl.chan_runs = 1;
    pl.out = dx;
    pl.dst_img = g.Cin * g.H * g.W;
    pl.dst_ch = g.H * g.W;
    plan_tiles(pl, W, threads);
    K.run_tiles(pl, threads);
}

void csr_conv_weight_grad_sampled(Isa isa, const ConvGeometry& g, const int32_t* row_ptr, const int32_t* col, const float* x,
                              const float* dy, float* dval, int threads) {
    const CsrKernels& K = csr_for(isa);
    const int W = K.W;
    const int64_t nnz = row_ptr[g.Cout];
    if (nnz == 0) return;
    if (g.N == 0 || g.Ho <= 0 || g.Wo <= 0) {
        std::fill(dval, dval + nnz, 0.0f);
        return;
    }
    ws::Scope scope;
    if (g.pointwise()) {  // x and dy read in place: their planes are the SDDMM's rows
        const int64_t L = g.H * g.W;
        int32_t* offs = ws::get<int32_t>(ws::kIndex, nnz);
        for (int64_t k = 0; k < nnz; ++k) offs[k] = int32_t(col[k] * L);
        run_sddmm(K, g.Cout, row_ptr, offs, dy, L, x, g.Cin * L, g.N, dval, threads);
        return;
    }
    const int64_t Wq = cdiv(g.W + 2 * g.pad(), g.stride());
    const int64_t L = g.Ho * Wq, Lp = cdiv(L, W) * W;
    const Prepared P = prepare_input(K, g, x, Lp, threads);
    const int32_t* offs = forward_offsets(g, P, row_ptr, col, threads);
    float* dyf = ws::get<float>(ws::kAux, g.N * g.Cout * Lp);
    {
        phases::Scope phase_scope("layout:pad_dy");
#pragma omp parallel for num_threads(threads) schedule(static) collapse(2)
        for (int64_t n = 0; n < g.N; ++n)
            for (int64_t co = 0; co < g.Cout; ++co) {
                float* d = dyf + (n * g.Cout + co) * Lp;
                const float* src = dy + (n * g.Cout + co) * g.Ho * g.Wo;
                for (int64_t ho = 0; ho < g.Ho; ++ho) {
                    std::memcpy(d + ho * Wq, src + ho * g.Wo, sizeof(float) * g.Wo);
                    std::fill(d + ho * Wq + g.Wo, d + (ho + 1) * Wq, 0.0f);
                }
                std::fill(d + g.Ho * Wq, d + Lp, 0.0f);
            }
    }
    run_sddmm(K, g.Cout, row_ptr, offs, dyf, Lp, P.buf, P.img, g.N, dval, threads);
}


void csr_linear_forward(Isa isa, int64_t B, int64_t in, int64_t out, const int32_t* row_ptr, const int32_t* col,
                    const float* val, const float* x, float* y, int threads) {
    const CsrKernels& K = csr_for(isa);
    if (B == 0 || out == 0) return;
    ws::Scope scope;
    // yt (out, B) = W (out, in) x xt (in, B): the batch as the vector dimension, then y = yt^T.
    float* xt = ws::get<float>(ws::kInput, in * B);
    float* yt = ws::get<float>(ws::kOutput, out * B);
    {
        phases::Scope phase_scope("layout:transpose");
        K.transpose(x, B, in, xt, B, threads);
    }
    const int64_t nnz = row_ptr[out];
    int32_t* offs = ws::get<int32_t>(ws::kIndex, nnz);
    for (int64_t k = 0; k < nnz; ++k) offs[k] = int32_t(col[k] * B);
    run_pointwise(K, xt, in, row_ptr, offs, val, out, B, 1, yt, threads);  // one "image" of B positions
    phases::Scope phase_scope("layout:transpose");
    K.transpose(yt, out, B, y, out, threads);
}

void csr_linear_backward_data(Isa isa, int64_t B, int64_t in, int64_t out, const int32_t* tptr, const int32_t* tsrc,
                          const int32_t* tco, const float* val, const float* dy, float* dx, int threads) {
    const CsrKernels& K = csr_for(isa);
    if (B == 0 || in == 0) return;
    ws::Scope scope;
    // dxt (in, B) = W^T (in, out) x dyt (out, B) with the transposed structure, then dx = dxt^T.
    float* dyt = ws::get<float>(ws::kInput, out * B);
    float* dxt = ws::get<float>(ws::kOutput, in * B);
    {
        phases::Scope phase_scope("layout:transpose");
        K.transpose(dy, B, out, dyt, B, threads);
    }
    const int64_t nnz = tptr[in];
    float* tval = ws::get<float>(ws::kValues, nnz);
    int32_t* toff = ws::get<int32_t>(ws::kIndex, nnz);
    for (int64_t t = 0; t < nnz; ++t) {
        tval[t] = val[tsrc[t]];
        toff[t] = int32_t(tco[t] * B);
    }
    run_pointwise(K, dyt, out, tptr, toff, tval, in, B, 1, dxt, threads);
    phases::Scope phase_scope("layout:transpose");
    K.transpose(dxt, in, B, dx, in, threads);
}

void csr_linear_weight_grad_sampled(Isa isa, int64_t B, int64_t in, int64_t out, const int32_t* row_ptr, const int32_t* col,
                                const float* x, const float* dy, float* dval, int threads) {
    const CsrKernels& K = csr_for(isa);
    const int W = K.W;
    const int64_t nnz = row_ptr[out];
    if (nnz == 0) return;
    if (B == 0) {
        std::fill(dval, dval + nnz, 0.0f);
        return;
    }
    ws::Scope scope;
    const int64_t Lp = cdiv(B, W) * W;
    float* xt = ws::get<float>(ws::kInput, in * Lp + 2 * W);
    float* dyt = ws::get<float>(ws::kAux, out * Lp);
    // Only the pad columns [B, Lp) and the slack are not overwritten by the transposes.
    if (Lp > B) {
        for (int64_t r = 0; r < in; ++r) std::fill(xt + r * Lp + B, xt + (r + 1) * Lp, 0.0f);
        for (int64_t r = 0; r < out; ++r) std::fill(dyt + r * Lp + B, dyt + (r + 1) * Lp, 0.0f);
    }
    std::fill(xt + in * Lp, xt + in * Lp + 2 * W, 0.0f);
    {
        phases::Scope phase_scope("layout:transpose");
        K.transpose(x, B, in, xt, Lp, threads);
        K.transpose(dy, B, out, dyt, Lp, threads);
    }
    int32_t* offs = ws::get<int32_t>(ws::kIndex, nnz);
    for (int64_t k = 0; k < nnz; ++k) offs[k] = int32_t(col[k] * Lp);
    run_sddmm(K, out, row_ptr, offs, dyt, Lp, xt, in * Lp, 1, dval, threads);
}

}  // namespace sb
