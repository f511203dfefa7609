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
// weight-gradient keeps dW[co, 9 taps, 2 vectors] in registers while streaming the nonzeros of
// dO[n, co, :, :] over a block of images whose X fits L2; threads own output channels.
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

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

template <int KT, int CT>
inline void dw_tile(const float* dwrow, float* dwout, bool first, const RowBitmap& d, int64_t co, int64_t n0,
                    int64_t n1, int64_t cout, const float* xp, int64_t img, const int64_t* poff, const int64_t* toff,
                    int64_t tstride) {
    F acc[KT][CT];
    for (int t = 0; t < KT; ++t)
        for (int k = 0; k < CT; ++k) acc[t][k] = first ? zero() : load(dwrow + t * tstride + k * W);
    for (int64_t n = n0; n < n1; ++n) {
        const int64_t r = n * cout + co;
        const uint64_t* bw = d.bits + r * d.wpr;
        const float* v = d.vals + d.rowptr[r];
        const float* xn = xp + n * img;
        for (int64_t wi = 0; wi < d.wpr; ++wi) {
            uint64_t b = bw[wi];
            while (b) {
                const int64_t q = wi * 64 + __builtin_ctzll(b);
                b &= b - 1;
                const F sv = set1(*v++);
                const float* px = xn + poff[q];
                for (int t = 0; t < KT; ++t)
                    for (int k = 0; k < CT; ++k) acc[t][k] = fmadd(sv, load(px + toff[t] + k * W), acc[t][k]);
            }
        }
    }
    for (int t = 0; t < KT; ++t)
        for (int k = 0; k < CT; ++k) store(dwout + t * tstride + k * W, acc[t][k]);
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
    for (int64_t n = n0; n < n1; ++n) {
        const int64_t r = n * cout + co;
        const uint64_t* bw = d.bits + r * d.wpr;
        const float* v = d.vals + d.rowptr[r];
        const float* xn = xp + n * img;
        for (int64_t wi = 0; wi < d.wpr; ++wi) {
            uint64_t b = bw[wi];
            const int64_t* po = poff + wi * 64;
            while (b) {
                const int64_t q = __builtin_ctzll(b);
                b &= b - 1;
                const F sv = set1(*v++);
                const float* r0 = xn + po[q];
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
            }
        }
    }
    for (int t = 0; t < 9; ++t)
        for (int k = 0; k < CT; ++k) store(dwc + t * tstride + k * W, acc[t][k]);
}

// 9 taps x 2 vectors + broadcast fit 32 vector registers (AVX-512, NEON), not 16 (AVX2);
// the scalar reference keeps 2 (one-lane "vectors").
constexpr int kDwCT = (kVecRegs >= 32 || W == 1) ? 2 : 1;

void conv_dw(const float* x, RowBitmap d, const ConvGeometry& s, float* dw, int threads) {
    const int64_t KK = s.kh * s.kw, Cp = round_up(std::max<int64_t>(s.Cin, 1), W);
    const int64_t Hp = s.H + 2 * s.ph, Wp = s.W + 2 * s.pw, img = Hp * Wp * Cp, HoWo = s.Ho * s.Wo;
    if (s.Cout == 0 || s.Cin == 0 || KK == 0) return;
    if (s.N == 0 || HoWo == 0) {
        std::memset(dw, 0, sizeof(float) * size_t(s.Cout * s.Cin * KK));
        return;
    }
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
                for (int64_t t = 0; t < KK; ++t) {
                    float* dt = dwc + t * Cp;
                    const int64_t* tt = toff.data() + t;
                    int64_t v = 0;
                    for (; v + 8 <= nv; v += 8)
                        dw_tile<1, 8>(dt + v * W, dt + v * W, first, d, co, n0, n1, s.Cout, xp.p + v * W, img,
                                      poff.data(), tt, Cp);
                    for (; v + 2 <= nv; v += 2)
                        dw_tile<1, 2>(dt + v * W, dt + v * W, first, d, co, n0, n1, s.Cout, xp.p + v * W, img,
                                      poff.data(), tt, Cp);
                    if (v < nv)
                        dw_tile<1, 1>(dt + v * W, dt + v * W, first, d, co, n0, n1, s.Cout, xp.p + v * W, img,
                                      poff.data(), tt, Cp);
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

void conv_dx(const float* w, RowBitmap d, const ConvGeometry& s, float* dx, int threads) {
    const int64_t KK = s.kh * s.kw, Cp = round_up(std::max<int64_t>(s.Cin, 1), W), nv = Cp / W;
    const int64_t HW = s.H * s.W;
    if (s.N == 0 || s.Cin == 0 || HW == 0) return;
    if (s.Cout == 0 || KK == 0 || s.Ho * s.Wo == 0) {
        std::memset(dx, 0, sizeof(float) * size_t(s.N * s.Cin * HW));
        return;
    }
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
