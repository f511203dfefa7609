// Pattern-sparse 3x3 conv: the planning of each stage (tap deltas, transposed groups, per-phase
// tap lists) and the stage runs, compiled once. Microkernels: pattern_impl.cpp.
#include <algorithm>
#include <vector>

#include "../common/phase_planes.hpp"
#include "../common/workspace.hpp"
#include "pattern.hpp"

namespace sb {
namespace {

// Offset of each library tap in a packed input channel: delta[4p + t].
std::vector<int64_t> deltas(const PatternWeight& P, const PhasePlanes& g) {
    std::vector<int64_t> d(4 * P.NP);
    for (int64_t i = 0; i < 4 * P.NP; ++i) d[i] = g.tap_delta(P.lib[i]);
    return d;
}

// Backward-data: groups (ci, p) listing (co, kernel) ascending in co, and for each (p, phase)
// the taps of p in that phase with their output-gradient offsets; vector spans per phase.
struct BackwardPlan {
    std::vector<int32_t> tptr, tco, tk, pcnt, ptap;
    std::vector<int64_t> pdy, rlo, rhi;
};

BackwardPlan plan_backward_data(const PatternWeight& P, const PhasePlanes& g) {
    BackwardPlan B;
    const int64_t NP = P.NP, Cin = g.Cin, Cout = g.Cout;
    const int32_t* gp = P.gptr;
    const int32_t* c = P.kci;
    B.tptr.assign(Cin * NP + 1, 0);
    B.tco.resize(P.nk);
    B.tk.resize(P.nk);
    for (int64_t co = 0; co < Cout; ++co)
        for (int64_t p = 0; p < NP; ++p)
            for (int64_t k = gp[co * NP + p]; k < gp[co * NP + p + 1]; ++k) ++B.tptr[c[k] * NP + p + 1];
    for (int64_t i = 0; i < Cin * NP; ++i) B.tptr[i + 1] += B.tptr[i];
    std::vector<int32_t> fill(B.tptr.begin(), B.tptr.end() - 1);
    for (int64_t co = 0; co < Cout; ++co)
        for (int64_t p = 0; p < NP; ++p)
            for (int64_t k = gp[co * NP + p]; k < gp[co * NP + p + 1]; ++k) {
                int32_t& f = fill[c[k] * NP + p];
                B.tco[f] = int32_t(co);
                B.tk[f] = int32_t(k);
                ++f;
            }
    B.pcnt.assign(NP * g.nph, 0);
    B.ptap.assign(4 * NP * g.nph, 0);
    B.pdy.assign(4 * NP * g.nph, 0);
    const int32_t* L = P.lib;
    for (int64_t p = 0; p < NP; ++p)
        for (int t = 0; t < 4; ++t) {
            const int64_t pp = p * g.nph + g.tap_phase(L[4 * p + t]);
            B.ptap[4 * pp + B.pcnt[pp]] = t;
            B.pdy[4 * pp + B.pcnt[pp]] = g.max_off - g.tap_off(L[4 * p + t]);
            ++B.pcnt[pp];
        }
    B.rlo.resize(g.nph);
    B.rhi.resize(g.nph);
    for (int64_t ph = 0; ph < g.nph; ++ph) g.phase_span(ph, B.rlo[ph], B.rhi[ph]);
    return B;
}

}  // namespace

void pattern_conv_forward(Isa isa, const ConvGeometry& geom, const PatternWeight& P, const float* x, float* y,
                          int64_t qchunk, int threads) {
    ws::Scope scope;
    const PhasePlanes g = phase_planes(geom);
    const auto d = deltas(P, g);
    float* xv = ws::get<float>(ws::kInput, g.Cin * g.nph * g.PS);
    float* yext = ws::get<float>(ws::kOutput, g.Cout * g.Lqr);
    pack_input(g, x, xv, g.Cin, threads);
    pattern_for(isa).forward(g.Cout, P.NP, P.gptr, P.kci, P.values, d.data(), xv, g.nph * g.PS, yext, g.Lqr,
                             pick_qchunk(qchunk, 768), threads);
    unpack_output(g, yext, y, threads);
}

void pattern_conv_backward_data(Isa isa, const ConvGeometry& geom, const PatternWeight& P, const float* dy, float* dx,
                                int64_t qchunk, int threads) {
    ws::Scope scope;
    const PhasePlanes g = phase_planes(geom);
    const BackwardPlan B = plan_backward_data(P, g);
    float* dye = ws::get<float>(ws::kInput, g.Cout * g.DS);
    float* dxv = ws::get<float>(ws::kOutput, g.Cin * g.nph * g.PS);
    pack_dy(g, dy, dye, g.Cout, threads);
    pattern_for(isa).backward_data(g.Cin, P.NP, g.nph, B.tptr.data(), B.tco.data(), B.tk.data(), P.values,
                                   B.pcnt.data(), B.ptap.data(), B.pdy.data(), dye, g.DS, dxv, g.PS, B.rlo.data(),
                                   B.rhi.data(), pick_qchunk(qchunk, 768), threads);
    unpack_dx(g, dxv, dx, threads);
}

void pattern_conv_weight_grad(Isa isa, const ConvGeometry& geom, const PatternWeight& P, const float* x,
                              const float* dy, float* grad, int64_t qchunk, int threads) {
    ws::Scope scope;
    const PhasePlanes g = phase_planes(geom);
    const auto d = deltas(P, g);
    float* xv = ws::get<float>(ws::kInput, g.Cin * g.nph * g.PS);
    float* dye = ws::get<float>(ws::kOutput, g.Cout * g.DS);
    pack_input(g, x, xv, g.Cin, threads);
    pack_dy(g, dy, dye, g.Cout, threads);
    pattern_for(isa).weight_grad(g.Cout, P.NP, P.gptr, P.kci, d.data(), xv, g.nph * g.PS, dye, g.DS, g.max_off, g.Lqr,
                                 grad, pick_qchunk(qchunk, 1024), threads);
}

}  // namespace sb
