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
// Layout: the phase planes of kernels/common/phase_planes.hpp, packed once per call; a pointwise
// conv (1x1, stride 1, unpadded) and the linear layer skip them for the planes engine (planes.hpp).
//
// Kernels keep a register tile (R output rows x V vectors of output pixels) while streaming all
// kept blocks that feed it: per kept (input row, R weights) one vector load per pixel vector and
// R broadcasts, R * V FMAs, no store in the inner loop and no branch.
//
// Files: bsr.cpp plans each stage (row groups, offsets, tap deltas) and runs it; bsr_impl.cpp
// holds the per-ISA microkernels (this table). rows_spmm is also the engine of the filter family.
#pragma once

#include <cstdint>

#include "../common/geometry.hpp"
#include "../common/isa.hpp"

namespace sb {

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

struct PlaneGroups;
struct PlaneIO;
struct PlaneDots;

struct BsrKernels {
    // Forward and backward-data of block-sparse conv / linear: R in 1..8 (rows per group).
    void (*rows_spmm)(int R, const RowGroups& groups, const float* vals, const float* in, float* out,
                      int64_t qchunk, int threads);
    // grad[blk][i][j] = sum_{q < L} dye[(row0 + j) * DS + dy0 + q] * xv[(ci0 + i) * xstride + xdelta[tap] + q]
    // for every stored block (row0 = br * bo, ci0 = cb * bi, col = tap * ncb + cb).
    void (*block_wgrad)(int64_t nbr, const int32_t* row_ptr, const int32_t* col, int bo, int bi, int64_t ncb,
                        const int64_t* xdelta, const float* xv, int64_t xstride, const float* dye, int64_t DS,
                        int64_t dy0, int64_t L, float* grad, int64_t qchunk, int threads);
    // The planes engine of planes.hpp (pointwise block / filter forward and backward-data).
    void (*planes_spmm)(const PlaneGroups& groups, const PlaneIO& io, int threads);
    // Its weight-gradient tiles (pointwise block / filter weight gradient).
    void (*plane_dots)(const PlaneDots& dots, int threads);
};

SB_DECLARE_ISA_TABLE(BsrKernels, bsr)

// A validated BSR conv weight (see the format above); arrays borrowed from the caller.
struct BsrWeight {
    const float* values;     // nblocks * bo * bi (unused by the weight gradient)
    const int32_t* row_ptr;  // nbr + 1
    const int32_t* col;      // nblocks
    int bo, bi;
    int64_t nbr, ncb, nblocks;
};

// Family entry points (bsr.cpp). g: the complete conv geometry (N, Cin, H, W, Cout, kh, kw,
// uniform stride / padding; Ho, Wo >= 1; N, Cin, Cout >= 1). qchunk: pixel-vector chunk
// (>= 0, rounded up to 16; 0: the stage's default). Layouts are packed into the calling thread's workspace.
void bsr_conv_forward(Isa isa, const ConvGeometry& g, const BsrWeight& b, const float* x, float* y, int64_t qchunk,
                      int threads);
void bsr_conv_backward_data(Isa isa, const ConvGeometry& g, const BsrWeight& b, const float* dy, float* dx,
                            int64_t qchunk, int threads);
// grad: nblocks * bo * bi, in the values' storage order.
void bsr_conv_weight_grad(Isa isa, const ConvGeometry& g, const BsrWeight& b, const float* x, const float* dy,
                          float* grad, int64_t qchunk, int threads);

}  // namespace sb
