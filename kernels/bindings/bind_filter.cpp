// Filter / channel-pruned conv2d stages (kernels/filter/filter.hpp): argument conversion and
// validation, then the family's entry point.
#include <string>
#include <vector>

#include "../common/phase_planes.hpp"
#include "../filter/filter.hpp"
#include "checks.hpp"
#include "conv_args.hpp"

namespace sb::bind {
namespace {

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
    ConvGeometry ws;  // the weight part: compact (k, kin, kh, kw)
    std::vector<int64_t> oidx, iidx;
};

Filt check_filter(const py::object& weight, const py::object& out_idx, const py::object& in_idx, int64_t out_channels,
                  int64_t in_channels) {
    Filt f;
    f.w = typed<float>(weight, "weight", 4);
    f.ws = ConvGeometry::weight(f.w.shape(0), f.w.shape(1), f.w.shape(2), f.w.shape(3));
    if (f.ws.kh < 1 || f.ws.kw < 1) throw py::value_error("weight: kernel size must be >= 1");
    f.oidx = index_list(out_idx, "out_idx", out_channels);
    f.iidx = index_list(in_idx, "in_idx", in_channels);
    if (int64_t(f.oidx.size()) != f.ws.Cout)
        throw py::value_error("weight.shape[0] must equal len(out_idx) (" + std::to_string(f.oidx.size()) + ")");
    if (int64_t(f.iidx.size()) != f.ws.Cin)
        throw py::value_error("weight.shape[1] must equal len(in_idx) (" + std::to_string(f.iidx.size()) + ")");
    require_int32_extent(f.ws.weight_size(), "weight size");
    return f;
}

py::object filter_forward(py::object x_obj, py::object weight, py::object out_idx, py::object in_idx,
                          int64_t out_channels, int64_t stride, int64_t padding, int64_t qchunk, py::object isa,
                          int threads) {
    auto x = typed<float>(x_obj, "x", 4);
    if (out_channels < 0) throw py::value_error("out_channels must be >= 0");
    Filt f = check_filter(weight, out_idx, in_idx, out_channels, x.shape(1));
    auto o = call_opts(isa, threads);
    const int64_t N = x.shape(0), XC = x.shape(1), H = x.shape(2), Wd = x.shape(3);
    const ConvGeometry g = conv_geom(N, H, Wd, f.ws, stride, padding);
    const int64_t k = f.ws.Cout, kin = f.ws.Cin;
    if (N == 0 || k == 0 || kin == 0) return zeros_out(x, N, out_channels, g.Ho, g.Wo);
    const PhasePlanes pp = phase_planes(g);
    require_int32_extent(kin * pp.nph * pp.PS, "input buffer size");
    auto y = new_out(x, N, out_channels, g.Ho, g.Wo);
    const FilterChannels ch{f.oidx.data(), f.iidx.data(), out_channels, XC};
    const float* xp = x.data();
    const float* wp = f.w.data();
    float* yp = y.mutable_data();
    check_qchunk(qchunk);
    {
        py::gil_scoped_release nogil;
        filter_conv_forward(Isa(o.isa), g, ch, wp, xp, yp, qchunk, o.threads);
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
    const ConvGeometry g = conv_geom(N, H, Wd, f.ws, stride, padding);
    require_shape(dy, "dy", {py::ssize_t(N), py::ssize_t(YC), py::ssize_t(g.Ho), py::ssize_t(g.Wo)});
    auto o = call_opts(isa, threads);
    const int64_t k = f.ws.Cout, kin = f.ws.Cin;
    if (N == 0 || k == 0 || kin == 0) return zeros_out(dy, N, XC, H, Wd);
    const PhasePlanes pp = phase_planes(g);
    require_int32_extent(k * pp.DS, "output-gradient buffer size");
    require_int32_extent(kin * pp.nph * pp.PS, "input buffer size");
    auto dx = new_out(dy, N, XC, H, Wd);
    const FilterChannels ch{f.oidx.data(), f.iidx.data(), YC, XC};
    const float* dyp = dy.data();
    const float* wp = f.w.data();
    float* dxp = dx.mutable_data();
    check_qchunk(qchunk);
    {
        py::gil_scoped_release nogil;
        filter_conv_backward_data(Isa(o.isa), g, ch, wp, dyp, dxp, qchunk, o.threads);
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
    const ConvGeometry g = conv_geom(N, H, Wd, ConvGeometry::weight(k, kin, ks[0], ks[1]), stride, padding);
    require_shape(dy, "dy", {py::ssize_t(N), py::ssize_t(YC), py::ssize_t(g.Ho), py::ssize_t(g.Wo)});
    require_int32_extent(k * kin * T, "weight size");
    auto o = call_opts(isa, threads);
    py::array_t<float> grad(std::vector<py::ssize_t>{py::ssize_t(k * kin * T)});
    float* gp = grad.mutable_data();
    if (N == 0 || k == 0 || kin == 0) {
        if (grad.size()) std::memset(gp, 0, sizeof(float) * grad.size());
        return std::move(grad);
    }
    const FilterChannels ch{oidx.data(), iidx.data(), YC, XC};
    const float* xp = x.data();
    const float* dyp = dy.data();
    check_qchunk(qchunk);
    {
        py::gil_scoped_release nogil;
        filter_conv_weight_grad(Isa(o.isa), g, ch, xp, dyp, gp, qchunk, o.threads);
    }
    return std::move(grad);
}

}  // namespace

void bind_filter(py::module_& m) {
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
