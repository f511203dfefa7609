// Boundary helpers of the phase-plane conv bindings (bind_block, bind_pattern, bind_filter):
// weight-shape and geometry arguments as sb::ConvGeometry, validated.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "../common/geometry.hpp"
#include "checks.hpp"

namespace sb::bind {

// The weight part (Cout, Cin, kh, kw) of a geometry from a 2- or 4-entry weight_shape.
inline ConvGeometry weight_shape(const py::object& obj, const char* name) {
    auto t = obj.cast<std::vector<int64_t>>();
    if (t.size() == 2) t = {t[0], t[1], 1, 1};
    if (t.size() != 4) throw py::value_error(std::string(name) + " must have 2 or 4 entries");
    for (auto v : t)
        if (v < 0) throw py::value_error(std::string(name) + " must be non-negative");
    if (t[2] < 1 || t[3] < 1) throw py::value_error(std::string(name) + ": kernel size must be >= 1");
    return ConvGeometry::weight(t[0], t[1], t[2], t[3]);
}

inline void check_conv_params(int64_t stride, int64_t padding) {
    if (stride < 1) throw py::value_error("stride must be >= 1, got " + std::to_string(stride));
    if (padding < 0) throw py::value_error("padding must be >= 0, got " + std::to_string(padding));
}

// The complete geometry of weight w applied to an input (N, Cin, H, W); Ho, Wo >= 1 required.
inline ConvGeometry conv_geom(int64_t N, int64_t H, int64_t W, const ConvGeometry& w, int64_t stride,
                              int64_t padding) {
    check_conv_params(stride, padding);
    if (H + 2 * padding < w.kh || W + 2 * padding < w.kw)
        throw py::value_error("input spatial size " + std::to_string(H) + "x" + std::to_string(W) +
                              " (padded by " + std::to_string(padding) + ") is smaller than the kernel");
    return w.with_input(N, H, W, stride, padding);
}

// x (N, Cin, H, W) or, for a linear weight (KH = KW = 1 given as 2 entries), (B, in).
inline py::array_t<float> conv_input(const py::object& obj, const char* name, const ConvGeometry& w) {
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

// qchunk: >= 0 (0: the stage's default), else ValueError.
inline int64_t check_qchunk(int64_t qchunk) {
    if (qchunk < 0) throw py::value_error("qchunk must be >= 0");
    return qchunk;
}

}  // namespace sb::bind
