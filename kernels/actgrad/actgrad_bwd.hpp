// Activation-gradient pruning, backward path: a fused prune-and-compress front-end and the
// sparse-output-gradient backward kernels of conv2d and linear that consume its format.
//
// Format ("row bitmap"): the pruned gradient viewed as a 2-D (R, C) row-major matrix
//   conv   dO (N, Cout, Ho, Wo): R = N*Cout (one row per image and output channel), C = Ho*Wo
//   linear dO (B, Cout):          R = B, C = Cout
//   bits   uint64 (R, wpr), wpr = ceil(C / 64): bit c%64 of word c/64 set iff the entry is != 0
//   vals   float32 (nnz): the nonzeros, row by row, ascending column inside a row
//   rowptr int64 (R + 1): rowptr[r] = nonzeros before row r, rowptr[R] = nnz
#pragma once

#include <cstdint>
#include <vector>

#include "../common/geometry.hpp"
#include "../common/isa.hpp"

namespace sb {

struct RowBitmap {
    const uint64_t* bits;
    const float* vals;
    const int64_t* rowptr;
    int64_t rows, cols, wpr;
};

struct ActGradBwdKernels {
    // Stochastic pruning (same element-wise rule and RNG as ActGradKernels::stochastic_prune,
    // element index = r*C + c) fused with compression into the row-bitmap format. vals must hold
    // R*C + (threads + 1) * 16 floats (it is written in per-thread regions, then compacted).
    // Writes bits and rowptr completely; returns nnz.
    int64_t (*prune_compress)(const float* g, int64_t rows, int64_t cols, float tau, uint64_t seed, uint64_t* bits,
                              float* vals, int64_t* rowptr, int threads);
    // dX (N, Cin, H, W) = conv2d backward-data of dO (row bitmap, R = N*Cout) with w (Cout, Cin, kh, kw).
    void (*conv_dx)(const float* w, RowBitmap dO, const ConvGeometry& s, float* dx, int threads);
    // dW (Cout, Cin, kh, kw) = conv2d weight gradient of dO with x (N, Cin, H, W).
    void (*conv_dw)(const float* x, RowBitmap dO, const ConvGeometry& s, float* dw, int threads);
    // dX (B, Cin) = dO (B, Cout) @ w (Cout, Cin)
    void (*linear_dx)(const float* w, RowBitmap dO, int64_t cin, float* dx, int threads);
    // dW (Cout, Cin) = dO^T @ x (B, Cin)
    void (*linear_dw)(const float* x, RowBitmap dO, int64_t cin, float* dw, int threads);
};

SB_DECLARE_ISA_TABLE(ActGradBwdKernels, actgrad_bwd)

// Planning of the kernels above: the transposed views of dO and the tap tables, independent of
// the ISA (actgrad_bwd.cpp, compiled once; the microkernels in actgrad_bwd_impl.cpp call them).
namespace actgrad_plan {

// Pixel-major view of dO: for every output pixel (n, ho, wo), the (co, value) pairs of its
// nonzeros in ascending co, and per-pixel start of each output-channel block.
struct PixelLists {
    std::vector<int64_t> ptr;    // (P + 1)
    std::vector<int32_t> co;     // (nnz)
    std::vector<float> val;      // (nnz)
    std::vector<int64_t> bptr;   // (P, nblk + 1)
};

// cb output channels per block, nblk blocks.
void build_pixel_lists(const RowBitmap& d, const ConvGeometry& s, int64_t cb, int64_t nblk, PixelLists& L,
                       int threads);

// For each input row h (or column w): the kernel taps i and output rows ho with
// h = ho*stride - pad + i, precomputed once per call (no division in the pixel loop).
struct TapList {
    std::vector<int32_t> start;  // (extent + 1)
    std::vector<int32_t> tap, out;
};

TapList tap_list(int64_t extent, int64_t k, int64_t stride, int64_t pad, int64_t out_extent);

// Column lists of a linear dO (the transpose of the row bitmap), rows ascending in a column.
struct ColumnLists {
    std::vector<int64_t> ptr;  // (cols + 1)
    std::vector<int32_t> row;  // (nnz)
    std::vector<float> val;    // (nnz)
};
ColumnLists column_lists(const RowBitmap& d);

// Offsets into the padded NHWC input (channels padded to Cp): poff[ho*Wo + wo] of each output
// pixel's window origin (padded to a multiple of 64 entries), toff[i*kw + j] of each tap.
void nhwc_offsets(const ConvGeometry& s, int64_t Cp, std::vector<int64_t>& poff, std::vector<int64_t>& toff);
// Weight-gradient blocking: images per block (img_floats of padded input each), so the block's X
// stays in L2 while every output channel streams over it, grown at low density until the block
// holds ~64 expected nonzeros per output channel.
int64_t dw_image_block(const RowBitmap& d, const ConvGeometry& s, int64_t img_floats);
// Backward-data blocking: output channels per block, so the weight slice (kh*kw x up to 8
// vectors of W lanes per channel; nv vectors of channels) fits ~256 KiB (SB_ACTGRAD_DX_BLOCK_KB).
int64_t dx_channel_block(const ConvGeometry& s, int64_t nv, int W);

}  // namespace actgrad_plan

}  // namespace sb
