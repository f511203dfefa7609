// Filter / channel pruning: whole output filters and input channels removed, the rest run as
// a smaller dense conv. The compact weight (k, kin, kh, kw) holds the kept filters out_idx (of
// out_channels) x the kept input channels in_idx (of in_channels), both strictly increasing.
// Direct convolution on the phase planes of kernels/common/phase_planes.hpp: the gather of
// kept channels is folded into the packing, the scatter into the unpacking (pruned output /
// input channels are written as zeros in the same pass). Forward and backward-data run on the
// row-group tile engine of the bsr family (BsrKernels::rows_spmm, dense rows of up to 8
// filters); the weight gradient has its own microkernel (filter_impl.cpp).
//
// Files: filter.cpp plans each stage (channel maps, row groups, input-channel blocking) and
// runs it; filter_impl.cpp holds the per-ISA weight-gradient microkernel (this table).
#pragma once

#include <cstdint>

#include "../common/geometry.hpp"
#include "../common/isa.hpp"

namespace sb {

struct FilterKernels {
    // Dense weight gradient of a compacted conv, tap-major per (co, ci):
    // grad[(co * nci + ci) * T + t] = sum_{q < L} dye[co * DS + dy0 + q] * xv[ci * xstride + xdelta[t] + q]
    void (*dense_wgrad)(int64_t nco, int64_t nci, int64_t T, const int64_t* xdelta, const float* xv, int64_t xstride,
                        const float* dye, int64_t DS, int64_t dy0, int64_t L, float* grad, int64_t qchunk,
                        int threads);
};

SB_DECLARE_ISA_TABLE(FilterKernels, filter)

// The kept channels (validated by the caller: in range, strictly increasing).
struct FilterChannels {
    const int64_t* out_idx;  // k entries, of out_channels
    const int64_t* in_idx;   // kin entries, of in_channels
    int64_t out_channels, in_channels;
};

// Family entry points (filter.cpp). g: the compact geometry (Cout = k, Cin = kin, both >= 1;
// N >= 1; uniform stride / padding; Ho, Wo >= 1). qchunk >= 0 (0: the stage's default).
// y (N, out_channels, Ho, Wo) from x (N, in_channels, H, W) and the compact weight w.
void filter_conv_forward(Isa isa, const ConvGeometry& g, const FilterChannels& c, const float* w, const float* x,
                         float* y, int64_t qchunk, int threads);
// dx (N, in_channels, H, W) from dy (N, out_channels, Ho, Wo).
void filter_conv_backward_data(Isa isa, const ConvGeometry& g, const FilterChannels& c, const float* w,
                               const float* dy, float* dx, int64_t qchunk, int threads);
// The compact dW (k, kin, kh, kw) from x (N, in_channels, H, W) and dy (N, out_channels, Ho, Wo).
void filter_conv_weight_grad(Isa isa, const ConvGeometry& g, const FilterChannels& c, const float* x,
                             const float* dy, float* grad, int64_t qchunk, int threads);

}  // namespace sb
