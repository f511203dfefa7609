// Block-sparse (BSR) conv2d / linear stages and the sparse SGD update: see kernels/sparse/bsr.hpp.
#include <string>
#include <vector>

#include "../sparse/bsr.hpp"
#include "../sparse/bsr_bind.hpp"
#include "checks.hpp"

namespace sb::bind {
namespace {

struct Bsr {
    py::array_t<float> values;
    py::array_t<int32_t> row_ptr, col;
    WShape w;
    int bo, bi;
    int64_t nbr, ncb, nblocks, T;
};

Bsr check_bsr(const py::object& values, const py::object& row_ptr, const py::object& col, const py::object& wshape,
              const py::object& block) {
    Bsr b;
    b.w = weight_shape(wshape, "weight_shape");
    auto bs = block.cast<std::vector<int64_t>>();
    if (bs.size() != 2) throw py::value_error("block must be (bo, bi)");
    for (auto v : bs)
        if (v != 1 && v != 2 && v != 4 && v != 8)
            throw py::value_error("block sizes must be 1, 2, 4 or 8, got " + std::to_string(v));
    b.bo = int(bs[0]);
    b.bi = int(bs[1]);
    b.T = b.w.KH * b.w.KW;
    b.nbr = (b.w.Cout + b.bo - 1) / b.bo;
    b.ncb = (b.w.Cin + b.bi - 1) / b.bi;
    b.values = typed<float>(values, "values", 1);
    b.row_ptr = typed<int32_t>(row_ptr, "row_ptr", 1);
    b.col = typed<int32_t>(col, "col", 1);
    require_int32_extent(b.T * b.ncb, "block columns");
    require_shape(b.row_ptr, "row_ptr", {py::ssize_t(b.nbr + 1)});
    const int32_t* rp = b.row_ptr.data();
    if (rp[0] != 0) throw py::value_error("row_ptr[0] must be 0");
    for (int64_t r = 0; r < b.nbr; ++r)
        if (rp[r + 1] < rp[r]) throw py::value_error("row_ptr must be non-decreasing (row " + std::to_string(r) + ")");
    b.nblocks = rp[b.nbr];
    require_shape(b.col, "col", {py::ssize_t(b.nblocks)});
    require_shape(b.values, "values", {py::ssize_t(b.nblocks * b.bo * b.bi)});
    const int32_t* c = b.col.data();
    const int64_t ncols = b.T * b.ncb;
    for (int64_t r = 0; r < b.nbr; ++r)
        for (int64_t k = rp[r]; k < rp[r + 1]; ++k) {
            if (c[k] < 0 || c[k] >= ncols)
                throw py::value_error("col[" + std::to_string(k) + "] = " + std::to_string(c[k]) + " out of range [0, " +
                                      std::to_string(ncols) + ")");
            if (k > rp[r] && c[k] <= c[k - 1])
                throw py::value_error("col must be strictly increasing within a block row (unsorted or duplicate at " +
                                      std::to_string(k) + ")");
        }
    return b;
}

int64_t pick_chunk(int64_t qchunk, int64_t dflt) {
    if (qchunk < 0) throw py::value_error("qchunk must be >= 0");
    return qchunk == 0 ? dflt : round_up(qchunk, 16);
}

py::object forward(py::object x_obj, py::object values, py::object row_ptr, py::object col, py::object wshape,
                   py::object block, int64_t stride, int64_t padding, int64_t qchunk, py::object isa, int threads) {
    Bsr b = check_bsr(values, row_ptr, col, wshape, block);
    auto x = conv_input(x_obj, "x", b.w);
    auto o = call_opts(isa, threads);
    int64_t N, C, H, W;
    dims4(x, N, C, H, W);
    ConvGeom g = conv_geom(N, H, W, b.w, stride, padding);
    if (N == 0 || b.w.Cout == 0 || b.w.Cin == 0) return zeros_out(x, N, b.w.Cout, g.Ho, g.Wo);
    const int64_t cin_pad = b.ncb * b.bi, cout_pad = b.nbr * b.bo;
    require_int32_extent(cin_pad * g.nph * g.PS, "input buffer size");
    auto y = new_out(x, N, b.w.Cout, g.Ho, g.Wo);
    const float* xp = x.data();
    const float* vp = b.values.data();
    const int32_t* rp = b.row_ptr.data();
    const int32_t* cp = b.col.data();
    float* yp = y.mutable_data();
    const int64_t qc = pick_chunk(qchunk, 512);
    {
        py::gil_scoped_release nogil;
        std::vector<int64_t> uptr(b.nbr + 1, 0), out_off(b.nbr), qlo(b.nbr, 0), qhi(b.nbr, g.Lqr);
        std::vector<int32_t> ioff, vidx;
        ioff.reserve(b.nblocks * b.bi);
        vidx.reserve(b.nblocks * b.bi);
        for (int64_t r = 0; r < b.nbr; ++r) {
            for (int64_t k = rp[r]; k < rp[r + 1]; ++k) {
                const int64_t t = cp[k] / b.ncb, cb = cp[k] % b.ncb;
                for (int i = 0; i < b.bi; ++i) {
                    const int64_t ci = cb * b.bi + i;
                    if (ci >= b.w.Cin) break;
                    ioff.push_back(int32_t((ci * g.nph + g.tap_phase(t)) * g.PS + g.tap_off(t)));
                    vidx.push_back(int32_t(k * b.bo * b.bi + i * b.bo));
                }
            }
            uptr[r + 1] = int64_t(ioff.size());
            out_off[r] = r * b.bo * g.Lqr;
        }
        Scratch xv(0, cin_pad * g.nph * g.PS), yext(1, cout_pad * g.Lqr);
        pack_input(g, xp, xv.p, cin_pad, o.threads);
        RowGroups G{b.nbr, uptr.data(), ioff.data(), vidx.data(), 1, out_off.data(), g.Lqr, qlo.data(), qhi.data()};
        bsr_for(Isa(o.isa)).rows_spmm(b.bo, G, vp, xv.p, yext.p, qc, o.threads);
        unpack_output(g, yext.p, yp, o.threads);
    }
    return std::move(y);
}

py::object backward_data(py::object dy_obj, py::object values, py::object row_ptr, py::object col, py::object wshape,
                         py::object block, py::object x_shape, int64_t stride, int64_t padding, int64_t qchunk,
                         py::object isa, int threads) {
    Bsr b = check_bsr(values, row_ptr, col, wshape, block);
    auto xs = x_shape.cast<std::vector<int64_t>>();
    const bool lin = xs.size() == 2;
    if (!(xs.size() == 4 || lin)) throw py::value_error("x_shape must have 2 or 4 entries");
    if (xs[1] != b.w.Cin) throw py::value_error("x_shape[1] must equal the weight's input channels");
    for (auto v : xs)
        if (v < 0) throw py::value_error("x_shape must be non-negative");
    const int64_t N = xs[0], H = lin ? 1 : xs[2], W = lin ? 1 : xs[3];
    ConvGeom g = conv_geom(N, H, W, b.w, stride, padding);
    auto dy = typed<float>(dy_obj, "dy", lin ? 2 : 4);
    if (lin) require_shape(dy, "dy", {py::ssize_t(N), py::ssize_t(b.w.Cout)});
    else require_shape(dy, "dy", {py::ssize_t(N), py::ssize_t(b.w.Cout), py::ssize_t(g.Ho), py::ssize_t(g.Wo)});
    auto o = call_opts(isa, threads);
    if (N == 0 || b.w.Cout == 0 || b.w.Cin == 0) return zeros_out(dy, N, b.w.Cin, H, W);
    const int64_t cin_pad = b.ncb * b.bi, cout_pad = b.nbr * b.bo;
    require_int32_extent(cout_pad * g.DS, "output-gradient buffer size");
    require_int32_extent(cin_pad * g.nph * g.PS, "input buffer size");
    auto dx = new_out(dy, N, b.w.Cin, H, W);
    const float* dyp = dy.data();
    const float* vp = b.values.data();
    const int32_t* rp = b.row_ptr.data();
    const int32_t* cp = b.col.data();
    float* dxp = dx.mutable_data();
    const int64_t qc = pick_chunk(qchunk, 512);
    {
        py::gil_scoped_release nogil;
        // Blocks by block column (input-channel block), then by tap phase.
        const int64_t ngr = b.ncb * g.nph;
        std::vector<int64_t> cnt(ngr + 1, 0);
        for (int64_t r = 0; r < b.nbr; ++r)
            for (int64_t k = rp[r]; k < rp[r + 1]; ++k) {
                const int64_t t = cp[k] / b.ncb, cb = cp[k] % b.ncb;
                cnt[cb * g.nph + g.tap_phase(t) + 1] += std::min<int64_t>(b.bo, b.w.Cout - r * b.bo);
            }
        for (int64_t i = 0; i < ngr; ++i) cnt[i + 1] += cnt[i];
        std::vector<int64_t> uptr(cnt), fill(cnt.begin(), cnt.end() - 1);
        std::vector<int32_t> ioff(cnt[ngr]), vidx(cnt[ngr]);
        for (int64_t r = 0; r < b.nbr; ++r)
            for (int64_t k = rp[r]; k < rp[r + 1]; ++k) {
                const int64_t t = cp[k] / b.ncb, cb = cp[k] % b.ncb;
                int64_t& f = fill[cb * g.nph + g.tap_phase(t)];
                for (int j = 0; j < b.bo; ++j) {
                    const int64_t co = r * b.bo + j;
                    if (co >= b.w.Cout) break;
                    ioff[f] = int32_t(co * g.DS + g.max_off - g.tap_off(t));
                    vidx[f] = int32_t(k * b.bo * b.bi + j);
                    ++f;
                }
            }
        std::vector<int64_t> out_off(ngr), qlo(ngr), qhi(ngr);
        for (int64_t cb = 0; cb < b.ncb; ++cb)
            for (int64_t ph = 0; ph < g.nph; ++ph) {
                const int64_t gi = cb * g.nph + ph;
                out_off[gi] = (cb * b.bi * g.nph + ph) * g.PS;
                int64_t lo, hi;
                g.phase_rows(ph, lo, hi);
                qlo[gi] = round_down(lo * g.RL, 16);
                qhi[gi] = std::max(qlo[gi], std::min(g.PS, round_up(hi * g.RL, 16)));
            }
        Scratch dye(0, cout_pad * g.DS), dxv(1, cin_pad * g.nph * g.PS);
        pack_dy(g, dyp, dye.p, cout_pad, o.threads);
        RowGroups G{ngr, uptr.data(), ioff.data(), vidx.data(), b.bo, out_off.data(), g.nph * g.PS, qlo.data(), qhi.data()};
        bsr_for(Isa(o.isa)).rows_spmm(b.bi, G, vp, dye.p, dxv.p, qc, o.threads);
        unpack_dx(g, dxv.p, dxp, o.threads);
    }
    return std::move(dx);
}

py::object weight_grad(py::object x_obj, py::object dy_obj, py::object row_ptr, py::object col, py::object wshape,
                       py::object block, int64_t stride, int64_t padding, int64_t qchunk, py::object isa, int threads) {
    // values are not needed: pass an empty placeholder of the right length through the checks.
    Bsr b;
    {
        auto rp = typed<int32_t>(row_ptr, "row_ptr", 1);
        const int64_t nb = rp.size() ? rp.data()[rp.size() - 1] : 0;
        auto bs = block.cast<std::vector<int64_t>>();
        const int64_t per = bs.size() == 2 ? bs[0] * bs[1] : 0;
        py::array_t<float> dummy(std::vector<py::ssize_t>{py::ssize_t(std::max<int64_t>(0, nb * per))});
        b = check_bsr(dummy, row_ptr, col, wshape, block);
    }
    auto x = conv_input(x_obj, "x", b.w);
    int64_t N, C, H, W;
    dims4(x, N, C, H, W);
    ConvGeom g = conv_geom(N, H, W, b.w, stride, padding);
    auto dy = typed<float>(dy_obj, "dy", x.ndim());
    if (x.ndim() == 2) require_shape(dy, "dy", {py::ssize_t(N), py::ssize_t(b.w.Cout)});
    else require_shape(dy, "dy", {py::ssize_t(N), py::ssize_t(b.w.Cout), py::ssize_t(g.Ho), py::ssize_t(g.Wo)});
    auto o = call_opts(isa, threads);
    py::array_t<float> grad(std::vector<py::ssize_t>{py::ssize_t(b.nblocks * b.bo * b.bi)});
    float* gp = grad.mutable_data();
    if (N == 0 || b.w.Cout == 0 || b.w.Cin == 0) {
        if (grad.size()) std::memset(gp, 0, sizeof(float) * grad.size());
        return std::move(grad);
    }
    const int64_t cin_pad = b.ncb * b.bi, cout_pad = b.nbr * b.bo;
    const float* xp = x.data();
    const float* dyp = dy.data();
    const int32_t* rp = b.row_ptr.data();
    const int32_t* cp = b.col.data();
    const int64_t qc = pick_chunk(qchunk, 1024);
    {
        py::gil_scoped_release nogil;
        std::vector<int64_t> xdelta(b.T);
        for (int64_t t = 0; t < b.T; ++t) xdelta[t] = g.tap_phase(t) * g.PS + g.tap_off(t);
        Scratch xv(0, cin_pad * g.nph * g.PS), dye(1, cout_pad * g.DS);
        pack_input(g, xp, xv.p, cin_pad, o.threads);
        pack_dy(g, dyp, dye.p, cout_pad, o.threads);
        bsr_for(Isa(o.isa)).block_wgrad(b.nbr, rp, cp, b.bo, b.bi, b.ncb, xdelta.data(), xv.p, g.nph * g.PS, dye.p,
                                        g.DS, g.max_off, g.Lqr, gp, qc, o.threads);
    }
    return std::move(grad);
}

// --- filter / channel pruned conv: a compacted dense weight on the same phase-plane engine -------
// weight (k, kin, KH, KW) holds the kept filters out_idx (of out_channels) x kept input channels
// in_idx (of x's channels). The gather of kept channels is folded into the packing, the scatter
// into the unpacking (pruned output / input channels are written as zeros in the same pass).

std::vector<int64_t> index_list(const py::object& obj, const char* name, int64_t n) {
    auto a = typed<int64_t>(obj, name, 1);
    const int64_t* p = a.data();
    std::vector<int64_t> v(p, p + a.size());
    for (size_t i = 0; i < v.size(); ++i) {
        if (v[i] < 0 || v[i] >= n)
            throw py::value_error(std::string(name) + "[" + std::to_string(i) + "] = " + std::to_string(v[i]) +
                                  " out of range [0, " + std::to_string(n) + ")");
        if (i && v[i] <= v[i - 1]) throw py::value_error(std::string(name) + " must be strictly increasing");
    }
    return v;
}

struct Filt {
    py::array_t<float> w;
    WShape ws;  // compact (k, kin, KH, KW)
    std::vector<int64_t> oidx, iidx;
};

Filt check_filter(const py::object& weight, const py::object& out_idx, const py::object& in_idx, int64_t out_channels,
                  int64_t in_channels) {
    Filt f;
    f.w = typed<float>(weight, "weight", 4);
    f.ws = {f.w.shape(0), f.w.shape(1), f.w.shape(2), f.w.shape(3)};
    if (f.ws.KH < 1 || f.ws.KW < 1) throw py::value_error("weight: kernel size must be >= 1");
    f.oidx = index_list(out_idx, "out_idx", out_channels);
    f.iidx = index_list(in_idx, "in_idx", in_channels);
    if (int64_t(f.oidx.size()) != f.ws.Cout)
        throw py::value_error("weight.shape[0] must equal len(out_idx) (" + std::to_string(f.oidx.size()) + ")");
    if (int64_t(f.iidx.size()) != f.ws.Cin)
        throw py::value_error("weight.shape[1] must equal len(in_idx) (" + std::to_string(f.iidx.size()) + ")");
    require_int32_extent(f.ws.Cout * f.ws.Cin * f.ws.KH * f.ws.KW, "weight size");
    return f;
}

// full channel -> compact row, or -1 where pruned; empty when every channel is kept in order.
std::vector<int64_t> row_map(const std::vector<int64_t>& idx, int64_t n) {
    if (int64_t(idx.size()) == n) return {};
    std::vector<int64_t> m(n, -1);
    for (size_t j = 0; j < idx.size(); ++j) m[idx[j]] = int64_t(j);
    return m;
}

const int64_t* gather_map(const std::vector<int64_t>& idx, int64_t n) {
    return int64_t(idx.size()) == n ? nullptr : idx.data();
}

// Split nrows into groups of at most 8 rows, as even as possible: run(R, first_row, ngroups).
template <typename Fn>
void row_groups(int64_t nrows, Fn&& run) {
    if (nrows <= 0) return;
    const int64_t ng = (nrows + 7) / 8, base = nrows / ng, extra = nrows % ng;
    if (extra) run(int(base + 1), int64_t(0), extra);
    run(int(base), extra * (base + 1), ng - extra);
}

py::object filter_forward(py::object x_obj, py::object weight, py::object out_idx, py::object in_idx,
                          int64_t out_channels, int64_t stride, int64_t padding, int64_t qchunk, py::object isa,
                          int threads) {
    auto x = typed<float>(x_obj, "x", 4);
    if (out_channels < 0) throw py::value_error("out_channels must be >= 0");
    Filt f = check_filter(weight, out_idx, in_idx, out_channels, x.shape(1));
    auto o = call_opts(isa, threads);
    const int64_t N = x.shape(0), XC = x.shape(1), H = x.shape(2), Wd = x.shape(3);
    ConvGeom g = conv_geom(N, H, Wd, f.ws, stride, padding);
    const int64_t k = f.ws.Cout, kin = f.ws.Cin, T = f.ws.KH * f.ws.KW;
    if (N == 0 || k == 0 || kin == 0) return zeros_out(x, N, out_channels, g.Ho, g.Wo);
    require_int32_extent(kin * g.nph * g.PS, "input buffer size");
    auto y = new_out(x, N, out_channels, g.Ho, g.Wo);
    const float* xp = x.data();
    const float* wp = f.w.data();
    float* yp = y.mutable_data();
    const int64_t qc = pick_chunk(qchunk, 512);
    {
        py::gil_scoped_release nogil;
        auto rmap = row_map(f.oidx, out_channels);
        Scratch xv(0, kin * g.nph * g.PS), yext(1, k * g.Lqr);
        pack_input(g, xp, XC, gather_map(f.iidx, XC), kin, xv.p, kin, o.threads);
        const auto& K = bsr_for(Isa(o.isa));
        // Input channels in blocks of cb, each block streamed over all pixels (partial sums
        // accumulate in yext): the 3 rows a block's taps read stay in L2 between their uses.
        const int64_t cb = std::max<int64_t>(8, std::min<int64_t>(kin, (int64_t(1) << 14) / std::max<int64_t>(1, g.RL)));
        const int64_t qcf = qchunk > 0 ? qc : round_up((g.Lqr + o.threads - 1) / std::max(1, o.threads), 16);
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
                K.rows_spmm(R, G, wp, xv.p, yext.p, qcf, o.threads);
            });
        }
        unpack_output(g, yext.p, yp, out_channels, rmap.empty() ? nullptr : rmap.data(), o.threads);
    }
    return std::move(y);
}

py::object filter_backward_data(py::object dy_obj, py::object weight, py::object out_idx, py::object in_idx,
                                py::object x_shape, int64_t stride, int64_t padding, int64_t qchunk, py::object isa,
                                int threads) {
    auto xs = x_shape.cast<std::vector<int64_t>>();
    if (xs.size() != 4) throw py::value_error("x_shape must have 4 entries");
    for (auto v : xs)
        if (v < 0) throw py::value_error("x_shape must be non-negative");
    auto dy = typed<float>(dy_obj, "dy", 4);
    const int64_t N = xs[0], XC = xs[1], H = xs[2], Wd = xs[3], YC = dy.shape(1);
    Filt f = check_filter(weight, out_idx, in_idx, YC, XC);
    ConvGeom g = conv_geom(N, H, Wd, f.ws, stride, padding);
    require_shape(dy, "dy", {py::ssize_t(N), py::ssize_t(YC), py::ssize_t(g.Ho), py::ssize_t(g.Wo)});
    auto o = call_opts(isa, threads);
    const int64_t k = f.ws.Cout, kin = f.ws.Cin, T = f.ws.KH * f.ws.KW;
    if (N == 0 || k == 0 || kin == 0) return zeros_out(dy, N, XC, H, Wd);
    require_int32_extent(k * g.DS, "output-gradient buffer size");
    require_int32_extent(kin * g.nph * g.PS, "input buffer size");
    auto dx = new_out(dy, N, XC, H, Wd);
    const float* dyp = dy.data();
    const float* wp = f.w.data();
    float* dxp = dx.mutable_data();
    const int64_t qc = pick_chunk(qchunk, 512);
    {
        py::gil_scoped_release nogil;
        auto rmap = row_map(f.iidx, XC);
        Scratch dye(0, k * g.DS), dxv(1, kin * g.nph * g.PS);
        pack_dy(g, dyp, YC, gather_map(f.oidx, YC), k, dye.p, k, o.threads);
        const auto& K = bsr_for(Isa(o.isa));
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
                    int64_t lo, hi;
                    g.phase_rows(ph, lo, hi);
                    qlo[gi] = round_down(lo * g.RL, 16);
                    qhi[gi] = std::max(qlo[gi], std::min(g.PS, round_up(hi * g.RL, 16)));
                }
            }
            uptr[ng] = int64_t(ioff.size());
            RowGroups G{ng, uptr.data(), ioff.data(), vidx.data(), T, out_off.data(), g.nph * g.PS, qlo.data(),
                        qhi.data()};
            K.rows_spmm(R, G, wp, dye.p, dxv.p, qc, o.threads);
        });
        unpack_dx(g, dxv.p, dxp, XC, rmap.empty() ? nullptr : rmap.data(), o.threads);
    }
    return std::move(dx);
}

py::object filter_weight_grad(py::object x_obj, py::object dy_obj, py::object out_idx, py::object in_idx,
                              py::object kernel_size, int64_t stride, int64_t padding, int64_t qchunk, py::object isa,
                              int threads) {
    auto x = typed<float>(x_obj, "x", 4);
    auto dy = typed<float>(dy_obj, "dy", 4);
    auto ks = kernel_size.cast<std::vector<int64_t>>();
    if (ks.size() != 2 || ks[0] < 1 || ks[1] < 1) throw py::value_error("kernel_size must be (kh, kw) >= 1");
    const int64_t N = x.shape(0), XC = x.shape(1), H = x.shape(2), Wd = x.shape(3), YC = dy.shape(1);
    auto oidx = index_list(out_idx, "out_idx", YC);
    auto iidx = index_list(in_idx, "in_idx", XC);
    const int64_t k = int64_t(oidx.size()), kin = int64_t(iidx.size()), T = ks[0] * ks[1];
    WShape ws{k, kin, ks[0], ks[1]};
    ConvGeom g = conv_geom(N, H, Wd, ws, stride, padding);
    require_shape(dy, "dy", {py::ssize_t(N), py::ssize_t(YC), py::ssize_t(g.Ho), py::ssize_t(g.Wo)});
    require_int32_extent(k * kin * T, "weight size");
    auto o = call_opts(isa, threads);
    py::array_t<float> grad(std::vector<py::ssize_t>{py::ssize_t(k * kin * T)});
    float* gp = grad.mutable_data();
    if (N == 0 || k == 0 || kin == 0) {
        if (grad.size()) std::memset(gp, 0, sizeof(float) * grad.size());
        return std::move(grad);
    }
    const float* xp = x.data();
    const float* dyp = dy.data();
    const int64_t qc = pick_chunk(qchunk, 2048);
    {
        py::gil_scoped_release nogil;
        std::vector<int64_t> xdelta(T);
        for (int64_t t = 0; t < T; ++t) xdelta[t] = g.tap_phase(t) * g.PS + g.tap_off(t);
        Scratch xv(0, kin * g.nph * g.PS), dye(1, k * g.DS);
        pack_input(g, xp, XC, gather_map(iidx, XC), kin, xv.p, kin, o.threads);
        pack_dy(g, dyp, YC, gather_map(oidx, YC), k, dye.p, k, o.threads);
        bsr_for(Isa(o.isa)).dense_wgrad(k, kin, T, xdelta.data(), xv.p, g.nph * g.PS, dye.p, g.DS, g.max_off, g.Lqr,
                                        gp, qc, o.threads);
    }
    return std::move(grad);
}

}  // namespace

void bind_block(py::module_& m) {
    m.def("bsr_conv_forward", &forward, py::arg("x"), py::arg("values"), py::arg("row_ptr"), py::arg("col"),
          py::arg("weight_shape"), py::arg("block"), py::arg("stride") = 1, py::arg("padding") = 0, py::kw_only(),
          py::arg("qchunk") = 0, py::arg("isa") = py::none(), py::arg("threads") = 0,
          "Block-sparse direct conv2d (or linear for 2-D x) forward: y = x * W.");
    m.def("bsr_conv_backward_data", &backward_data, py::arg("dy"), py::arg("values"), py::arg("row_ptr"),
          py::arg("col"), py::arg("weight_shape"), py::arg("block"), py::arg("x_shape"), py::arg("stride") = 1,
          py::arg("padding") = 0, py::kw_only(), py::arg("qchunk") = 0, py::arg("isa") = py::none(),
          py::arg("threads") = 0, "Block-sparse backward-data: dx = conv_transpose(dy, W).");
    m.def("bsr_conv_weight_grad", &weight_grad, py::arg("x"), py::arg("dy"), py::arg("row_ptr"), py::arg("col"),
          py::arg("weight_shape"), py::arg("block"), py::arg("stride") = 1, py::arg("padding") = 0, py::kw_only(),
          py::arg("qchunk") = 0, py::arg("isa") = py::none(), py::arg("threads") = 0,
          "Weight gradient at the stored blocks only (SDDMM), in the values' storage order.");
    m.def("filter_conv_forward", &filter_forward, py::arg("x"), py::arg("weight"), py::arg("out_idx"),
          py::arg("in_idx"), py::arg("out_channels"), py::arg("stride") = 1, py::arg("padding") = 0, py::kw_only(),
          py::arg("qchunk") = 0, py::arg("isa") = py::none(), py::arg("threads") = 0,
          "Filter/channel-pruned conv2d forward: y[:, out_idx] = conv(x[:, in_idx], weight), other channels 0.");
    m.def("filter_conv_backward_data", &filter_backward_data, py::arg("dy"), py::arg("weight"), py::arg("out_idx"),
          py::arg("in_idx"), py::arg("x_shape"), py::arg("stride") = 1, py::arg("padding") = 0, py::kw_only(),
          py::arg("qchunk") = 0, py::arg("isa") = py::none(), py::arg("threads") = 0,
          "Filter/channel-pruned backward-data: dx[:, in_idx] = conv_transpose(dy[:, out_idx], weight), other channels 0.");
    m.def("filter_conv_weight_grad", &filter_weight_grad, py::arg("x"), py::arg("dy"), py::arg("out_idx"),
          py::arg("in_idx"), py::arg("kernel_size"), py::arg("stride") = 1, py::arg("padding") = 0, py::kw_only(),
          py::arg("qchunk") = 0, py::arg("isa") = py::none(), py::arg("threads") = 0,
          "Filter/channel-pruned weight gradient: the compact dW (len(out_idx), len(in_idx), kh, kw), flattened.");
}

}  // namespace sb::bind
