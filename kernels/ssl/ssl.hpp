// SSL (structured sparsity learning, Wen et al. 2016): group norms and the group-Lasso update on
// the lowered weight, a (R rows = filters) x (K = Cin * taps columns = filter shapes) row-major
// matrix; a channel is `taps` consecutive columns; depth is the whole matrix. Plus the gather of
// a subset of im2col columns that the compacted (rows and columns removed) conv multiplies.
//
// Files: ssl.cpp runs each entry point (scales from norms, the pass order); ssl_impl.cpp holds
// the per-ISA passes (this table).
#pragma once

#include <cstdint>

#include "../common/isa.hpp"

namespace sb {

struct SslKernels {
    // out[r] = sum_j w[r, j]^2
    void (*row_sumsq)(const float* w, int64_t R, int64_t K, float* out, int threads);
    // out[j] = sum_r rw[r] * w[r, j]^2 (rw == nullptr: 1)
    void (*col_sumsq)(const float* w, int64_t R, int64_t K, const float* rw, float* out, int threads);
    // w[r, j] = (w[r, j] * rs[r]) * cs[j], then 0 where |w| < thr (rs / cs nullptr: 1)
    void (*scale_zero)(float* w, int64_t R, int64_t K, const float* rs, const float* cs, float thr, int threads);
    // g[r, j] += w[r, j] * (ra[r] + ca[j])
    void (*add_subgrad)(const float* w, float* g, int64_t R, int64_t K, const float* ra, const float* ca,
                        int threads);
    // out[n, i, p] = x[n, c, ho * s - pad + ki, wo * s - pad + kj] (0 outside), column cols[i] = (c, ki, kj)
    void (*gather_cols)(const float* x, int64_t N, int64_t C, int64_t H, int64_t Wd, int64_t kh, int64_t kw,
                        int64_t stride, int64_t pad, int64_t Ho, int64_t Wo, const int32_t* cols, int64_t nc,
                        float* out, int threads);
};

SB_DECLARE_ISA_TABLE(SslKernels, ssl)

struct SslLambdas {
    float rows = 0, cols = 0, chans = 0, depth = 0;  // group-Lasso strengths, >= 0 (checked by the caller)
};

// Proximal step, in this order, each on the weight the previous one left: rows (filters), columns
// (filter shapes), channels, depth: w_g <- max(0, 1 - lr * lambda / ||w_g||) w_g (0 where
// ||w_g|| = 0); then weights with |w| < zero_below become 0. Three reads and one write of w.
void ssl_prox(Isa isa, float* w, int64_t R, int64_t K, int64_t taps, float lr, const SslLambdas& lam,
              float zero_below, int threads);
// Subgradient of the penalty, added to g: sum over kinds lambda * w / ||w_g|| (0 where ||w_g|| = 0),
// all norms from the same w.
void ssl_subgrad(Isa isa, const float* w, float* g, int64_t R, int64_t K, int64_t taps, const SslLambdas& lam,
                 int threads);
// Group norms (L2) of one kind: 0 rows, 1 columns, 2 channels, 3 depth; out has R, K, K / taps or 1 entries
// (channels: K / taps written; with taps = 0 nothing is, the caller sizes and zero-fills out by Cin).
void ssl_group_norms(Isa isa, const float* w, int64_t R, int64_t K, int64_t taps, int kind, float* out, int threads);

}  // namespace sb
