// Packing passes of the phase-plane layout (see phase_planes.hpp). Compiled once.
#include "phase_planes.hpp"
#include "phases.hpp"

#include <omp.h>

#include <algorithm>
#include <cstring>

namespace sb {
namespace {

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

}  // namespace

// x (N, xC, H, W) -> xv (npad, nph, PS). Packed channel c < nreal comes from x channel
// cmap ? cmap[c] : c; channels in [nreal, npad) are zero planes. Only the padding around the
// copied pixels is zeroed (each value is written once).
void pack_input(const PhasePlanes& g, const float* x, int64_t xC, const int64_t* cmap, int64_t nreal, float* xv,
                       int64_t npad, int threads) {
    phases::Scope phase_scope("layout:pack_input");
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
        const int64_t a = ph / g.sh, b = ph % g.sh;
        // Columns j whose input column w = j*s + b - p lies in [0, W).
        const int64_t jlo = std::min(g.Wv, g.ph - b > 0 ? (g.ph - b + g.sh - 1) / g.sh : 0);
        const int64_t jhi = std::max(jlo, std::min(g.Wv, (g.W - 1 + g.ph - b) >= 0 ? (g.W - 1 + g.ph - b) / g.sh + 1 : 0));
        int64_t ilo, ihi;
        g.phase_rows(ph, ilo, ihi);
        // One streaming fill of the plane, then the copies (cheaper than many short padding fills).
        zero_floats(dst, g.PS);
        for (int64_t i = ilo; i < ihi; ++i) {
            const int64_t h = i * g.sh + a - g.ph;
            for (int64_t n = 0; n < g.N; ++n) {
                const float* src = x + ((n * xC + ci) * g.H + h) * g.W;
                float* d = dst + i * g.RL + n * g.Wv;
                if (g.sh == 1) {
                    copy_floats(d + jlo, src + (jlo - g.ph), jhi - jlo);
                } else {
                    for (int64_t j = jlo; j < jhi; ++j) d[j] = src[j * g.sh + b - g.ph];
                }
            }
        }
    }
}

void pack_input(const PhasePlanes& g, const float* x, float* xv, int64_t cin_pad, int threads) {
    pack_input(g, x, g.Cin, nullptr, g.Cin, xv, cin_pad, threads);
}

// yext (rows, Lqr) -> y (N, yC, Ho, Wo): channel co takes row rmap ? rmap[co] : co, or zeros
// where rmap[co] < 0.
void unpack_output(const PhasePlanes& g, const float* yext, float* y, int64_t yC, const int64_t* rmap,
                          int threads) {
    phases::Scope phase_scope("layout:unpack_output");
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

void unpack_output(const PhasePlanes& g, const float* yext, float* y, int threads) {
    unpack_output(g, yext, y, g.Cout, nullptr, threads);
}

// dy (N, dC, Ho, Wo) -> dye (npad, DS): row c < nreal holds dy channel cmap ? cmap[c] : c at
// max_off + ho*RL + n*Wv + wo, zeros elsewhere; rows in [nreal, npad) are zero.
void pack_dy(const PhasePlanes& g, const float* dy, int64_t dC, const int64_t* cmap, int64_t nreal, float* dye,
                    int64_t npad, int threads) {
    phases::Scope phase_scope("layout:pack_dy");
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

void pack_dy(const PhasePlanes& g, const float* dy, float* dye, int64_t cout_pad, int threads) {
    pack_dy(g, dy, g.Cout, nullptr, g.Cout, dye, cout_pad, threads);
}

// dxv (rows, nph, PS), valid on each phase's real rows -> dx (N, xC, H, W): channel ci takes
// row rmap ? rmap[ci] : ci, or zeros where rmap[ci] < 0.
void unpack_dx(const PhasePlanes& g, const float* dxv, float* dx, int64_t xC, const int64_t* rmap, int threads) {
    phases::Scope phase_scope("layout:unpack_dx");
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
                const int64_t a = (h + g.ph) % g.sh, i = (h + g.ph) / g.sh;
                float* drow = d + h * g.W;
                if (i >= g.Hrows) {
                    zero_floats(drow, g.W);
                    continue;
                }
                const float* base = dxv + (r * g.nph + a * g.sh) * g.PS + i * g.RL + n * g.Wv;
                if (g.sh == 1) {
                    const int64_t nv = std::max<int64_t>(0, std::min(g.W, g.Wv - g.ph));
                    copy_floats(drow, base + g.ph, nv);
                    zero_floats(drow + nv, g.W - nv);
                } else if (g.sh == 2 && g.W % 2 == 0) {
                    // Stride 2: even columns from one phase, odd from the other (an interleave
                    // the compiler vectorizes), zeros past the plane.
                    const int64_t be = g.ph & 1, je = g.ph >> 1, bo = (g.ph + 1) & 1, jo = (g.ph + 1) >> 1;
                    const float* E = base + be * g.PS + je;
                    const float* O = base + bo * g.PS + jo;
                    const int64_t half = g.W / 2;
                    const int64_t kn = std::max<int64_t>(0, std::min({half, g.Wv - je, g.Wv - jo}));
                    for (int64_t k = 0; k < kn; ++k) {
                        drow[2 * k] = E[k];
                        drow[2 * k + 1] = O[k];
                    }
                    for (int64_t k = kn; k < half; ++k) {
                        drow[2 * k] = je + k < g.Wv ? E[k] : 0.0f;
                        drow[2 * k + 1] = jo + k < g.Wv ? O[k] : 0.0f;
                    }
                } else {
                    // Phase b holds the columns w with (w + ph) % sh == b, at j = (w + ph) / sh:
                    // one strided copy per phase (no per-element branch), zeros past the plane.
                    for (int64_t b = 0; b < g.sh; ++b) {
                        const int64_t w0 = ((b - g.ph) % g.sh + g.sh) % g.sh, j0 = (w0 + g.ph) / g.sh;
                        const int64_t cnt = w0 < g.W ? (g.W - w0 + g.sh - 1) / g.sh : 0;
                        const int64_t kn = std::max<int64_t>(0, std::min(cnt, g.Wv - j0));
                        const float* src = base + b * g.PS + j0;
                        float* dw = drow + w0;
                        for (int64_t k = 0; k < kn; ++k) dw[k * g.sh] = src[k];
                        for (int64_t k = kn; k < cnt; ++k) dw[k * g.sh] = 0.0f;
                    }
                }
            }
        }
}

void unpack_dx(const PhasePlanes& g, const float* dxv, float* dx, int threads) {
    unpack_dx(g, dxv, dx, g.Cin, nullptr, threads);
}


}  // namespace sb
