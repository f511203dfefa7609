// Compiled once per ISA (SB_ISA_NS names the namespace): see CMakeLists.txt.
// Activation-gradient pruning backward path: fused prune + compress front-end and direct
// (unlowered) sparse-dO conv / linear backward kernels. See actgrad_bwd.hpp for the format.
//
// Layouts inside the conv kernels (converted once per call, counted in the call's time):
//   activations NHWC with channels padded to a multiple of the vector width (Cp), X also
//   spatially zero-padded so every tap of every output pixel is in range without a branch;
//   weights (Cout, kh*kw, Cp).
// backward-data is a gather: each dX pixel keeps a tile of up to 8 vectors of channels in
// registers and streams the nonzeros of the (<= kh*kw) dO pixels that feed it, one W row load
// and one FMA per vector; weights are cut into output-channel blocks that fit L2.
// weight-gradient keeps dW[co, 9 taps, 2 vectors] (3x3) or a row of up to 12 taps x CT vectors
// (other kernels) in registers while streaming the nonzeros of dO[n, co, :, :] over a block of
// images whose X fits L2; threads own output channels.
// Few input channels (Cin < W: AlexNet conv1, any stem) take the taps layout instead:
// NHWC with Cin channels unpadded, a kernel row's kw * Cin floats as the vector dimension
// (conv_dw_taps, conv_dx_taps), so lanes are not mostly channel padding.
#include <omp.h>

#include <algorithm>
#include <type_traits>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "../common/phases.hpp"
#include "../common/rng.hpp"
#include "../common/simd.hpp"
#include "../common/workspace.hpp"
#include "actgrad_bwd.hpp"

namespace sb::SB_ISA_NS {
namespace {

using namespace simd;
using namespace actgrad_plan;

// --- small helpers ---------------------------------------------------------------------------

inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// --- front-end: prune one row and compress it -------------------------------------------------

float* prune_row(const float* g, uint64_t i0, int64_t C, float tau, uint64_t seed, uint64_t* bw, float* out) {
    const F tv = set1(tau), z = zero();
    uint64_t word = 0;
    uint64_t hi = i0 >> 32;
    rng::ChunkKey key = rng::chunk_key(seed, i0);
    for (int64_t c = 0; c < C; c += W) {
        const int n = int(std::min<int64_t>(W, C - c));
        const uint64_t i = i0 + uint64_t(c);
        const F x = n == W ? load(g + c) : load_partial(g + c, n);
        F u;
        if ((i >> 32) == ((i + W - 1) >> 32)) {
            if ((i >> 32) != hi) {
                hi = i >> 32;
                key = rng::chunk_key(seed, i);
            }
            u = rng::uniform_vec(key, uint32_t(i));
        } else {  // a vector straddling a 2^32-element RNG chunk: per-element keys
            alignas(64) float ub[W];
            for (int l = 0; l < W; ++l) ub[l] = rng::uniform(seed, i + uint64_t(l));
            u = load(ub);
        }
        const F a = abs(x);
        const M keep = cmp_ge(a, tv);
        const M promote = cmp_gt(a, mul(u, tv));
        const F y = select(keep, x, select(promote, copysign(tv, x), z));
        unsigned m = mbits(cmp_ne(y, z));
        if (n < W) m &= (1u << n) - 1u;
        out += compress_store(out, y, m);
        word |= uint64_t(m) << (c & 63);
        if (((c + W) & 63) == 0 || c + W >= C) {
            bw[c >> 6] = word;
            word = 0;
        }
    }
    return out;
}

int64_t prune_compress(const float* g, int64_t R, int64_t C, float tau, uint64_t seed, uint64_t* bits, float* vals,
                       int64_t* rowptr, int threads) {
    rowptr[0] = 0;
    if (R == 0) return 0;
    const int64_t wpr = (C + 63) / 64;
    if (C == 0) {
        for (int64_t r = 0; r < R; ++r) rowptr[r + 1] = 0;
        return 0;
    }
    std::vector<int64_t> tcount(size_t(threads) + 1, 0);
    int used = 1;
#pragma omp parallel num_threads(threads)
    {
        const int T = omp_get_num_threads(), t = omp_get_thread_num();
#pragma omp single
        used = T;
        const int64_t r0 = R * t / T, r1 = R * (t + 1) / T;
        float* const base = vals + r0 * C + int64_t(t) * 16;  // private region (+ slack for compress_store)
        float* out = base;
        for (int64_t r = r0; r < r1; ++r) {
            out = prune_row(g + r * C, uint64_t(r) * uint64_t(C), C, tau, seed, bits + r * wpr, out);
            rowptr[r + 1] = out - base;  // relative to the thread's region, fixed below
        }
        tcount[t] = out - base;
    }
    int64_t off = 0;
    for (int t = 0; t < used; ++t) {  // in thread order: a region only ever moves left
        const int64_t r0 = R * t / used, r1 = R * (t + 1) / used;
        float* src = vals + r0 * C + int64_t(t) * 16;
        if (src != vals + off && tcount[t] > 0) std::memmove(vals + off, src, sizeof(float) * size_t(tcount[t]));
        for (int64_t r = r0; r < r1; ++r) rowptr[r + 1] += off;
        off += tcount[t];
    }
    return off;
}

// --- conv layout conversions ----------------------------------------------------------------

// x (N, Cin, H, W) -> xp (N, H + 2ph, W + 2pw, Cp), zero border and zero channel padding.
void nchw_to_padded_nhwc(const float* x, const ConvGeometry& s, int64_t Cp, float* xp, int threads) {
    phases::Scope phase_scope("layout:nhwc");
    const int64_t Hp = s.H + 2 * s.ph, Wp = s.W + 2 * s.pw;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t n = 0; n < s.N; ++n) {
        float* img = xp + n * Hp * Wp * Cp;
        std::memset(img, 0, sizeof(float) * size_t(Hp * Wp * Cp));
        for (int64_t h = 0; h < s.H; ++h) {
            float* row = img + ((h + s.ph) * Wp + s.pw) * Cp;
            const float* src = x + (n * s.Cin * s.H + h) * s.W;  // channel c at src + c*H*W
            const int64_t cs = s.H * s.W;
            const int64_t cv = s.Cin / W * W, wv = s.W / W * W;
            for (int64_t c = 0; c < cv; c += W) {  // W x W register transposes
                for (int64_t w = 0; w < wv; w += W) transpose_tile(src + c * cs + w, cs, row + w * Cp + c, Cp);
                for (int64_t w = wv; w < s.W; ++w)
                    for (int k = 0; k < W; ++k) row[w * Cp + c + k] = src[(c + k) * cs + w];
            }
            for (int64_t c = cv; c < s.Cin; ++c)
                for (int64_t w = 0; w < s.W; ++w) row[w * Cp + c] = src[c * cs + w];
        }
    }
}

// --- conv weight-gradient -------------------------------------------------------------------

// fn(value broadcast, x at the nonzero's pixel) for every dO nonzero of channel co in images
// [n0, n1), images and then columns in order: the bitmap walk every weight-gradient tile shares.
template <typename Fn>
inline void each_nonzero(const RowBitmap& d, int64_t co, int64_t n0, int64_t n1, int64_t cout, const float* xp,
                         int64_t img, const int64_t* poff, Fn&& fn) {
    for (int64_t n = n0; n < n1; ++n) {
        const int64_t row = n * cout + co;
        const uint64_t* bw = d.bits + row * d.wpr;
        const float* val = d.vals + d.rowptr[row];
        const float* xn = xp + n * img;
        for (int64_t wi = 0; wi < d.wpr; ++wi) {
            uint64_t bits = bw[wi];
            const int64_t* po = poff + wi * 64;
            while (bits) {
                const int64_t q = __builtin_ctzll(bits);
                bits &= bits - 1;
                fn(set1(*val++), xn + po[q]);
            }
        }
    }
}

// 3x3 taps: three row pointers and column offsets 0, cs, 2cs, so every load is one
// base + index*4 + displacement address (no per-tap offset table in the inner loop).
template <int CT>
inline void dw_tile3x3(float* dwc, bool first, const RowBitmap& d, int64_t co, int64_t n0, int64_t n1,
                       int64_t cout, const float* xp, int64_t img, const int64_t* poff, int64_t rs, int64_t cs,
                       int64_t tstride) {
    F acc[9][CT];
    for (int t = 0; t < 9; ++t)
        for (int k = 0; k < CT; ++k) acc[t][k] = first ? zero() : load(dwc + t * tstride + k * W);
    const int64_t cs2 = 2 * cs;
    each_nonzero(d, co, n0, n1, cout, xp, img, poff, [&](const F sv, const float* r0) {
        const float* r1 = r0 + rs;
        const float* r2 = r1 + rs;
        for (int k = 0; k < CT; ++k) {
            acc[0][k] = fmadd(sv, load(r0 + k * W), acc[0][k]);
            acc[1][k] = fmadd(sv, load(r0 + cs + k * W), acc[1][k]);
            acc[2][k] = fmadd(sv, load(r0 + cs2 + k * W), acc[2][k]);
            acc[3][k] = fmadd(sv, load(r1 + k * W), acc[3][k]);
            acc[4][k] = fmadd(sv, load(r1 + cs + k * W), acc[4][k]);
            acc[5][k] = fmadd(sv, load(r1 + cs2 + k * W), acc[5][k]);
            acc[6][k] = fmadd(sv, load(r2 + k * W), acc[6][k]);
            acc[7][k] = fmadd(sv, load(r2 + cs + k * W), acc[7][k]);
            acc[8][k] = fmadd(sv, load(r2 + cs2 + k * W), acc[8][k]);
        }
    });
    for (int t = 0; t < 9; ++t)
        for (int k = 0; k < CT; ++k) store(dwc + t * tstride + k * W, acc[t][k]);
}

// 9 taps x 2 vectors + broadcast fit 32 vector registers (AVX-512, NEON), not 16 (AVX2);
// the scalar reference keeps 2 (one-lane "vectors").
constexpr int kDwCT = (kVecRegs >= 32 || W == 1) ? 2 : 1;

// The weight gradient's register tile: acc[a][b] accumulates sum over the dO nonzeros of channel
// co (images [n0, n1)) of val * x[pixel + a * in_a + b * W], and lives at out[a * out_a + b * W].
// Each decoded nonzero feeds A * B FMAs. Two layouts use it:
//   row tiles: A consecutive taps of one kernel row (in_a = out_a = Cp) x B channel vectors;
//   taps tiles (few channels): A kernel rows (in_a = the input row stride) x B vectors of one
//   row's kw * Cin taps-and-channels (out_a = B * W).
template <int A, int B>
inline void dw_grid_tile(float* out, int64_t out_a, bool first, const RowBitmap& d, int64_t co, int64_t n0, int64_t n1,
                         int64_t cout, const float* xp, int64_t img, const int64_t* poff, int64_t in_a) {
    F acc[A][B];
    for (int a = 0; a < A; ++a)
        for (int b = 0; b < B; ++b) acc[a][b] = first ? zero() : load(out + a * out_a + b * W);
    each_nonzero(d, co, n0, n1, cout, xp, img, poff, [&](const F sv, const float* px) {
        for (int a = 0; a < A; ++a)
            for (int b = 0; b < B; ++b) acc[a][b] = fmadd(sv, load(px + a * in_a + b * W), acc[a][b]);
    });
    for (int a = 0; a < A; ++a)
        for (int b = 0; b < B; ++b) store(out + a * out_a + b * W, acc[a][b]);
}

// Row tiles: KT consecutive taps of one kernel row x CT vectors. Large kernels (AlexNet conv1,
// 11x11) used to decode every nonzero once per tap.
// Taps per row tile: accumulators for KT x CT plus the broadcast and a load.
constexpr int kDwRowAcc = kVecRegs >= 32 ? 24 : 12;
constexpr int kDwRowMax = 12;  // row tiles instantiated: 1..12 taps

template <int CT>
void dw_row(int kt, float* dwrow, bool first, const RowBitmap& d, int64_t co, int64_t n0, int64_t n1, int64_t cout,
            const float* xp, int64_t img, const int64_t* poff, int64_t row_off, int64_t Cp) {
#define SB_DW_ROW(K)                                                                                        \
    case K:                                                                                                 \
        if constexpr (K * CT <= kDwRowAcc) {                                                                \
            dw_grid_tile<K, CT>(dwrow, Cp, first, d, co, n0, n1, cout, xp + row_off, img, poff, Cp);      \
            return;                                                                                         \
        }                                                                                                   \
        break;
    switch (kt) {
        SB_DW_ROW(1) SB_DW_ROW(2) SB_DW_ROW(3) SB_DW_ROW(4) SB_DW_ROW(5) SB_DW_ROW(6)
        SB_DW_ROW(7) SB_DW_ROW(8) SB_DW_ROW(9) SB_DW_ROW(10) SB_DW_ROW(11) SB_DW_ROW(12)
        default: break;
    }
#undef SB_DW_ROW
    std::abort();  // kt outside 1..kDwRowMax or over the accumulator budget: a planning bug
}

// Few input channels (Cin < W, e.g. AlexNet conv1: 3): the channel vector would be mostly
// padding (3 of 16 lanes) and the padded input 5x its size (out of L2). Instead x stays NHWC
// with Cin channels, unpadded, and one kernel row of a receptive field (kw * Cin consecutive
// floats) is the vector dimension: dwt (Cout, kh, NV * W) with dwt[co][i][j * Cin + c]. A tile
// (dw_grid_tile) holds RB kernel rows x NV vectors.
constexpr int kDwTapsAcc = kVecRegs >= 32 ? 24 : 12;

template <int NV, int RB>
void dw_taps_rows(int rb, float* dwt, bool first, const RowBitmap& d, int64_t co, int64_t n0, int64_t n1, int64_t cout,
                  const float* xp, int64_t img, const int64_t* poff, int64_t rs) {
    if constexpr (RB >= 1) {
        if (rb == RB) return dw_grid_tile<RB, NV>(dwt, NV * W, first, d, co, n0, n1, cout, xp, img, poff, rs);
        return dw_taps_rows<NV, RB - 1>(rb, dwt, first, d, co, n0, n1, cout, xp, img, poff, rs);
    } else {
        std::abort();  // rb outside 1..kDwTapsAcc / NV: a planning bug
    }
}

// Vectors per kernel row the taps path takes (kw * Cin <= 6 W).
constexpr int kDwTapsMaxNV = 6;

template <int NV>
void dw_taps_channel(const ConvGeometry& s, float* dwc, bool first, const RowBitmap& d, int64_t co, int64_t n0,
                     int64_t n1, const float* xp, int64_t img, const int64_t* poff, int64_t rs) {
    constexpr int RBmax = kDwTapsAcc / NV;
    for (int64_t i0 = 0; i0 < s.kh; i0 += RBmax) {
        const int rb = int(std::min<int64_t>(RBmax, s.kh - i0));
        dw_taps_rows<NV, RBmax>(rb, dwc + i0 * NV * W, first, d, co, n0, n1, s.Cout, xp + i0 * rs, img, poff, rs);
    }
}

// A kernel row's kw * Cin lanes are never fewer than the Cin a channel vector would use, so
// every layer with fewer input channels than lanes takes it (kw * Cin <= 6 W).
bool dw_taps_fits(const ConvGeometry& s) {
    return W > 1 && s.Cin < W && s.kw * s.Cin <= kDwTapsMaxNV * W;
}

void conv_dw_taps(const float* x, RowBitmap d, const ConvGeometry& s, float* dw, int threads) {
    const int64_t C = s.Cin, Hp = s.H + 2 * s.ph, Wp = s.W + 2 * s.pw, img = Hp * Wp * C;
    const int64_t nv = (s.kw * C + W - 1) / W, rs = Wp * C;
    ws::Scope scope;
    // + W slack: a row's last vector reads past its kw * Cin floats (lanes that are dropped).
    struct { float* p; } xp{ws::get<float>(ws::kInput, s.N * img + W)}, dwt{ws::get<float>(ws::kOutput, s.Cout * s.kh * nv * W)};
    nchw_to_padded_nhwc(x, s, C, xp.p, threads);
    std::fill(xp.p + s.N * img, xp.p + s.N * img + W, 0.0f);
    std::vector<int64_t> poff, toff;
    nhwc_offsets(s, C, poff, toff);
    const int64_t nb = dw_image_block(d, s, img);
#pragma omp parallel num_threads(threads)
    for (int64_t n0 = 0; n0 < s.N; n0 += nb) {
        const int64_t n1 = std::min(s.N, n0 + nb);
        const bool first = n0 == 0;
#pragma omp for schedule(static)
        for (int64_t co = 0; co < s.Cout; ++co) {
            float* dwc = dwt.p + co * s.kh * nv * W;
            int64_t cnt = 0;
            for (int64_t n = n0; n < n1 && cnt == 0; ++n) cnt += d.rowptr[n * s.Cout + co + 1] - d.rowptr[n * s.Cout + co];
            if (cnt == 0) {
                if (first) std::memset(dwc, 0, sizeof(float) * size_t(s.kh * nv * W));
                continue;
            }
            switch (nv) {
                case 1: dw_taps_channel<1>(s, dwc, first, d, co, n0, n1, xp.p, img, poff.data(), rs); break;
                case 2: dw_taps_channel<2>(s, dwc, first, d, co, n0, n1, xp.p, img, poff.data(), rs); break;
                case 3: dw_taps_channel<3>(s, dwc, first, d, co, n0, n1, xp.p, img, poff.data(), rs); break;
                case 4: dw_taps_channel<4>(s, dwc, first, d, co, n0, n1, xp.p, img, poff.data(), rs); break;
                case 5: dw_taps_channel<5>(s, dwc, first, d, co, n0, n1, xp.p, img, poff.data(), rs); break;
                default: dw_taps_channel<kDwTapsMaxNV>(s, dwc, first, d, co, n0, n1, xp.p, img, poff.data(), rs); break;
            }
        }  // implicit barrier: the next image block accumulates onto complete partial sums
    }
    // dwt (Cout, kh, nv * W) -> dw (Cout, Cin, kh, kw)
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t co = 0; co < s.Cout; ++co)
        for (int64_t c = 0; c < C; ++c)
            for (int64_t i = 0; i < s.kh; ++i)
                for (int64_t j = 0; j < s.kw; ++j)
                    dw[((co * C + c) * s.kh + i) * s.kw + j] = dwt.p[(co * s.kh + i) * nv * W + j * C + c];
}

void conv_dw(const float* x, RowBitmap d, const ConvGeometry& s, float* dw, int threads) {
    const int64_t KK = s.kh * s.kw, Cp = round_up(std::max<int64_t>(s.Cin, 1), W);
    const int64_t Hp = s.H + 2 * s.ph, Wp = s.W + 2 * s.pw, img = Hp * Wp * Cp, HoWo = s.Ho * s.Wo;
    if (s.Cout == 0 || s.Cin == 0 || KK == 0) return;
    if (s.N == 0 || HoWo == 0) {
        std::memset(dw, 0, sizeof(float) * size_t(s.Cout * s.Cin * KK));
        return;
    }
    if (dw_taps_fits(s)) return conv_dw_taps(x, d, s, dw, threads);
    ws::Scope scope;
    struct { float* p; } xp{ws::get<float>(ws::kInput, s.N * img)}, dwi{ws::get<float>(ws::kOutput, s.Cout * KK * Cp)};
    nchw_to_padded_nhwc(x, s, Cp, xp.p, threads);
    std::vector<int64_t> poff, toff;
    nhwc_offsets(s, Cp, poff, toff);
    const int64_t nb = dw_image_block(d, s, img);
    const int64_t nv = Cp / W;
#pragma omp parallel num_threads(threads)
    for (int64_t n0 = 0; n0 < s.N; n0 += nb) {
        const int64_t n1 = std::min(s.N, n0 + nb);
        const bool first = n0 == 0;
#pragma omp for schedule(static)
        for (int64_t co = 0; co < s.Cout; ++co) {
            float* dwc = dwi.p + co * KK * Cp;
            int64_t cnt = 0;  // nonzeros of this channel in the block: none, nothing to stream
            for (int64_t n = n0; n < n1 && cnt == 0; ++n) cnt += d.rowptr[n * s.Cout + co + 1] - d.rowptr[n * s.Cout + co];
            if (cnt == 0) {
                if (first) std::memset(dwc, 0, sizeof(float) * size_t(KK * Cp));
                continue;
            }
            if (s.kh == 3 && s.kw == 3) {
                int64_t v = 0;
                for (; v + kDwCT <= nv; v += kDwCT)
                    dw_tile3x3<kDwCT>(dwc + v * W, first, d, co, n0, n1, s.Cout, xp.p + v * W, img, poff.data(),
                                      Wp * Cp, Cp, Cp);
                if (v < nv)
                    dw_tile3x3<1>(dwc + v * W, first, d, co, n0, n1, s.Cout, xp.p + v * W, img, poff.data(),
                                  Wp * Cp, Cp, Cp);
            } else {
                // Row tiles: up to kDwRowAcc / CT taps of one kernel row per pass over the nonzeros.
                for (int64_t i = 0; i < s.kh; ++i) {
                    int64_t v = 0;
                    const auto row_pass = [&](auto ct) {
                        constexpr int CT = decltype(ct)::value;
                        constexpr int kmax = std::min(kDwRowMax, kDwRowAcc / CT);
                        for (int64_t j0 = 0; j0 < s.kw; j0 += kmax) {
                            const int kt = int(std::min<int64_t>(kmax, s.kw - j0));
                            dw_row<CT>(kt, dwc + (i * s.kw + j0) * Cp + v * W, first, d, co, n0, n1, s.Cout,
                                       xp.p + v * W, img, poff.data(), toff[size_t(i * s.kw + j0)], Cp);
                        }
                    };
                    for (; v + 2 <= nv; v += 2) row_pass(std::integral_constant<int, 2>{});
                    if (v < nv) row_pass(std::integral_constant<int, 1>{});
                }
            }
        }  // implicit barrier: the next image block accumulates onto complete partial sums
    }
    // dwi (Cout, KK, Cp) -> dw (Cout, Cin, kh, kw)
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t co = 0; co < s.Cout; ++co) {
        float* dst = dw + co * s.Cin * KK;
        for (int64_t t = 0; t < KK; ++t) {
            const float* src = dwi.p + (co * KK + t) * Cp;
            for (int64_t c = 0; c < s.Cin; ++c) dst[c * KK + t] = src[c];
        }
    }
}

// --- conv backward-data ---------------------------------------------------------------------

template <int CT>
void dx_pass(const PixelLists& L, const ConvGeometry& s, const TapList& TH, const TapList& TW, const float* wt,
             int64_t Cp, int64_t v0, int64_t blk, int64_t nblk, int64_t n0, int64_t n1, float* dxi) {
    const int64_t KK = s.kh * s.kw, HoWo = s.Ho * s.Wo, cstride = KK * Cp;
    const int32_t* co = L.co.data();
    const float* val = L.val.data();
    for (int64_t n = n0; n < n1; ++n)
        for (int64_t h = 0; h < s.H; ++h)
            for (int64_t w = 0; w < s.W; ++w) {
                float* out = dxi + ((n * s.H + h) * s.W + w) * Cp + v0 * W;
                F acc[CT], acc2[CT];
                for (int k = 0; k < CT; ++k) {
                    acc[k] = blk == 0 ? zero() : load(out + k * W);
                    acc2[k] = zero();
                }
                for (int32_t a = TH.start[size_t(h)]; a < TH.start[size_t(h + 1)]; ++a) {
                    const int64_t i = TH.tap[size_t(a)], ho = TH.out[size_t(a)];
                    for (int32_t b = TW.start[size_t(w)]; b < TW.start[size_t(w + 1)]; ++b) {
                        const int64_t j = TW.tap[size_t(b)], wo = TW.out[size_t(b)];
                        const int64_t p = n * HoWo + ho * s.Wo + wo;
                        const int64_t* bp = L.bptr.data() + p * (nblk + 1) + blk;
                        const float* wb = wt + (i * s.kw + j) * Cp + v0 * W;
                        int64_t e = bp[0];
                        const int64_t e1 = bp[1];
                        if (CT <= 4) {  // two accumulator sets: enough independent FMA chains
                            for (; e + 2 <= e1; e += 2) {
                                const F s0 = set1(val[e]), s1 = set1(val[e + 1]);
                                const float* w0 = wb + int64_t(co[e]) * cstride;
                                const float* w1 = wb + int64_t(co[e + 1]) * cstride;
                                for (int k = 0; k < CT; ++k) {
                                    acc[k] = fmadd(s0, load(w0 + k * W), acc[k]);
                                    acc2[k] = fmadd(s1, load(w1 + k * W), acc2[k]);
                                }
                            }
                        }
                        for (; e < e1; ++e) {
                            const F sv = set1(val[e]);
                            const float* wr = wb + int64_t(co[e]) * cstride;
                            for (int k = 0; k < CT; ++k) acc[k] = fmadd(sv, load(wr + k * W), acc[k]);
                        }
                    }
                }
                for (int k = 0; k < CT; ++k) store(out + k * W, CT <= 4 ? add(acc[k], acc2[k]) : acc[k]);
            }
}

// Few input channels (dw_taps_fits): a scatter in the tap-major layout of conv_dw_taps. Each
// dO nonzero adds val * w[co][i][:] (one kernel row, kw * Cin floats in NV vectors) into the
// matching span of each of the kh input rows of its receptive field, in an unpadded-channel
// NHWC buffer with a zero border. Threads own whole images; within one image the nonzeros go
// in bitmap order, so the sums' order is fixed by the data alone.
template <int NV>
void dx_taps_image(const RowBitmap& d, const ConvGeometry& s, const float* wt, int64_t n, float* dimg, int64_t rs) {
    for (int64_t co = 0; co < s.Cout; ++co) {
        const int64_t row = n * s.Cout + co;
        const uint64_t* bw = d.bits + row * d.wpr;
        const float* val = d.vals + d.rowptr[row];
        const float* wc = wt + co * s.kh * NV * W;
        for (int64_t wi = 0; wi < d.wpr; ++wi) {
            uint64_t b = bw[wi];
            while (b) {
                const int64_t q = wi * 64 + __builtin_ctzll(b);
                b &= b - 1;
                const F sv = set1(*val++);
                const int64_t ho = q / s.Wo, wo = q - ho * s.Wo;
                float* base = dimg + ho * s.sh * rs + wo * s.sw * s.Cin;
                for (int64_t i = 0; i < s.kh; ++i) {
                    float* p = base + i * rs;
                    const float* wr = wc + i * NV * W;
                    for (int v = 0; v < NV; ++v) store(p + v * W, fmadd(sv, load(wr + v * W), load(p + v * W)));
                }
            }
        }
    }
}

void conv_dx_taps(const float* w, RowBitmap d, const ConvGeometry& s, float* dx, int threads) {
    const int64_t C = s.Cin, KK = s.kh * s.kw, Hp = s.H + 2 * s.ph, Wp = s.W + 2 * s.pw, rs = Wp * C;
    const int64_t nv = (s.kw * C + W - 1) / W;
    // + W per image: a row span's last vector touches up to W - 1 floats past it (adding zero
    // weights); the slack keeps that inside the image its thread owns.
    const int64_t img = Hp * Wp * C + W;
    ws::Scope scope;
    struct { float* p; } wt{ws::get<float>(ws::kOutput, s.Cout * s.kh * nv * W)}, dxp{ws::get<float>(ws::kInput, s.N * img)};
    // w (Cout, Cin, kh, kw) -> wt (Cout, kh, nv * W): wt[co][i][j * Cin + c], zero past kw * Cin
    std::fill(wt.p, wt.p + s.Cout * s.kh * nv * W, 0.0f);
    for (int64_t co = 0; co < s.Cout; ++co)
        for (int64_t c = 0; c < C; ++c)
            for (int64_t i = 0; i < s.kh; ++i)
                for (int64_t j = 0; j < s.kw; ++j)
                    wt.p[(co * s.kh + i) * nv * W + j * C + c] = w[(co * C + c) * KK + i * s.kw + j];
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t n = 0; n < s.N; ++n) {
        float* dimg = dxp.p + n * img;
        std::fill(dimg, dimg + img, 0.0f);
        switch (nv) {
            case 1: dx_taps_image<1>(d, s, wt.p, n, dimg, rs); break;
            case 2: dx_taps_image<2>(d, s, wt.p, n, dimg, rs); break;
            case 3: dx_taps_image<3>(d, s, wt.p, n, dimg, rs); break;
            case 4: dx_taps_image<4>(d, s, wt.p, n, dimg, rs); break;
            case 5: dx_taps_image<5>(d, s, wt.p, n, dimg, rs); break;
            default: dx_taps_image<kDwTapsMaxNV>(d, s, wt.p, n, dimg, rs); break;
        }
        // this image: padded NHWC -> NCHW
        for (int64_t c = 0; c < C; ++c)
            for (int64_t h = 0; h < s.H; ++h) {
                const float* src = dimg + ((h + s.ph) * Wp + s.pw) * C + c;
                float* dst = dx + ((n * C + c) * s.H + h) * s.W;
                for (int64_t x = 0; x < s.W; ++x) dst[x] = src[x * C];
            }
    }
}

void conv_dx(const float* w, RowBitmap d, const ConvGeometry& s, float* dx, int threads) {
    const int64_t KK = s.kh * s.kw, Cp = round_up(std::max<int64_t>(s.Cin, 1), W), nv = Cp / W;
    const int64_t HW = s.H * s.W;
    if (s.N == 0 || s.Cin == 0 || HW == 0) return;
    if (s.Cout == 0 || KK == 0 || s.Ho * s.Wo == 0) {
        std::memset(dx, 0, sizeof(float) * size_t(s.N * s.Cin * HW));
        return;
    }
    if (dw_taps_fits(s)) return conv_dx_taps(w, d, s, dx, threads);
    ws::Scope scope;
    // weights (Cout, Cin, kh, kw) -> (Cout, KK, Cp)
    struct { float* p; } wt{ws::get<float>(ws::kOutput, s.Cout * KK * Cp)};
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t co = 0; co < s.Cout; ++co) {
        for (int64_t t = 0; t < KK; ++t)
            for (int64_t c = s.Cin; c < Cp; ++c) wt.p[(co * KK + t) * Cp + c] = 0.0f;
        const float* src = w + co * s.Cin * KK;
        for (int64_t t = 0; t < KK; ++t) {  // contiguous writes; strided reads stay in L1
            float* dst = wt.p + (co * KK + t) * Cp;
            for (int64_t c = 0; c < s.Cin; ++c) dst[c] = src[c * KK + t];
        }
    }
    const int64_t cb = dx_channel_block(s, nv, W);
    const int64_t nblk = (s.Cout + cb - 1) / cb;
    PixelLists L;
    build_pixel_lists(d, s, cb, nblk, L, threads);
    const TapList TH = tap_list(s.H, s.kh, s.sh, s.ph, s.Ho), TW = tap_list(s.W, s.kw, s.sw, s.pw, s.Wo);
    struct { float* p; } dxi{ws::get<float>(ws::kInput, s.N * HW * Cp)};
#pragma omp parallel num_threads(threads)
    {
        const int T = omp_get_num_threads(), t = omp_get_thread_num();
        const int64_t n0 = s.N * t / T, n1 = s.N * (t + 1) / T;  // threads own images
        int64_t v = 0;
        for (; v + 8 <= nv; v += 8)
            for (int64_t b = 0; b < nblk; ++b) dx_pass<8>(L, s, TH, TW, wt.p, Cp, v, b, nblk, n0, n1, dxi.p);
        if (nv - v >= 4) {
            for (int64_t b = 0; b < nblk; ++b) dx_pass<4>(L, s, TH, TW, wt.p, Cp, v, b, nblk, n0, n1, dxi.p);
            v += 4;
        }
        if (nv - v >= 2) {
            for (int64_t b = 0; b < nblk; ++b) dx_pass<2>(L, s, TH, TW, wt.p, Cp, v, b, nblk, n0, n1, dxi.p);
            v += 2;
        }
        if (nv - v >= 1)
            for (int64_t b = 0; b < nblk; ++b) dx_pass<1>(L, s, TH, TW, wt.p, Cp, v, b, nblk, n0, n1, dxi.p);
        // dxi (N, H, W, Cp) -> dx (N, Cin, H, W), this thread's images
        for (int64_t n = n0; n < n1; ++n)
            for (int64_t h = 0; h < s.H; ++h) {
                const float* src = dxi.p + (n * s.H + h) * s.W * Cp;
                float* dst = dx + (n * s.Cin * s.H + h) * s.W;  // channel c at dst + c*H*W
                const int64_t cs = s.H * s.W;
                const int64_t cv = s.Cin / W * W, xv = s.W / W * W;
                for (int64_t c = 0; c < cv; c += W) {
                    for (int64_t x = 0; x < xv; x += W) transpose_tile(src + x * Cp + c, Cp, dst + c * cs + x, cs);
                    for (int64_t x = xv; x < s.W; ++x)
                        for (int k = 0; k < W; ++k) dst[(c + k) * cs + x] = src[x * Cp + c + k];
                }
                for (int64_t c = cv; c < s.Cin; ++c)
                    for (int64_t x = 0; x < s.W; ++x) dst[c * cs + x] = src[x * Cp + c];
            }
    }
}

// --- linear ---------------------------------------------------------------------------------

// Rows of a (rows, cin) matrix, padded to Cp columns when cin is not a multiple of W.
struct PaddedRows {
    const float* p;
    int64_t ld;
    // The padded copy lives in the calling thread's workspace (slot kAux).
    PaddedRows(const float* src, int64_t rows, int64_t cin, int threads) {
        const int64_t Cp = round_up(std::max<int64_t>(cin, 1), W);
        if (Cp == cin) {
            p = src;
            ld = cin;
            return;
        }
        float* dst = ws::get<float>(ws::kAux, rows * Cp);
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t r = 0; r < rows; ++r) {
            std::memcpy(dst + r * Cp, src + r * cin, sizeof(float) * size_t(cin));
            std::memset(dst + r * Cp + cin, 0, sizeof(float) * size_t(Cp - cin));
        }
        p = dst;
        ld = Cp;
    }
};

template <int CT>
inline void store_tile(float* out, const F* acc, int64_t c0, int64_t cin) {
    for (int k = 0; k < CT; ++k) {
        const int64_t c = c0 + k * W;
        if (c + W <= cin) store(out + c, acc[k]);
        else if (c < cin) store_partial(out + c, acc[k], int(cin - c));
    }
}

template <int CT>
void linear_dx_row(const RowBitmap& d, int64_t r, const float* w, int64_t ld, int64_t c0, int64_t cin, float* dx) {
    F acc[CT];
    for (int k = 0; k < CT; ++k) acc[k] = zero();
    const uint64_t* bw = d.bits + r * d.wpr;
    const float* v = d.vals + d.rowptr[r];
    for (int64_t wi = 0; wi < d.wpr; ++wi)
        for (uint64_t b = bw[wi]; b; b &= b - 1) {
            const int64_t co = wi * 64 + __builtin_ctzll(b);
            const F sv = set1(*v++);
            const float* wr = w + co * ld + c0;
            for (int k = 0; k < CT; ++k) acc[k] = fmadd(sv, load(wr + k * W), acc[k]);
        }
    store_tile<CT>(dx + r * cin, acc, c0, cin);
}

void linear_dx(const float* w, RowBitmap d, int64_t cin, float* dx, int threads) {
    if (d.rows == 0 || cin == 0) return;
    ws::Scope scope;
    PaddedRows wp(w, d.cols, cin, threads);
    const int64_t nv = wp.ld / W;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < d.rows; ++r) {
        int64_t v = 0;
        for (; v + 8 <= nv; v += 8) linear_dx_row<8>(d, r, wp.p, wp.ld, v * W, cin, dx);
        for (; v + 2 <= nv; v += 2) linear_dx_row<2>(d, r, wp.p, wp.ld, v * W, cin, dx);
        if (v < nv) linear_dx_row<1>(d, r, wp.p, wp.ld, v * W, cin, dx);
    }
}

template <int CT>
void linear_dw_col(const int64_t* cptr, const int32_t* crow, const float* cval, int64_t co, const float* x,
                   int64_t ld, int64_t c0, int64_t cin, float* dw) {
    F acc[CT];
    for (int k = 0; k < CT; ++k) acc[k] = zero();
    for (int64_t e = cptr[co]; e < cptr[co + 1]; ++e) {
        const F sv = set1(cval[e]);
        const float* xr = x + int64_t(crow[e]) * ld + c0;
        for (int k = 0; k < CT; ++k) acc[k] = fmadd(sv, load(xr + k * W), acc[k]);
    }
    store_tile<CT>(dw + co * cin, acc, c0, cin);
}

void linear_dw(const float* x, RowBitmap d, int64_t cin, float* dw, int threads) {
    const int64_t B = d.rows, Cout = d.cols;
    if (Cout == 0 || cin == 0) return;
    ws::Scope scope;
    const ColumnLists C = column_lists(d);
    const int64_t* cptr_ = C.ptr.data();
    const int32_t* crow_ = C.row.data();
    const float* cval_ = C.val.data();
    PaddedRows xp(x, B, cin, threads);
    const int64_t nv = xp.ld / W;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t co = 0; co < Cout; ++co) {
        int64_t v = 0;
        for (; v + 8 <= nv; v += 8)
            linear_dw_col<8>(cptr_, crow_, cval_, co, xp.p, xp.ld, v * W, cin, dw);
        for (; v + 2 <= nv; v += 2)
            linear_dw_col<2>(cptr_, crow_, cval_, co, xp.p, xp.ld, v * W, cin, dw);
        if (v < nv) linear_dw_col<1>(cptr_, crow_, cval_, co, xp.p, xp.ld, v * W, cin, dw);
    }
}

}  // namespace

extern const ActGradBwdKernels actgrad_bwd = {&prune_compress, &conv_dx, &conv_dw, &linear_dx, &linear_dw};

}  // namespace sb::SB_ISA_NS
