// Block-sparse (BSR) direct convolution and linear layers, all training stages.
//
// Format. A conv weight (Cout, Cin, KH, KW) is viewed tap-major as the matrix
// W'(Cout, T * NCB * bi) with T = KH*KW taps and NCB = ceil(Cin / bi) input-channel blocks;
// a block is bo output channels x bi input channels at ONE kernel tap, and the matrix is stored
// as BSR: row_ptr over the ceil(Cout / bo) block rows, col = tap * NCB + ci_block (sorted,
// unique within a row), and values[blk][i][j] (i < bi input channel, j < bo output channel:
// column-major inside a block so the bo weights one input row feeds are contiguous). A linear
// weight (out, in) is the case KH = KW = 1, H = W = 1.
//
// Layout. Activations are re-laid once per call into "row-interleaved phase planes": for
// stride s, input channel ci and phase (a, b) in [0, s)^2 the plane holds, row after row,
// the padded input rows i*s+a of every image n side by side (row length RL = N * Wv). Every
// tap (kh, kw) is then a constant offset (kh/s)*RL + kw/s into the phase plane (kh%s, kw%s),
// so direct convolution is a sum of shifted, contiguous vectors: no im2row, no per-pixel
// branches, and the vector dimension (N * Wv per output row) is long even for 4x4 planes.
// Output columns wo in [Wo, Wv) are computed and discarded (waste (Wv - Wo) / Wv).
//
// Kernels keep a register tile (R output rows x V vectors of output pixels) while streaming all
// kept blocks that feed it: per kept (input row, R weights) one vector load per pixel vector and
// R broadcasts, R * V FMAs, no store in the inner loop and no branch.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "../common/isa.hpp"

namespace sb {

inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }
inline int64_t round_down(int64_t x, int64_t m) { return x / m * m; }

// 64-byte aligned, uninitialized float buffer.
struct FloatBuf {
    float* p = nullptr;
    int64_t n = 0;
    FloatBuf() = default;
    explicit FloatBuf(int64_t count) : n(count) {
        if (count > 0) {
            p = static_cast<float*>(std::aligned_alloc(64, size_t(round_up(count * 4, 64))));
            if (!p) throw std::bad_alloc();
        }
    }
    FloatBuf(const FloatBuf&) = delete;
    FloatBuf& operator=(const FloatBuf&) = delete;
    FloatBuf(FloatBuf&& o) noexcept : p(o.p), n(o.n) { o.p = nullptr; o.n = 0; }
    FloatBuf& operator=(FloatBuf&& o) noexcept {
        if (this != &o) {
            std::free(p);
            p = o.p;
            n = o.n;
            o.p = nullptr;
            o.n = 0;
        }
        return *this;
    }
    ~FloatBuf() { std::free(p); }
};

// Geometry of the phase-plane layout (see above). All lengths in floats, multiples of 16 where
// the kernels step by vectors.
struct ConvGeom {
    int64_t N, Cin, H, W, Cout, KH, KW, s, p;
    int64_t Ho, Wo, nph, Wv, RL, Hrows, Lq, Lqr, max_off, PS, DS;
    int64_t tap_phase(int64_t t) const { return ((t / KW) % s) * s + (t % KW) % s; }
    int64_t tap_off(int64_t t) const { return ((t / KW) / s) * RL + (t % KW) / s; }
    // Rows of phase plane ph that hold real input pixels: [lo, hi).
    void phase_rows(int64_t ph, int64_t& lo, int64_t& hi) const {
        const int64_t a = ph / s;
        lo = p - a > 0 ? (p - a + s - 1) / s : 0;
        hi = std::min(Hrows, (H - 1 + p - a) >= 0 ? (H - 1 + p - a) / s + 1 : 0);
        if (hi < lo) hi = lo;
    }
};

inline ConvGeom make_geom(int64_t N, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t KH, int64_t KW,
                          int64_t s, int64_t p) {
    ConvGeom g{};
    g.N = N; g.Cin = Cin; g.H = H; g.W = W; g.Cout = Cout; g.KH = KH; g.KW = KW; g.s = s; g.p = p;
    g.Ho = (H + 2 * p - KH) / s + 1;
    g.Wo = (W + 2 * p - KW) / s + 1;
    g.nph = s * s;
    g.Wv = g.Wo + (KW - 1) / s;
    g.RL = N * g.Wv;
    g.Hrows = g.Ho + (KH - 1) / s;
    g.Lq = g.Ho * g.RL;
    g.Lqr = round_up(g.Lq, 16);
    g.max_off = ((KH - 1) / s) * g.RL + (KW - 1) / s;
    g.PS = round_up(std::max(g.Hrows * g.RL, g.Lqr + g.max_off), 16);
    g.DS = round_up(g.max_off + g.PS, 16);
    return g;
}

// Grow-only per-thread scratch buffers (one per slot), reused across calls so the kernels never
// re-fault fresh pages (~3 us per 4 KiB page on this VM) or re-zero what they overwrite. Each
// calling thread owns its slots (the GIL is released around kernels, so two Python threads may
// run at once); OpenMP workers never allocate. Requests above kWsCap floats get a private buffer
// freed at the end of the call, so the cache never holds more than kSlots * kWsCap floats per thread.
constexpr int kWsSlots = 4;
constexpr int64_t kWsCap = int64_t(1) << 27;  // 512 MiB per slot

struct WsSlot {
    float* p = nullptr;
    int64_t cap = 0;
    ~WsSlot() { std::free(p); }
};

inline WsSlot* ws_slots() {
    thread_local WsSlot slots[kWsSlots];
    return slots;
}

// A float scratch buffer of at least count floats, uninitialized (contents of earlier calls).
struct Scratch {
    float* p = nullptr;
    FloatBuf own;
    Scratch(int slot, int64_t count) {
        if (count <= 0) return;
        if (count > kWsCap) {
            own = FloatBuf(count);
            p = own.p;
            return;
        }
        WsSlot& s = ws_slots()[slot];
        if (s.cap < count) {
            std::free(s.p);
            s.p = nullptr;
            s.cap = 0;
            const int64_t want = std::min(kWsCap, round_up(count + count / 4, 1024));
            s.p = static_cast<float*>(std::aligned_alloc(64, size_t(want) * 4));
            if (!s.p) throw std::bad_alloc();
            s.cap = want;
        }
        p = s.p;
    }
};

// Zero fills of a few floats (the padding around each copied image row) are inline stores; long
// fills and every copy go to libc (its short-copy paths beat a baseline-ISA loop). GCC would turn
// the loop back into a memset call: keep it from doing so.
#if defined(__GNUC__) && !defined(__clang__)
#define SB_NO_LIBCALL __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define SB_NO_LIBCALL
#endif

SB_NO_LIBCALL inline void zero_floats(float* __restrict p, int64_t n) {
    if (n >= 32) {
        std::memset(p, 0, sizeof(float) * size_t(n));
        return;
    }
    for (int64_t i = 0; i < n; ++i) p[i] = 0.0f;
}

inline void copy_floats(float* __restrict d, const float* __restrict s, int64_t n) {
    if (n > 0) std::memcpy(d, s, sizeof(float) * size_t(n));
}

// x (N, xC, H, W) -> xv (npad, nph, PS). Packed channel c < nreal comes from x channel
// cmap ? cmap[c] : c; channels in [nreal, npad) are zero planes. Only the padding around the
// copied pixels is zeroed (each value is written once).
inline void pack_input(const ConvGeom& g, const float* x, int64_t xC, const int64_t* cmap, int64_t nreal, float* xv,
                       int64_t npad, int threads) {
    const int64_t nplanes = npad * g.nph;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t pl = 0; pl < nplanes; ++pl) {
        float* dst = xv + pl * g.PS;
        const int64_t c = pl / g.nph, ph = pl % g.nph;
        if (c >= nreal) {
            zero_floats(dst, g.PS);
            continue;
        }
        const int64_t ci = cmap ? cmap[c] : c;
        const int64_t a = ph / g.s, b = ph % g.s;
        // Columns j whose input column w = j*s + b - p lies in [0, W).
        const int64_t jlo = std::min(g.Wv, g.p - b > 0 ? (g.p - b + g.s - 1) / g.s : 0);
        const int64_t jhi = std::max(jlo, std::min(g.Wv, (g.W - 1 + g.p - b) >= 0 ? (g.W - 1 + g.p - b) / g.s + 1 : 0));
        int64_t ilo, ihi;
        g.phase_rows(ph, ilo, ihi);
        // One streaming fill of the plane, then the copies (cheaper than many short padding fills).
        zero_floats(dst, g.PS);
        for (int64_t i = ilo; i < ihi; ++i) {
            const int64_t h = i * g.s + a - g.p;
            for (int64_t n = 0; n < g.N; ++n) {
                const float* src = x + ((n * xC + ci) * g.H + h) * g.W;
                float* d = dst + i * g.RL + n * g.Wv;
                if (g.s == 1) {
                    copy_floats(d + jlo, src + (jlo - g.p), jhi - jlo);
                } else {
                    for (int64_t j = jlo; j < jhi; ++j) d[j] = src[j * g.s + b - g.p];
                }
            }
        }
    }
}

inline void pack_input(const ConvGeom& g, const float* x, float* xv, int64_t cin_pad, int threads) {
    pack_input(g, x, g.Cin, nullptr, g.Cin, xv, cin_pad, threads);
}

// yext (rows, Lqr) -> y (N, yC, Ho, Wo): channel co takes row rmap ? rmap[co] : co, or zeros
// where rmap[co] < 0.
inline void unpack_output(const ConvGeom& g, const float* yext, float* y, int64_t yC, const int64_t* rmap,
                          int threads) {
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static)
    for (int64_t n = 0; n < g.N; ++n)
        for (int64_t co = 0; co < yC; ++co) {
            float* d = y + (n * yC + co) * g.Ho * g.Wo;
            const int64_t r = rmap ? rmap[co] : co;
            if (r < 0) {
                zero_floats(d, g.Ho * g.Wo);
                continue;
            }
            const float* src = yext + r * g.Lqr + n * g.Wv;
            for (int64_t ho = 0; ho < g.Ho; ++ho) copy_floats(d + ho * g.Wo, src + ho * g.RL, g.Wo);
        }
}

inline void unpack_output(const ConvGeom& g, const float* yext, float* y, int threads) {
    unpack_output(g, yext, y, g.Cout, nullptr, threads);
}

// dy (N, dC, Ho, Wo) -> dye (npad, DS): row c < nreal holds dy channel cmap ? cmap[c] : c at
// max_off + ho*RL + n*Wv + wo, zeros elsewhere; rows in [nreal, npad) are zero.
inline void pack_dy(const ConvGeom& g, const float* dy, int64_t dC, const int64_t* cmap, int64_t nreal, float* dye,
                    int64_t npad, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t c = 0; c < npad; ++c) {
        float* d = dye + c * g.DS;
        if (c >= nreal) {
            zero_floats(d, g.DS);
            continue;
        }
        const int64_t co = cmap ? cmap[c] : c;
        zero_floats(d, g.DS);
        for (int64_t ho = 0; ho < g.Ho; ++ho)
            for (int64_t n = 0; n < g.N; ++n)
                copy_floats(d + g.max_off + ho * g.RL + n * g.Wv, dy + ((n * dC + co) * g.Ho + ho) * g.Wo, g.Wo);
    }
}

inline void pack_dy(const ConvGeom& g, const float* dy, float* dye, int64_t cout_pad, int threads) {
    pack_dy(g, dy, g.Cout, nullptr, g.Cout, dye, cout_pad, threads);
}

// dxv (rows, nph, PS), valid on each phase's real rows -> dx (N, xC, H, W): channel ci takes
// row rmap ? rmap[ci] : ci, or zeros where rmap[ci] < 0.
inline void unpack_dx(const ConvGeom& g, const float* dxv, float* dx, int64_t xC, const int64_t* rmap, int threads) {
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static)
    for (int64_t n = 0; n < g.N; ++n)
        for (int64_t ci = 0; ci < xC; ++ci) {
            float* d = dx + (n * xC + ci) * g.H * g.W;
            const int64_t r = rmap ? rmap[ci] : ci;
            if (r < 0) {
                zero_floats(d, g.H * g.W);
                continue;
            }
            for (int64_t h = 0; h < g.H; ++h) {
                const int64_t a = (h + g.p) % g.s, i = (h + g.p) / g.s;
                float* drow = d + h * g.W;
                if (i >= g.Hrows) {
                    zero_floats(drow, g.W);
                    continue;
                }
                const float* base = dxv + (r * g.nph + a * g.s) * g.PS + i * g.RL + n * g.Wv;
                if (g.s == 1) {
                    const int64_t nv = std::max<int64_t>(0, std::min(g.W, g.Wv - g.p));
                    copy_floats(drow, base + g.p, nv);
                    zero_floats(drow + nv, g.W - nv);
                } else {
                    int64_t b = g.p % g.s, j = g.p / g.s;
                    for (int64_t w = 0; w < g.W; ++w) {
                        drow[w] = j < g.Wv ? base[b * g.PS + j] : 0.0f;
                        if (++b == g.s) { b = 0; ++j; }
                    }
                }
            }
        }
}

inline void unpack_dx(const ConvGeom& g, const float* dxv, float* dx, int threads) {
    unpack_dx(g, dxv, dx, g.Cin, nullptr, threads);
}

// A list of row groups for the generic tile engine: group gi computes R output rows
//   out[out_off[gi] + r * ostride + q] = sum_{u in group} vals[vidx[u] + r * vstride] * in[ioff[u] + q]
// for q in [qlo[gi], qhi[gi]) (multiples of 16), r < R.
struct RowGroups {
    int64_t ngroups;
    const int64_t* uptr;     // ngroups + 1
    const int32_t* ioff;     // per unit
    const int32_t* vidx;     // per unit
    int64_t vstride;
    const int64_t* out_off;  // per group
    int64_t ostride;
    const int64_t* qlo;      // per group
    const int64_t* qhi;      // per group
    bool accumulate = false; // out += instead of out =
};

struct BsrKernels {
    // Forward and backward-data of block-sparse conv / linear: R in 1..8 (rows per group).
    void (*rows_spmm)(int R, const RowGroups& groups, const float* vals, const float* in, float* out,
                      int64_t qchunk, int threads);
    // grad[blk][i][j] = sum_{q < L} dye[(row0 + j) * DS + dy0 + q] * xv[(ci0 + i) * xstride + xdelta[tap] + q]
    // for every stored block (row0 = br * bo, ci0 = cb * bi, col = tap * ncb + cb).
    void (*block_wgrad)(int64_t nbr, const int32_t* row_ptr, const int32_t* col, int bo, int bi, int64_t ncb,
                        const int64_t* xdelta, const float* xv, int64_t xstride, const float* dye, int64_t DS,
                        int64_t dy0, int64_t L, float* grad, int64_t qchunk, int threads);
    // Dense weight gradient of a compacted (filter / channel pruned) conv, tap-major per (co, ci):
    // grad[(co * nci + ci) * T + t] = sum_{q < L} dye[co * DS + dy0 + q] * xv[ci * xstride + xdelta[t] + q]
    void (*dense_wgrad)(int64_t nco, int64_t nci, int64_t T, const int64_t* xdelta, const float* xv, int64_t xstride,
                        const float* dye, int64_t DS, int64_t dy0, int64_t L, float* grad, int64_t qchunk,
                        int threads);
};

SB_DECLARE_ISA_TABLE(BsrKernels, bsr)

}  // namespace sb
