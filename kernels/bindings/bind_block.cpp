// Block-sparse (BSR) conv2d / linear stages (kernels/sparse/bsr.hpp): argument conversion and
// validation, then the family's entry point.
#include <string>
#include <vector>

#include "../sparse/bsr.hpp"
#include "checks.hpp"
#include "conv_args.hpp"
#include "../common/phase_planes.hpp"

namespace sb::bind {
namespace {

struct Bsr {
    py::array_t<float> values;
    py::array_t<int32_t> row_ptr, col;
    ConvGeometry w;  // the weight part
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
    b.T = b.w.taps();
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

BsrWeight weight_view(const Bsr& b) {
    return BsrWeight{b.values.size() ? b.values.data() : nullptr, b.row_ptr.data(), b.col.data(), b.bo, b.bi, b.nbr,
                     b.ncb, b.nblocks};
}

py::object forward(py::object x_obj, py::object values, py::object row_ptr, py::object col, py::object wshape,
                   py::object block, int64_t stride, int64_t padding, int64_t qchunk, py::object isa, int threads) {
    Bsr b = check_bsr(values, row_ptr, col, wshape, block);
    auto x = conv_input(x_obj, "x", b.w);
    auto o = call_opts(isa, threads);
    int64_t N, C, H, W;
    dims4(x, N, C, H, W);
    const ConvGeometry g = conv_geom(N, H, W, b.w, stride, padding);
    if (N == 0 || b.w.Cout == 0 || b.w.Cin == 0) return zeros_out(x, N, b.w.Cout, g.Ho, g.Wo);
    const int64_t cin_pad = b.ncb * b.bi;
    const PhasePlanes pp = phase_planes(g);
    require_int32_extent(cin_pad * pp.nph * pp.PS, "input buffer size");
    auto y = new_out(x, N, b.w.Cout, g.Ho, g.Wo);
    const BsrWeight bw = weight_view(b);
    const float* xp = x.data();
    float* yp = y.mutable_data();
    check_qchunk(qchunk);
    {
        py::gil_scoped_release nogil;
        bsr_conv_forward(Isa(o.isa), g, bw, xp, yp, qchunk, o.threads);
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
    const ConvGeometry g = conv_geom(N, H, W, b.w, stride, padding);
    auto dy = typed<float>(dy_obj, "dy", lin ? 2 : 4);
    if (lin) require_shape(dy, "dy", {py::ssize_t(N), py::ssize_t(b.w.Cout)});
    else require_shape(dy, "dy", {py::ssize_t(N), py::ssize_t(b.w.Cout), py::ssize_t(g.Ho), py::ssize_t(g.Wo)});
    auto o = call_opts(isa, threads);
    if (N == 0 || b.w.Cout == 0 || b.w.Cin == 0) return zeros_out(dy, N, b.w.Cin, H, W);
    const int64_t cin_pad = b.ncb * b.bi, cout_pad = b.nbr * b.bo;
    const PhasePlanes pp = phase_planes(g);
    require_int32_extent(cout_pad * pp.DS, "output-gradient buffer size");
    require_int32_extent(cin_pad * pp.nph * pp.PS, "input buffer size");
    auto dx = new_out(dy, N, b.w.Cin, H, W);
    const BsrWeight bw = weight_view(b);
    const float* dyp = dy.data();
    float* dxp = dx.mutable_data();
    check_qchunk(qchunk);
    {
        py::gil_scoped_release nogil;
        bsr_conv_backward_data(Isa(o.isa), g, bw, dyp, dxp, qchunk, o.threads);
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
    const ConvGeometry g = conv_geom(N, H, W, b.w, stride, padding);
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
    const BsrWeight bw = weight_view(b);
    const float* xp = x.data();
    const float* dyp = dy.data();
    check_qchunk(qchunk);
    {
        py::gil_scoped_release nogil;
        bsr_conv_weight_grad(Isa(o.isa), g, bw, xp, dyp, gp, qchunk, o.threads);
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
}

}  // namespace sb::bind
