// Filter / channel-pruned conv: channel maps, row groups and input-channel blocking of each
// stage, and the stage runs (compiled once). See filter.hpp.
#include "filter.hpp"

#include <algorithm>
#include <vector>

#include "../common/phase_planes.hpp"
#include "../common/workspace.hpp"
#include "../sparse/bsr.hpp"
#include "../sparse/planes.hpp"

namespace sb {
namespace {

// full channel -> compact row, or -1 where pruned; empty when every channel is kept in order.
std::vector<int64_t> row_map(const int64_t* idx, int64_t k, int64_t n) {
    if (k == n) return {};
    std::vector<int64_t> m(n, -1);
    for (int64_t j = 0; j < k; ++j) m[idx[j]] = j;
    return m;
}

// compact row -> full channel, or null when every channel is kept in order.
const int64_t* gather_map(const int64_t* idx, int64_t k, int64_t n) { return k == n ? nullptr : idx; }

// Split nrows into groups of at most 8 rows, as even as possible: run(R, first_row, ngroups).
template <typename Fn>
void row_groups(int64_t nrows, Fn&& run) {
    if (nrows <= 0) return;
    const int64_t ng = (nrows + 7) / 8, base = nrows / ng, extra = nrows % ng;
    if (extra) run(int(base + 1), int64_t(0), extra);
    run(int(base), extra * (base + 1), ng - extra);
}

}  // namespace

void filter_conv_forward(Isa isa, const ConvGeometry& geom, const FilterChannels& ch, const float* wp, const float* x,
                         float* y, int64_t qchunk, int threads) {
    if (geom.pointwise()) {  // straight on the NCHW planes: the gather and scatter are offsets
        const int64_t HW = geom.H * geom.W;
        const PlanePlan P = filter_planes_forward(wp, ch.out_idx, geom.Cout, ch.in_idx, geom.Cin, ch.out_channels,
                                                  plane_len(geom.N, HW));
        run_planes(isa, P, x, ch.in_channels, y, ch.out_channels, geom.N, HW, threads);
        return;
    }
    ws::Scope scope;
    const PhasePlanes g = phase_planes(geom);
    const int64_t k = g.Cout, kin = g.Cin, T = g.taps(), XC = ch.in_channels;
    const auto rmap = row_map(ch.out_idx, k, ch.out_channels);
    float* xv = ws::get<float>(ws::kInput, kin * g.nph * g.PS);
    float* yext = ws::get<float>(ws::kOutput, k * g.Lqr);
    pack_input(g, x, XC, gather_map(ch.in_idx, kin, XC), kin, xv, kin, threads);
    const auto& K = bsr_for(isa);
    // Input channels in blocks of cb, each block streamed over all pixels (partial sums
    // accumulate in yext): the 3 rows a block's taps read stay in L2 between their uses.
    const int64_t cb = std::max<int64_t>(8, std::min<int64_t>(kin, (int64_t(1) << 14) / std::max<int64_t>(1, g.RL)));
    const int64_t qcf = qchunk > 0 ? pick_qchunk(qchunk, 0)
                                   : round_up((g.Lqr + threads - 1) / std::max(1, threads), 16);
    for (int64_t c0 = 0; c0 < kin; c0 += cb) {
        const int64_t c1 = std::min(kin, c0 + cb);
        row_groups(k, [&](int R, int64_t r0, int64_t ng) {
            if (ng <= 0) return;
            std::vector<int64_t> uptr(ng + 1), out_off(ng), qlo(ng, 0), qhi(ng, g.Lqr);
            std::vector<int32_t> ioff(ng * (c1 - c0) * T), vidx(ng * (c1 - c0) * T);
            int64_t u = 0;
            for (int64_t gi = 0; gi < ng; ++gi) {
                const int64_t row0 = r0 + gi * R;
                uptr[gi] = u;
                out_off[gi] = row0 * g.Lqr;
                for (int64_t ci = c0; ci < c1; ++ci)
                    for (int64_t t = 0; t < T; ++t, ++u) {
                        ioff[u] = int32_t((ci * g.nph + g.tap_phase(t)) * g.PS + g.tap_off(t));
                        vidx[u] = int32_t((row0 * kin + ci) * T + t);
                    }
            }
            uptr[ng] = u;
            RowGroups G{ng, uptr.data(), ioff.data(), vidx.data(), kin * T, out_off.data(), g.Lqr, qlo.data(),
                        qhi.data(), c0 > 0};
            K.rows_spmm(R, G, wp, xv, yext, qcf, threads);
        });
    }
    unpack_output(g, yext, y, ch.out_channels, rmap.empty() ? nullptr : rmap.data(), threads);
}

void filter_conv_backward_data(Isa isa, const ConvGeometry& geom, const FilterChannels& ch, const float* wp,
                               const float* dy, float* dx, int64_t qchunk, int threads) {
    if (geom.pointwise()) {
        const int64_t HW = geom.H * geom.W;
        const PlanePlan P = filter_planes_backward_data(wp, ch.out_idx, geom.Cout, ch.in_idx, geom.Cin,
                                                        ch.in_channels, plane_len(geom.N, HW));
        run_planes(isa, P, dy, ch.out_channels, dx, ch.in_channels, geom.N, HW, threads);
        return;
    }
    ws::Scope scope;
    const PhasePlanes g = phase_planes(geom);
    const int64_t k = g.Cout, kin = g.Cin, T = g.taps(), XC = ch.in_channels, YC = ch.out_channels;
    const int64_t qc = pick_qchunk(qchunk, 512);
    const auto rmap = row_map(ch.in_idx, kin, XC);
    float* dye = ws::get<float>(ws::kInput, k * g.DS);
    float* dxv = ws::get<float>(ws::kOutput, kin * g.nph * g.PS);
    pack_dy(g, dy, YC, gather_map(ch.out_idx, k, YC), k, dye, k, threads);
    const auto& K = bsr_for(isa);
    row_groups(kin, [&](int R, int64_t r0, int64_t ngr) {
        if (ngr <= 0) return;
        const int64_t ng = ngr * g.nph;
        std::vector<int64_t> uptr(ng + 1), out_off(ng), qlo(ng), qhi(ng);
        std::vector<int32_t> ioff, vidx;
        ioff.reserve(ngr * k * T);
        vidx.reserve(ngr * k * T);
        for (int64_t b = 0; b < ngr; ++b) {
            const int64_t ci0 = r0 + b * R;
            for (int64_t ph = 0; ph < g.nph; ++ph) {
                const int64_t gi = b * g.nph + ph;
                uptr[gi] = int64_t(ioff.size());
                for (int64_t co = 0; co < k; ++co)
                    for (int64_t t = 0; t < T; ++t) {
                        if (g.tap_phase(t) != ph) continue;
                        ioff.push_back(int32_t(co * g.DS + g.max_off - g.tap_off(t)));
                        vidx.push_back(int32_t((co * kin + ci0) * T + t));
                    }
                out_off[gi] = (ci0 * g.nph + ph) * g.PS;
                g.phase_span(ph, qlo[gi], qhi[gi]);
            }
        }
        uptr[ng] = int64_t(ioff.size());
        RowGroups G{ng, uptr.data(), ioff.data(), vidx.data(), T, out_off.data(), g.nph * g.PS, qlo.data(),
                    qhi.data()};
        K.rows_spmm(R, G, wp, dye, dxv, qc, threads);
    });
    unpack_dx(g, dxv, dx, XC, rmap.empty() ? nullptr : rmap.data(), threads);
}

void filter_conv_weight_grad(Isa isa, const ConvGeometry& geom, const FilterChannels& ch, const float* x,
                             const float* dy, float* grad, int64_t qchunk, int threads) {
    if (geom.pointwise()) {
        int64_t gj = 0, gi = 0;
        const auto tiles = filter_planes_wgrad_tiles(ch.out_idx, geom.Cout, ch.in_idx, geom.Cin, gj, gi);
        run_plane_dots(isa, tiles, gj, gi, x, ch.in_channels, dy, ch.out_channels, geom.N, geom.H * geom.W, grad,
                       geom.Cout * geom.Cin, threads);
        return;
    }
    ws::Scope scope;
    const PhasePlanes g = phase_planes(geom);
    const int64_t k = g.Cout, kin = g.Cin, T = g.taps(), XC = ch.in_channels, YC = ch.out_channels;
    std::vector<int64_t> xdelta(T);
    for (int64_t t = 0; t < T; ++t) xdelta[t] = g.tap_delta(t);
    float* xv = ws::get<float>(ws::kInput, kin * g.nph * g.PS);
    float* dye = ws::get<float>(ws::kOutput, k * g.DS);
    pack_input(g, x, XC, gather_map(ch.in_idx, kin, XC), kin, xv, kin, threads);
    pack_dy(g, dy, YC, gather_map(ch.out_idx, k, YC), k, dye, k, threads);
    filter_for(isa).dense_wgrad(k, kin, T, xdelta.data(), xv, g.nph * g.PS, dye, g.DS, g.max_off, g.Lqr, grad,
                                pick_qchunk(qchunk, 2048), threads);
}

}  // namespace sb
