// The "row-interleaved phase planes" activation layout of the direct-convolution families
// (bsr, pattern, filter): a planning object derived from ConvGeometry, and the packing /
// unpacking passes between NCHW tensors and the layout (compiled once, phase_planes.cpp).
//
// For stride s, input channel ci and phase (a, b) in [0, s)^2 a plane holds, row after row,
// the padded input rows i*s+a of every image n side by side (row length RL = N * Wv). Every
// tap (kh, kw) is then a constant offset (kh/s)*RL + kw/s into the phase plane (kh%s, kw%s),
// so direct convolution is a sum of shifted, contiguous vectors: no im2row, no per-pixel
// branches, and the vector dimension (N * Wv per output row) is long even for 4x4 planes.
// Output columns wo in [Wo, Wv) are computed and discarded (waste (Wv - Wo) / Wv).
// Uses the uniform stride / padding of ConvGeometry (sh, ph).
#pragma once

#include <algorithm>
#include <cstdint>

#include "geometry.hpp"

namespace sb {

inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }
inline int64_t round_down(int64_t x, int64_t m) { return x / m * m; }
// A stage's pixel-vector chunk: the caller's qchunk (>= 0, rounded up to 16), 0 = the default.
inline int64_t pick_qchunk(int64_t qchunk, int64_t dflt) { return qchunk == 0 ? dflt : round_up(qchunk, 16); }

// Lengths of the layout (see above). All in floats, multiples of 16 where the kernels step by
// vectors.
struct PhasePlanes : ConvGeometry {
    int64_t nph, Wv, RL, Hrows, Lq, Lqr, max_off, PS, DS;
    int64_t tap_phase(int64_t t) const { return ((t / kw) % sh) * sh + (t % kw) % sh; }
    int64_t tap_off(int64_t t) const { return ((t / kw) / sh) * RL + (t % kw) / sh; }
    // Offset of tap t in a packed input channel (its phase plane + shift).
    int64_t tap_delta(int64_t t) const { return tap_phase(t) * PS + tap_off(t); }
    // Rows of phase plane ph_ that hold real input pixels: [lo, hi).
    void phase_rows(int64_t ph_, int64_t& lo, int64_t& hi) const {
        const int64_t a = ph_ / sh;
        lo = ph - a > 0 ? (ph - a + sh - 1) / sh : 0;
        hi = std::min(Hrows, (H - 1 + ph - a) >= 0 ? (H - 1 + ph - a) / sh + 1 : 0);
        if (hi < lo) hi = lo;
    }
    // Vector range [qlo, qhi) of phase plane ph_ that backward-data writes (real rows, 16-aligned).
    void phase_span(int64_t ph_, int64_t& qlo, int64_t& qhi) const {
        int64_t lo, hi;
        phase_rows(ph_, lo, hi);
        qlo = round_down(lo * RL, 16);
        qhi = std::max(qlo, std::min(PS, round_up(hi * RL, 16)));
    }
};

inline PhasePlanes phase_planes(const ConvGeometry& c) {
    PhasePlanes g{};
    static_cast<ConvGeometry&>(g) = c;
    const int64_t s = c.sh;
    g.nph = s * s;
    g.Wv = g.Wo + (g.kw - 1) / s;
    g.RL = g.N * g.Wv;
    g.Hrows = g.Ho + (g.kh - 1) / s;
    g.Lq = g.Ho * g.RL;
    g.Lqr = round_up(g.Lq, 16);
    g.max_off = ((g.kh - 1) / s) * g.RL + (g.kw - 1) / s;
    g.PS = round_up(std::max(g.Hrows * g.RL, g.Lqr + g.max_off), 16);
    g.DS = round_up(g.max_off + g.PS, 16);
    return g;
}

// x (N, xC, H, W) -> xv (npad, nph, PS). Packed channel c < nreal comes from x channel
// cmap ? cmap[c] : c; channels in [nreal, npad) are zero planes. Only the padding around the
// copied pixels is zeroed (each value is written once).
void pack_input(const PhasePlanes& g, const float* x, int64_t xC, const int64_t* cmap, int64_t nreal, float* xv,
                int64_t npad, int threads);
void pack_input(const PhasePlanes& g, const float* x, float* xv, int64_t cin_pad, int threads);
// yext (rows, Lqr) -> y (N, yC, Ho, Wo): channel co takes row rmap ? rmap[co] : co, or zeros
// where rmap[co] < 0.
void unpack_output(const PhasePlanes& g, const float* yext, float* y, int64_t yC, const int64_t* rmap,
                   int threads);
void unpack_output(const PhasePlanes& g, const float* yext, float* y, int threads);
// dy (N, dC, Ho, Wo) -> dye (npad, DS): row c < nreal holds dy channel cmap ? cmap[c] : c at
// max_off + ho*RL + n*Wv + wo, zeros elsewhere; rows in [nreal, npad) are zero.
void pack_dy(const PhasePlanes& g, const float* dy, int64_t dC, const int64_t* cmap, int64_t nreal, float* dye,
             int64_t npad, int threads);
void pack_dy(const PhasePlanes& g, const float* dy, float* dye, int64_t cout_pad, int threads);
// dxv (rows, nph, PS), valid on each phase's real rows -> dx (N, xC, H, W): channel ci takes
// row rmap ? rmap[ci] : ci, or zeros where rmap[ci] < 0.
void unpack_dx(const PhasePlanes& g, const float* dxv, float* dx, int64_t xC, const int64_t* rmap, int threads);
void unpack_dx(const PhasePlanes& g, const float* dxv, float* dx, int threads);

}  // namespace sb
