// Pointwise SpMM on NCHW planes: the 1x1, stride-1, unpadded conv (forward and backward-data)
// of the block and filter families, and their linear layers on the transposed batch, with the
// positions as the vector dimension and no phase-plane packing: read straight from x (or dy),
// stored straight into y (or dx).
//
// A row group is R output planes (R in 1, 2, 4, 8) fed by the same input planes ("units"): per
// unit one vector load per position vector and R broadcasts, R * V FMAs. A block row of 4x4
// blocks is one group of 4 rows with 4 units per kept block; a filter-pruned layer's kept
// filters are dense groups. The weights are packed per call into unit-major order (nnz floats,
// negligible beside the N * L uses of each weight).
//
// Files: planes.cpp builds the groups of each stage and runs them (compiled once); the
// microkernel is BsrKernels::planes_spmm (bsr_impl.cpp, per ISA).
#pragma once

#include <cstdint>
#include <vector>

#include "../common/geometry.hpp"
#include "../common/isa.hpp"
#include "bsr.hpp"

namespace sb {

// Groups of the planes engine (borrowed arrays). For image n, group g, row r < R, position q < L:
//   out[n*out_img + orow[g*R + r]*L + q] = sum_{u in g} vals[u*R + r] * in[n*in_img + ioff[u] + q]
// Rows with orow < 0 are padding (computed, never stored).
struct PlaneGroups {
    int R;
    int64_t ngroups;
    const int64_t* uptr;  // ngroups + 1
    const int32_t* ioff;  // per unit: its input plane's offset inside an image (floats)
    const float* vals;    // per unit: R weights
    const int64_t* orow;  // ngroups * R
};

struct PlaneIO {
    const float* in;
    int64_t in_img;
    float* out;
    int64_t out_img;
    int64_t L, nimg;
};

// Weight-gradient tiles: tile t holds the jb x ib (<= 4 x 4) dot products
//   grad[off + j*gj + i*gi] = sum_n sum_{q < L} dy[n*dy_img + d[j]*L + q] * x[n*x_img + x[i]*L + q]
// over the whole batch; a block's (or a compact filter tile's) gradient straight from the NCHW
// planes of x and dy, no copy of either.
struct PlaneDotTile {
    int32_t d[4], x[4];
    int64_t off;
    int jb, ib;
};

struct PlaneDots {
    const PlaneDotTile* tiles;
    int64_t ntiles, gj, gi;
    const float* x;
    int64_t x_img;
    const float* dy;
    int64_t dy_img;
    int64_t L, nimg;
    int64_t nc;   // images per chunk (run_plane_dots chooses it)
    float* grad;  // zero on entry; every tile adds its own entries only
};

// A stage's groups, owning their arrays, plus the output planes no group writes (zero filled).
struct PlanePlan {
    int R = 1;
    std::vector<int64_t> uptr{0}, orow, unwritten;
    std::vector<int32_t> ioff;
    std::vector<float> vals;
    PlaneGroups view() const {
        return PlaneGroups{R, int64_t(uptr.size()) - 1, uptr.data(), ioff.data(), vals.data(), orow.data()};
    }
};

// Floats per plane the engine sees: H * W, or the batch N for a linear layer (H * W == 1),
// which runs on the transposed activations. The plans below take it as L.
inline int64_t plane_len(int64_t N, int64_t HW) { return HW == 1 ? N : HW; }

// Block (BSR, see bsr.hpp) on a pointwise geometry.
PlanePlan bsr_planes_forward(const BsrWeight& b, int64_t Cin, int64_t Cout, int64_t L);
PlanePlan bsr_planes_backward_data(const BsrWeight& b, int64_t Cin, int64_t Cout, int64_t L);
// Filter: the compact weight w (k, kin) of the kept filters out_idx x kept inputs in_idx.
PlanePlan filter_planes_forward(const float* w, const int64_t* out_idx, int64_t k, const int64_t* in_idx, int64_t kin,
                                int64_t out_channels, int64_t L);
PlanePlan filter_planes_backward_data(const float* w, const int64_t* out_idx, int64_t k, const int64_t* in_idx,
                                      int64_t kin, int64_t in_channels, int64_t L);

// Weight-gradient tiles of a block weight (grad in the values' order, see bsr.hpp) and of a
// compact filter weight (grad (k, kin) row-major).
std::vector<PlaneDotTile> bsr_planes_wgrad_tiles(const BsrWeight& b, int64_t Cin, int64_t Cout, int64_t& gj,
                                                 int64_t& gi);
std::vector<PlaneDotTile> filter_planes_wgrad_tiles(const int64_t* out_idx, int64_t k, const int64_t* in_idx,
                                                    int64_t kin, int64_t& gj, int64_t& gi);
// grad (grad_len floats, zeroed here) from x (N, in_ch, HW) and dy (N, out_ch, HW); a linear
// layer (HW == 1) on transposed copies.
void run_plane_dots(Isa isa, const std::vector<PlaneDotTile>& tiles, int64_t gj, int64_t gi, const float* x,
                    int64_t in_ch, const float* dy, int64_t out_ch, int64_t N, int64_t HW, float* grad,
                    int64_t grad_len, int threads);

// Runs a plan (made for plane_len(N, HW)) on a pointwise geometry: out (N, out_ch, HW) from
// in (N, in_ch, HW); when HW == 1 (a linear layer) on the transposed batch (one "image" of N
// positions, transposed in and out in the calling thread's workspace).
void run_planes(Isa isa, const PlanePlan& P, const float* in, int64_t in_ch, float* out, int64_t out_ch, int64_t N,
                int64_t HW, int threads);

}  // namespace sb
