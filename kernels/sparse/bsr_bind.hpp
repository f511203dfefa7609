// Boundary helpers shared by bind_block.cpp and bind_pattern.cpp (binding TUs only).
#pragma once

#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "../bindings/checks.hpp"
#include "bsr.hpp"

namespace sb::bind {

struct WShape {
    int64_t Cout, Cin, KH, KW;
};

inline WShape weight_shape(const py::object& obj, const char* name) {
    auto t = obj.cast<std::vector<int64_t>>();
    if (t.size() == 2) t = {t[0], t[1], 1, 1};
    if (t.size() != 4) throw py::value_error(std::string(name) + " must have 2 or 4 entries");
    for (auto v : t)
        if (v < 0) throw py::value_error(std::string(name) + " must be non-negative");
    if (t[2] < 1 || t[3] < 1) throw py::value_error(std::string(name) + ": kernel size must be >= 1");
    return {t[0], t[1], t[2], t[3]};
}

inline void check_conv_params(int64_t stride, int64_t padding) {
    if (stride < 1) throw py::value_error("stride must be >= 1, got " + std::to_string(stride));
    if (padding < 0) throw py::value_error("padding must be >= 0, got " + std::to_string(padding));
}

// Geometry of a conv with input (N, Cin, H, W); Ho, Wo >= 1 required.
inline ConvGeom conv_geom(int64_t N, int64_t H, int64_t W, const WShape& w, int64_t stride, int64_t padding) {
    check_conv_params(stride, padding);
    if (H + 2 * padding < w.KH || W + 2 * padding < w.KW)
        throw py::value_error("input spatial size " + std::to_string(H) + "x" + std::to_string(W) +
                              " (padded by " + std::to_string(padding) + ") is smaller than the kernel");
    return make_geom(N, w.Cin, H, W, w.Cout, w.KH, w.KW, stride, padding);
}

// x (N, Cin, H, W) or, for a linear weight (KH = KW = 1 given as 2 entries), (B, in).
inline py::array_t<float> conv_input(const py::object& obj, const char* name, const WShape& w) {
    py::array a = as_array(obj, name);
    auto x = typed<float>(obj, name, a.ndim() == 2 ? 2 : 4);
    if (x.shape(1) != w.Cin)
        throw py::value_error(std::string(name) + " has " + std::to_string(x.shape(1)) + " channels, the weight " +
                              std::to_string(w.Cin));
    return x;
}

inline void dims4(const py::array& a, int64_t& N, int64_t& C, int64_t& H, int64_t& W) {
    N = a.shape(0);
    C = a.shape(1);
    H = a.ndim() == 4 ? a.shape(2) : 1;
    W = a.ndim() == 4 ? a.shape(3) : 1;
}

inline py::array_t<float> new_out(const py::array& like_ndim, int64_t N, int64_t C, int64_t H, int64_t W) {
    if (like_ndim.ndim() == 2) return py::array_t<float>(std::vector<py::ssize_t>{N, C});
    return py::array_t<float>(std::vector<py::ssize_t>{N, C, H, W});
}

inline py::array_t<float> zeros_out(const py::array& like_ndim, int64_t N, int64_t C, int64_t H, int64_t W) {
    auto out = new_out(like_ndim, N, C, H, W);
    if (out.size()) std::memset(out.mutable_data(), 0, sizeof(float) * out.size());
    return out;
}

inline void require_fits(int64_t v, const char* what) { require_int32_extent(v, what); }

}  // namespace sb::bind
