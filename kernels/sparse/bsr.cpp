// Block-sparse conv / linear: the planning of each stage (row groups of the tile engine, input
// offsets, tap deltas) and the stage runs, compiled once. Microkernels: bsr_impl.cpp.
#include <algorithm>
#include <vector>

#include "../common/phases.hpp"
#include "../common/phase_planes.hpp"
#include "../common/workspace.hpp"
#include "bsr.hpp"
#include "planes.hpp"

namespace sb {
namespace {

// Row groups of the tile engine, owning their arrays.
struct GroupPlan {
    std::vector<int64_t> uptr, out_off, qlo, qhi;
    std::vector<int32_t> ioff, vidx;
    RowGroups view(int64_t vstride, int64_t ostride) const {
        return RowGroups{int64_t(out_off.size()), uptr.data(), ioff.data(), vidx.data(), vstride, out_off.data(),
                         ostride,                 qlo.data(),  qhi.data()};
    }
};

// Forward: one group per block row; unit = (kept block, input row i), reading input channel
// cb*bi + i at the block's tap.
GroupPlan plan_forward(const PhasePlanes& g, const BsrWeight& b) {
    phases::Scope phase_scope("plan");
    GroupPlan P;
    P.uptr.assign(b.nbr + 1, 0);
    P.out_off.resize(b.nbr);
    P.qlo.assign(b.nbr, 0);
    P.qhi.assign(b.nbr, g.Lqr);
    P.ioff.reserve(b.nblocks * b.bi);
    P.vidx.reserve(b.nblocks * b.bi);
    for (int64_t r = 0; r < b.nbr; ++r) {
        for (int64_t k = b.row_ptr[r]; k < b.row_ptr[r + 1]; ++k) {
            const int64_t t = b.col[k] / b.ncb, cb = b.col[k] % b.ncb;
            for (int i = 0; i < b.bi; ++i) {
                const int64_t ci = cb * b.bi + i;
                if (ci >= g.Cin) break;
                P.ioff.push_back(int32_t((ci * g.nph + g.tap_phase(t)) * g.PS + g.tap_off(t)));
                P.vidx.push_back(int32_t(k * b.bo * b.bi + i * b.bo));
            }
        }
        P.uptr[r + 1] = int64_t(P.ioff.size());
        P.out_off[r] = r * b.bo * g.Lqr;
    }
    return P;
}

// Backward-data: blocks by block column (input-channel block), then by tap phase; unit =
// (kept block, output row j), reading the packed output gradient of channel br*bo + j.
GroupPlan plan_backward_data(const PhasePlanes& g, const BsrWeight& b) {
    phases::Scope phase_scope("plan");
    const int64_t ngr = b.ncb * g.nph;
    std::vector<int64_t> cnt(ngr + 1, 0);
    for (int64_t r = 0; r < b.nbr; ++r)
        for (int64_t k = b.row_ptr[r]; k < b.row_ptr[r + 1]; ++k) {
            const int64_t t = b.col[k] / b.ncb, cb = b.col[k] % b.ncb;
            cnt[cb * g.nph + g.tap_phase(t) + 1] += std::min<int64_t>(b.bo, g.Cout - r * b.bo);
        }
    for (int64_t i = 0; i < ngr; ++i) cnt[i + 1] += cnt[i];
    GroupPlan P;
    P.uptr = cnt;
    std::vector<int64_t> fill(cnt.begin(), cnt.end() - 1);
    P.ioff.resize(cnt[ngr]);
    P.vidx.resize(cnt[ngr]);
    for (int64_t r = 0; r < b.nbr; ++r)
        for (int64_t k = b.row_ptr[r]; k < b.row_ptr[r + 1]; ++k) {
            const int64_t t = b.col[k] / b.ncb, cb = b.col[k] % b.ncb;
            int64_t& f = fill[cb * g.nph + g.tap_phase(t)];
            for (int j = 0; j < b.bo; ++j) {
                const int64_t co = r * b.bo + j;
                if (co >= g.Cout) break;
                P.ioff[f] = int32_t(co * g.DS + g.max_off - g.tap_off(t));
                P.vidx[f] = int32_t(k * b.bo * b.bi + j);
                ++f;
            }
        }
    P.out_off.resize(ngr);
    P.qlo.resize(ngr);
    P.qhi.resize(ngr);
    for (int64_t cb = 0; cb < b.ncb; ++cb)
        for (int64_t ph = 0; ph < g.nph; ++ph) {
            const int64_t gi = cb * g.nph + ph;
            P.out_off[gi] = (cb * b.bi * g.nph + ph) * g.PS;
            g.phase_span(ph, P.qlo[gi], P.qhi[gi]);
        }
    return P;
}

}  // namespace

void bsr_conv_forward(Isa isa, const ConvGeometry& geom, const BsrWeight& b, const float* x, float* y, int64_t qchunk,
                      int threads) {
    if (geom.pointwise()) {  // straight on the NCHW planes: no packing
        const int64_t HW = geom.H * geom.W;
        const PlanePlan P = bsr_planes_forward(b, geom.Cin, geom.Cout, plane_len(geom.N, HW));
        run_planes(isa, P, x, geom.Cin, y, geom.Cout, geom.N, HW, threads);
        return;
    }
    ws::Scope scope;
    const PhasePlanes g = phase_planes(geom);
    const int64_t cin_pad = b.ncb * b.bi, cout_pad = b.nbr * b.bo;
    const GroupPlan P = plan_forward(g, b);
    float* xv = ws::get<float>(ws::kInput, cin_pad * g.nph * g.PS);
    float* yext = ws::get<float>(ws::kOutput, cout_pad * g.Lqr);
    pack_input(g, x, xv, cin_pad, threads);
    bsr_for(isa).rows_spmm(b.bo, P.view(1, g.Lqr), b.values, xv, yext, pick_qchunk(qchunk, 512), threads);
    unpack_output(g, yext, y, threads);
}

void bsr_conv_backward_data(Isa isa, const ConvGeometry& geom, const BsrWeight& b, const float* dy, float* dx,
                            int64_t qchunk, int threads) {
    if (geom.pointwise()) {
        const int64_t HW = geom.H * geom.W;
        const PlanePlan P = bsr_planes_backward_data(b, geom.Cin, geom.Cout, plane_len(geom.N, HW));
        run_planes(isa, P, dy, geom.Cout, dx, geom.Cin, geom.N, HW, threads);
        return;
    }
    ws::Scope scope;
    const PhasePlanes g = phase_planes(geom);
    const int64_t cin_pad = b.ncb * b.bi, cout_pad = b.nbr * b.bo;
    const GroupPlan P = plan_backward_data(g, b);
    float* dye = ws::get<float>(ws::kInput, cout_pad * g.DS);
    float* dxv = ws::get<float>(ws::kOutput, cin_pad * g.nph * g.PS);
    pack_dy(g, dy, dye, cout_pad, threads);
    bsr_for(isa).rows_spmm(b.bi, P.view(b.bo, g.nph * g.PS), b.values, dye, dxv, pick_qchunk(qchunk, 512),
                             threads);
    unpack_dx(g, dxv, dx, threads);
}

void bsr_conv_weight_grad(Isa isa, const ConvGeometry& geom, const BsrWeight& b, const float* x, const float* dy,
                          float* grad, int64_t qchunk, int threads) {
    if (geom.pointwise()) {
        int64_t gj = 0, gi = 0;
        const auto tiles = bsr_planes_wgrad_tiles(b, geom.Cin, geom.Cout, gj, gi);
        run_plane_dots(isa, tiles, gj, gi, x, geom.Cin, dy, geom.Cout, geom.N, geom.H * geom.W, grad,
                       b.nblocks * b.bo * b.bi, threads);
        return;
    }
    ws::Scope scope;
    const PhasePlanes g = phase_planes(geom);
    const int64_t cin_pad = b.ncb * b.bi, cout_pad = b.nbr * b.bo, T = g.taps();
    std::vector<int64_t> xdelta(T);
    for (int64_t t = 0; t < T; ++t) xdelta[t] = g.tap_delta(t);
    float* xv = ws::get<float>(ws::kInput, cin_pad * g.nph * g.PS);
    float* dye = ws::get<float>(ws::kOutput, cout_pad * g.DS);
    pack_input(g, x, xv, cin_pad, threads);
    pack_dy(g, dy, dye, cout_pad, threads);
    bsr_for(isa).block_wgrad(b.nbr, b.row_ptr, b.col, b.bo, b.bi, b.ncb, xdelta.data(), xv, g.nph * g.PS, dye, g.DS,
                             g.max_off, g.Lqr, grad, pick_qchunk(qchunk, 1024), threads);
}

}  // namespace sb
