// The geometry of one 2-D convolution (groups 1, dilation 1): the single conv-shape type every
// kernel family (csr, bsr, pattern, filter, actgrad_bwd) takes. Layout-specific lengths (e.g.
// the phase planes of phase_planes.hpp) are derived from it by the family's planning code.
//
//   input  x  (N, Cin, H, W)        weight (Cout, Cin, kh, kw)        output y (N, Cout, Ho, Wo)
//   Ho = (H + 2*ph - kh) / sh + 1,  Wo = (W + 2*pw - kw) / sw + 1   (0 when the padded input is
//   smaller than the kernel; the bindings reject that where a family needs Ho, Wo >= 1).
//
// Header-only, plain integer arithmetic: it is included by the per-ISA translation units too.
#pragma once

#include <cstdint>

namespace sb {

struct ConvGeometry {
    int64_t N = 0, Cin = 0, H = 0, W = 0, Cout = 0, kh = 1, kw = 1;
    int64_t sh = 1, sw = 1;  // stride (rows, columns)
    int64_t ph = 0, pw = 0;  // zero padding (rows, columns)
    int64_t Ho = 0, Wo = 0;

    static constexpr int64_t out_extent(int64_t in, int64_t pad, int64_t k, int64_t stride) {
        return in + 2 * pad - k < 0 ? 0 : (in + 2 * pad - k) / stride + 1;
    }
    // A complete geometry; Ho and Wo are derived.
    static constexpr ConvGeometry make(int64_t N, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t kh,
                                       int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
        ConvGeometry g;
        g.N = N; g.Cin = Cin; g.H = H; g.W = W; g.Cout = Cout; g.kh = kh; g.kw = kw;
        g.sh = sh; g.sw = sw; g.ph = ph; g.pw = pw;
        g.Ho = out_extent(H, ph, kh, sh);
        g.Wo = out_extent(W, pw, kw, sw);
        return g;
    }
    static constexpr ConvGeometry make(int64_t N, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t kh,
                                       int64_t kw, int64_t stride, int64_t padding) {
        return make(N, Cin, H, W, Cout, kh, kw, stride, stride, padding, padding);
    }
    // Only the weight's part (Cout, Cin, kh, kw): what a weight-shape argument describes.
    static constexpr ConvGeometry weight(int64_t Cout, int64_t Cin, int64_t kh, int64_t kw) {
        ConvGeometry g;
        g.Cout = Cout; g.Cin = Cin; g.kh = kh; g.kw = kw;
        return g;
    }
    // This weight applied to an input (N, Cin, H, W) with one stride and padding for both axes.
    constexpr ConvGeometry with_input(int64_t n, int64_t h, int64_t w, int64_t stride, int64_t padding) const {
        return make(n, Cin, h, w, Cout, kh, kw, stride, padding);
    }

    constexpr int64_t taps() const { return kh * kw; }             // kernel taps per (co, ci)
    constexpr int64_t K() const { return Cin * kh * kw; }          // lowered row length
    constexpr int64_t P() const { return N * Ho * Wo; }            // output pixels
    constexpr int64_t in_plane() const { return H * W; }
    constexpr int64_t out_plane() const { return Ho * Wo; }
    constexpr int64_t weight_size() const { return Cout * Cin * kh * kw; }
    constexpr bool uniform() const { return sh == sw && ph == pw; }
    // The 1x1, stride-1, unpadded conv: a matrix product on the NCHW planes themselves.
    constexpr bool pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
    // The stride and padding of families that take one value for both axes (uniform()).
    constexpr int64_t stride() const { return sh; }
    constexpr int64_t pad() const { return ph; }
};

}  // namespace sb
