// The planes engine's groups for each stage of the block and filter families on a pointwise
// geometry, and the run (compiled once). See planes.hpp.
#include "../common/phases.hpp"
#include "planes.hpp"

#include <algorithm>

#include "../common/workspace.hpp"
#include "csr.hpp"

namespace sb {
namespace {

// Rows per group for a dense group of n rows: 4 (V = 5 vectors on 32 registers: 9 loads per
// 20 FMAs) unless fewer rows exist.
int dense_rows(int64_t n) { return n >= 3 ? 4 : int(std::max<int64_t>(1, n)); }

// The channels of [0, n) not in the sorted idx (k entries).
std::vector<int64_t> missing(const int64_t* idx, int64_t k, int64_t n) {
    std::vector<int64_t> out;
    int64_t j = 0;
    for (int64_t c = 0; c < n; ++c) {
        if (j < k && idx[j] == c) ++j;
        else out.push_back(c);
    }
    return out;
}

// Dense groups: rows [0, nrows) of a row-major (nrows, nunits) weight w (transposed when
// w_rows_are_units), in groups of R; row r goes to plane rmap[r], unit u reads plane umap[u].
PlanePlan dense_groups(const float* w, int64_t nrows, int64_t nunits, bool w_rows_are_units, const int64_t* rmap,
                       const int64_t* umap, int64_t L) {
    PlanePlan P;
    P.R = dense_rows(nrows);
    const int R = P.R;
    const int64_t ng = (nrows + R - 1) / R;
    P.uptr.assign(ng + 1, 0);
    P.orow.assign(ng * R, -1);
    P.ioff.resize(ng * nunits);
    P.vals.assign(ng * nunits * R, 0.0f);
    for (int64_t g = 0; g < ng; ++g) {
        for (int r = 0; r < R; ++r)
            if (g * R + r < nrows) P.orow[g * R + r] = rmap[g * R + r];
        for (int64_t u = 0; u < nunits; ++u) {
            const int64_t unit = g * nunits + u;
            P.ioff[unit] = int32_t(umap[u] * L);
            for (int r = 0; r < R; ++r) {
                const int64_t row = g * R + r;
                if (row < nrows) P.vals[unit * R + r] = w_rows_are_units ? w[u * nrows + row] : w[row * nunits + u];
            }
        }
        P.uptr[g + 1] = (g + 1) * nunits;
    }
    return P;
}

// A linear layer's activations (N, ch) as planes (ch, N) in the calling thread's workspace slot.
float* batch_planes(const CsrKernels& C, ws::Slot slot, const float* a, int64_t N, int64_t ch, int threads) {
    float* t = ws::get<float>(slot, ch * N);
    phases::Scope phase_scope("layout:transpose");
    C.transpose(a, N, ch, t, N, threads);
    return t;
}

}  // namespace

PlanePlan bsr_planes_forward(const BsrWeight& b, int64_t Cin, int64_t Cout, int64_t L) {
    phases::Scope phase_scope("plan");
    PlanePlan P;
    P.R = b.bo;
    P.uptr.assign(b.nbr + 1, 0);
    P.orow.resize(b.nbr * b.bo);
    P.ioff.reserve(b.nblocks * b.bi);
    P.vals.reserve(b.nblocks * b.bi * b.bo);
    for (int64_t br = 0; br < b.nbr; ++br) {
        for (int64_t k = b.row_ptr[br]; k < b.row_ptr[br + 1]; ++k)
            for (int i = 0; i < b.bi; ++i) {
                const int64_t ci = int64_t(b.col[k]) * b.bi + i;  // one tap: col = input-channel block
                if (ci >= Cin) break;
                P.ioff.push_back(int32_t(ci * L));
                const float* v = b.values + (k * b.bi + i) * b.bo;  // the bo weights of input row i
                P.vals.insert(P.vals.end(), v, v + b.bo);
            }
        P.uptr[br + 1] = int64_t(P.ioff.size());
        for (int o = 0; o < b.bo; ++o) {
            const int64_t co = br * b.bo + o;
            P.orow[br * b.bo + o] = co < Cout ? co : -1;
        }
    }
    return P;
}

PlanePlan bsr_planes_backward_data(const BsrWeight& b, int64_t Cin, int64_t Cout, int64_t L) {
    phases::Scope phase_scope("plan");
    // Groups are block columns (bi input planes); units are (kept block, output row o).
    PlanePlan P;
    P.R = b.bi;
    std::vector<int64_t> cnt(b.ncb + 1, 0);
    for (int64_t br = 0; br < b.nbr; ++br)
        for (int64_t k = b.row_ptr[br]; k < b.row_ptr[br + 1]; ++k)
            cnt[b.col[k] + 1] += std::min<int64_t>(b.bo, Cout - br * b.bo);
    for (int64_t c = 0; c < b.ncb; ++c) cnt[c + 1] += cnt[c];
    P.uptr = cnt;
    std::vector<int64_t> fill(cnt.begin(), cnt.end() - 1);
    P.ioff.resize(cnt[b.ncb]);
    P.vals.resize(cnt[b.ncb] * b.bi);
    for (int64_t br = 0; br < b.nbr; ++br)  // block rows in order: units of a column by output row
        for (int64_t k = b.row_ptr[br]; k < b.row_ptr[br + 1]; ++k)
            for (int o = 0; o < b.bo; ++o) {
                const int64_t co = br * b.bo + o;
                if (co >= Cout) break;
                const int64_t u = fill[b.col[k]]++;
                P.ioff[u] = int32_t(co * L);
                for (int i = 0; i < b.bi; ++i) P.vals[u * b.bi + i] = b.values[(k * b.bi + i) * b.bo + o];
            }
    P.orow.resize(b.ncb * b.bi);
    for (int64_t cb = 0; cb < b.ncb; ++cb)
        for (int i = 0; i < b.bi; ++i) {
            const int64_t ci = cb * b.bi + i;
            P.orow[cb * b.bi + i] = ci < Cin ? ci : -1;
        }
    return P;
}

PlanePlan filter_planes_forward(const float* w, const int64_t* out_idx, int64_t k, const int64_t* in_idx, int64_t kin,
                                int64_t out_channels, int64_t L) {
    phases::Scope phase_scope("plan");
    PlanePlan P = dense_groups(w, k, kin, false, out_idx, in_idx, L);
    P.unwritten = missing(out_idx, k, out_channels);
    return P;
}

PlanePlan filter_planes_backward_data(const float* w, const int64_t* out_idx, int64_t k, const int64_t* in_idx,
                                      int64_t kin, int64_t in_channels, int64_t L) {
    phases::Scope phase_scope("plan");
    PlanePlan P = dense_groups(w, kin, k, true, in_idx, out_idx, L);
    P.unwritten = missing(in_idx, kin, in_channels);
    return P;
}

std::vector<PlaneDotTile> bsr_planes_wgrad_tiles(const BsrWeight& b, int64_t Cin, int64_t Cout, int64_t& gj,
                                                 int64_t& gi) {
    phases::Scope phase_scope("plan");
    // values[blk][i][o]: o contiguous.
    gj = 1;
    gi = b.bo;
    std::vector<PlaneDotTile> tiles;
    for (int64_t br = 0; br < b.nbr; ++br)
        for (int64_t k = b.row_ptr[br]; k < b.row_ptr[br + 1]; ++k)
            for (int j0 = 0; j0 < b.bo; j0 += 4)
                for (int i0 = 0; i0 < b.bi; i0 += 4) {
                    PlaneDotTile t{};
                    const int64_t co0 = br * b.bo + j0, ci0 = int64_t(b.col[k]) * b.bi + i0;
                    t.jb = int(std::max<int64_t>(0, std::min<int64_t>({4, b.bo - j0, Cout - co0})));
                    t.ib = int(std::max<int64_t>(0, std::min<int64_t>({4, b.bi - i0, Cin - ci0})));
                    if (t.jb == 0 || t.ib == 0) continue;  // padding rows / columns: gradient stays zero
                    for (int j = 0; j < t.jb; ++j) t.d[j] = int32_t(co0 + j);
                    for (int i = 0; i < t.ib; ++i) t.x[i] = int32_t(ci0 + i);
                    t.off = k * b.bo * b.bi + int64_t(i0) * b.bo + j0;
                    tiles.push_back(t);
                }
    return tiles;
}

std::vector<PlaneDotTile> filter_planes_wgrad_tiles(const int64_t* out_idx, int64_t k, const int64_t* in_idx,
                                                    int64_t kin, int64_t& gj, int64_t& gi) {
    phases::Scope phase_scope("plan");
    gj = kin;
    gi = 1;
    std::vector<PlaneDotTile> tiles;
    for (int64_t r0 = 0; r0 < k; r0 += 4)
        for (int64_t c0 = 0; c0 < kin; c0 += 4) {
            PlaneDotTile t{};
            t.jb = int(std::min<int64_t>(4, k - r0));
            t.ib = int(std::min<int64_t>(4, kin - c0));
            for (int j = 0; j < t.jb; ++j) t.d[j] = int32_t(out_idx[r0 + j]);
            for (int i = 0; i < t.ib; ++i) t.x[i] = int32_t(in_idx[c0 + i]);
            t.off = r0 * kin + c0;
            tiles.push_back(t);
        }
    return tiles;
}

void run_plane_dots(Isa isa, const std::vector<PlaneDotTile>& tiles, int64_t gj, int64_t gi, const float* x,
                    int64_t in_ch, const float* dy, int64_t out_ch, int64_t N, int64_t HW, float* grad,
                    int64_t grad_len, int threads) {
    std::fill(grad, grad + grad_len, 0.0f);
    if (N <= 0 || HW <= 0 || tiles.empty()) return;
    const BsrKernels& K = bsr_for(isa);
    // Tiles in order of the side with more planes, so that consecutive tiles share those planes
    // (they stay in L1); image chunks of x and dy stay in L2.
    // (On the linear layer's single long "image" the given order measured faster: 1.6x on
    // linear-4096 at s = 0.9.)
    const bool by_x = in_ch >= out_ch;
    std::vector<PlaneDotTile> order(tiles);
    if (!(HW == 1 && N > 1))
        std::stable_sort(order.begin(), order.end(), [by_x](const PlaneDotTile& a, const PlaneDotTile& b) {
            return by_x ? a.x[0] < b.x[0] : a.d[0] < b.d[0];
        });
    PlaneDots D{order.data(), int64_t(order.size()), gj, gi, x, in_ch * HW, dy, out_ch * HW, HW, N, 1, grad};
    const auto chunk = [](int64_t L, int64_t nimg, int64_t chans) {
        const int64_t bytes = chans * L * int64_t(sizeof(float));  // one image of x and dy
        return std::max<int64_t>(1, std::min<int64_t>(nimg, (int64_t(1) << 20) / std::max<int64_t>(1, bytes)));
    };
    if (HW == 1 && N > 1) {
        ws::Scope scope;
        const CsrKernels& C = csr_for(isa);
        const float* xt = batch_planes(C, ws::kInput, x, N, in_ch, threads);
        const float* dyt = batch_planes(C, ws::kOutput, dy, N, out_ch, threads);
        D.x = xt;
        D.x_img = in_ch * N;
        D.dy = dyt;
        D.dy_img = out_ch * N;
        D.L = N;
        D.nimg = 1;
        K.plane_dots(D, threads);
        return;
    }
    D.nc = chunk(HW, N, in_ch + out_ch);
    K.plane_dots(D, threads);
}

void run_planes(Isa isa, const PlanePlan& P, const float* in, int64_t in_ch, float* out, int64_t out_ch, int64_t N,
                int64_t HW, int threads) {
    if (N <= 0 || HW <= 0 || out_ch <= 0) return;
    const BsrKernels& K = bsr_for(isa);
    const PlaneGroups G = P.view();
    if (HW == 1 && N > 1) {
        // A linear layer: the batch as the vector dimension, on transposed copies.
        ws::Scope scope;
        const CsrKernels& C = csr_for(isa);
        const float* it = batch_planes(C, ws::kInput, in, N, in_ch, threads);
        float* ot = ws::get<float>(ws::kOutput, out_ch * N);
        {
            phases::Scope phase_scope("layout:zero_fill");
            for (int64_t c : P.unwritten) std::fill(ot + c * N, ot + (c + 1) * N, 0.0f);
        }
        K.planes_spmm(G, PlaneIO{it, in_ch * N, ot, out_ch * N, N, 1}, threads);
        phases::Scope phase_scope("layout:transpose");
        C.transpose(ot, out_ch, N, out, out_ch, threads);
        return;
    }
    if (!P.unwritten.empty()) {
        phases::Scope phase_scope("layout:zero_fill");
        const int64_t nu = int64_t(P.unwritten.size());
#pragma omp parallel for num_threads(threads) schedule(static) collapse(2)
        for (int64_t n = 0; n < N; ++n)
            for (int64_t j = 0; j < nu; ++j) {
                float* o = out + (n * out_ch + P.unwritten[j]) * HW;
                std::fill(o, o + HW, 0.0f);
            }
    }
    K.planes_spmm(G, PlaneIO{in, in_ch * HW, out, out_ch * HW, HW, N}, threads);
}

}  // namespace sb
