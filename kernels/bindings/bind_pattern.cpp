// Pattern-sparse 3x3 conv2d stages (kernels/sparse/pattern.hpp): argument conversion and
// validation, then the family's entry point.
#include <string>
#include <vector>

#include "../common/phase_planes.hpp"
#include "../sparse/pattern.hpp"
#include "checks.hpp"
#include "conv_args.hpp"

namespace sb::bind {
namespace {

struct Pat {
    py::array_t<float> values;
    py::array_t<int32_t> gptr, kci, lib;
    ConvGeometry w;  // the weight part
    int64_t NP, nk;
};

Pat check_pattern(const py::object* values, const py::object& gptr, const py::object& kci, const py::object& library,
                  const py::object& wshape) {
    Pat P;
    P.w = weight_shape(wshape, "weight_shape");
    if (P.w.kh != 3 || P.w.kw != 3) throw py::value_error("pattern sparsity needs a 3x3 kernel");
    P.lib = typed<int32_t>(library, "library", 2);
    if (P.lib.shape(1) != 4) throw py::value_error("library must have shape (NP, 4), got " + shape_str(P.lib));
    P.NP = P.lib.shape(0);
    const int32_t* L = P.lib.data();
    for (int64_t p = 0; p < P.NP; ++p)
        for (int t = 0; t < 4; ++t) {
            if (L[4 * p + t] < 0 || L[4 * p + t] >= 9) throw py::value_error("library taps must be in [0, 9)");
            for (int u = 0; u < t; ++u)
                if (L[4 * p + u] == L[4 * p + t])
                    throw py::value_error("library pattern " + std::to_string(p) + " repeats a tap");
        }
    P.gptr = typed<int32_t>(gptr, "gptr", 1);
    require_int32_extent(P.w.Cout * P.NP + 1, "pattern groups");
    require_shape(P.gptr, "gptr", {py::ssize_t(P.w.Cout * P.NP + 1)});
    const int32_t* gp = P.gptr.data();
    if (gp[0] != 0) throw py::value_error("gptr[0] must be 0");
    for (int64_t i = 0; i < P.w.Cout * P.NP; ++i)
        if (gp[i + 1] < gp[i]) throw py::value_error("gptr must be non-decreasing");
    P.nk = gp[P.w.Cout * P.NP];
    P.kci = typed<int32_t>(kci, "kci", 1);
    require_shape(P.kci, "kci", {py::ssize_t(P.nk)});
    if (values) {
        P.values = typed<float>(*values, "values", 1);
        require_shape(P.values, "values", {py::ssize_t(4 * P.nk)});
    }
    const int32_t* c = P.kci.data();
    std::vector<int64_t> seen(size_t(P.w.Cin), -1);
    for (int64_t co = 0; co < P.w.Cout; ++co)
        for (int64_t p = 0; p < P.NP; ++p)
            for (int64_t k = gp[co * P.NP + p]; k < gp[co * P.NP + p + 1]; ++k) {
                if (c[k] < 0 || c[k] >= P.w.Cin)
                    throw py::value_error("kci[" + std::to_string(k) + "] = " + std::to_string(c[k]) + " out of range");
                if (k > gp[co * P.NP + p] && c[k] <= c[k - 1])
                    throw py::value_error("kci must be strictly increasing within a (co, pattern) group");
                if (seen[c[k]] == co)
                    throw py::value_error("kernel (" + std::to_string(co) + ", " + std::to_string(c[k]) +
                                          ") stored twice (duplicate across patterns)");
                seen[c[k]] = co;
            }
    return P;
}

PatternWeight weight_view(const Pat& P) {
    return PatternWeight{P.values.size() ? P.values.data() : nullptr, P.gptr.data(), P.kci.data(), P.lib.data(), P.NP,
                         P.nk};
}

py::object forward(py::object x_obj, py::object values, py::object gptr, py::object kci, py::object library,
                   py::object wshape, int64_t stride, int64_t padding, int64_t qchunk, py::object isa, int threads) {
    Pat P = check_pattern(&values, gptr, kci, library, wshape);
    auto x = typed<float>(x_obj, "x", 4);
    if (x.shape(1) != P.w.Cin) throw py::value_error("x channels must equal the weight's input channels");
    auto o = call_opts(isa, threads);
    int64_t N, C, H, W;
    dims4(x, N, C, H, W);
    const ConvGeometry g = conv_geom(N, H, W, P.w, stride, padding);
    if (N == 0 || P.w.Cout == 0 || P.w.Cin == 0) return zeros_out(x, N, P.w.Cout, g.Ho, g.Wo);
    const PhasePlanes pp = phase_planes(g);
    require_int32_extent(P.w.Cin * pp.nph * pp.PS, "input buffer size");
    auto y = new_out(x, N, P.w.Cout, g.Ho, g.Wo);
    const PatternWeight pw = weight_view(P);
    const float* xp = x.data();
    float* yp = y.mutable_data();
    check_qchunk(qchunk);
    {
        py::gil_scoped_release nogil;
        pattern_conv_forward(Isa(o.isa), g, pw, xp, yp, qchunk, o.threads);
    }
    return std::move(y);
}

py::object backward_data(py::object dy_obj, py::object values, py::object gptr, py::object kci, py::object library,
                         py::object wshape, py::object x_shape, int64_t stride, int64_t padding, int64_t qchunk,
                         py::object isa, int threads) {
    Pat P = check_pattern(&values, gptr, kci, library, wshape);
    auto xs = x_shape.cast<std::vector<int64_t>>();
    if (xs.size() != 4) throw py::value_error("x_shape must have 4 entries");
    if (xs[1] != P.w.Cin) throw py::value_error("x_shape[1] must equal the weight's input channels");
    for (auto v : xs)
        if (v < 0) throw py::value_error("x_shape must be non-negative");
    const int64_t N = xs[0], H = xs[2], W = xs[3];
    const ConvGeometry g = conv_geom(N, H, W, P.w, stride, padding);
    auto dy = typed<float>(dy_obj, "dy", 4);
    require_shape(dy, "dy", {py::ssize_t(N), py::ssize_t(P.w.Cout), py::ssize_t(g.Ho), py::ssize_t(g.Wo)});
    auto o = call_opts(isa, threads);
    if (N == 0 || P.w.Cout == 0 || P.w.Cin == 0) return zeros_out(dy, N, P.w.Cin, H, W);
    require_int32_extent(P.w.Cout * phase_planes(g).DS, "output-gradient buffer size");
    auto dx = new_out(dy, N, P.w.Cin, H, W);
    const PatternWeight pw = weight_view(P);
    const float* dyp = dy.data();
    float* dxp = dx.mutable_data();
    check_qchunk(qchunk);
    {
        py::gil_scoped_release nogil;
        pattern_conv_backward_data(Isa(o.isa), g, pw, dyp, dxp, qchunk, o.threads);
    }
    return std::move(dx);
}

py::object weight_grad(py::object x_obj, py::object dy_obj, py::object gptr, py::object kci, py::object library,
                       py::object wshape, int64_t stride, int64_t padding, int64_t qchunk, py::object isa, int threads) {
    Pat P = check_pattern(nullptr, gptr, kci, library, wshape);
    auto x = typed<float>(x_obj, "x", 4);
    if (x.shape(1) != P.w.Cin) throw py::value_error("x channels must equal the weight's input channels");
    int64_t N, C, H, W;
    dims4(x, N, C, H, W);
    const ConvGeometry g = conv_geom(N, H, W, P.w, stride, padding);
    auto dy = typed<float>(dy_obj, "dy", 4);
    require_shape(dy, "dy", {py::ssize_t(N), py::ssize_t(P.w.Cout), py::ssize_t(g.Ho), py::ssize_t(g.Wo)});
    auto o = call_opts(isa, threads);
    py::array_t<float> grad(std::vector<py::ssize_t>{py::ssize_t(4 * P.nk)});
    float* gp = grad.mutable_data();
    if (N == 0 || P.w.Cout == 0 || P.w.Cin == 0) {
        if (grad.size()) std::memset(gp, 0, sizeof(float) * grad.size());
        return std::move(grad);
    }
    const PatternWeight pw = weight_view(P);
    const float* xp = x.data();
    const float* dyp = dy.data();
    check_qchunk(qchunk);
    {
        py::gil_scoped_release nogil;
        pattern_conv_weight_grad(Isa(o.isa), g, pw, xp, dyp, gp, qchunk, o.threads);
    }
    return std::move(grad);
}

}  // namespace

void bind_pattern(py::module_& m) {
    m.def("pattern_conv_forward", &forward, py::arg("x"), py::arg("values"), py::arg("gptr"), py::arg("kci"),
          py::arg("library"), py::arg("weight_shape"), py::arg("stride") = 1, py::arg("padding") = 0, py::kw_only(),
          py::arg("qchunk") = 0, py::arg("isa") = py::none(), py::arg("threads") = 0,
          "Pattern-sparse 3x3 direct conv2d forward.");
    m.def("pattern_conv_backward_data", &backward_data, py::arg("dy"), py::arg("values"), py::arg("gptr"),
          py::arg("kci"), py::arg("library"), py::arg("weight_shape"), py::arg("x_shape"), py::arg("stride") = 1,
          py::arg("padding") = 0, py::kw_only(), py::arg("qchunk") = 0, py::arg("isa") = py::none(),
          py::arg("threads") = 0, "Pattern-sparse 3x3 backward-data.");
    m.def("pattern_conv_weight_grad", &weight_grad, py::arg("x"), py::arg("dy"), py::arg("gptr"), py::arg("kci"),
          py::arg("library"), py::arg("weight_shape"), py::arg("stride") = 1, py::arg("padding") = 0, py::kw_only(),
          py::arg("qchunk") = 0, py::arg("isa") = py::none(), py::arg("threads") = 0,
          "Pattern-sparse weight gradient at kept taps only, in the values' storage order.");
}

}  // namespace sb::bind
