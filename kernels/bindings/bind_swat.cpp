// SWAT bindings: exact top-K selection, top-K compression into row CSR, sparse-input weight gradients.
#include <cstring>

#include "../swat/swat.hpp"
#include <pybind11/stl.h>

#include "checks.hpp"

namespace sb::bind {
namespace {

uint32_t float_key(float t, const char* name) {
    if (!(t >= 0.0f)) throw py::value_error(std::string(name) + " must be a non-negative, non-NaN float");
    uint32_t u;
    std::memcpy(&u, &t, 4);
    return u & kAbsMask;
}

float key_float(uint32_t k) {
    float f;
    std::memcpy(&f, &k, 4);
    return f;
}

// rowptr (R + 1) int64 ascending from 0, col int32 in [0, C), vals float32, nnz = rowptr[R]
void check_row_csr(const py::array_t<int64_t>& rp, const py::array_t<int32_t>& col, const py::array_t<float>& vals,
                   int64_t R, int64_t C) {
    if (rp.size() != R + 1) throw py::value_error("rowptr must have " + std::to_string(R + 1) + " entries");
    const int64_t* p = rp.data();
    if (p[0] != 0) throw py::value_error("rowptr[0] must be 0");
    for (int64_t r = 0; r < R; ++r)
        if (p[r + 1] < p[r]) throw py::value_error("rowptr must be non-decreasing");
    if (col.size() != p[R] || vals.size() != p[R])
        throw py::value_error("col and vals must hold rowptr[-1] = " + std::to_string(p[R]) + " entries");
    const int32_t* c = col.data();
    for (int64_t e = 0; e < p[R]; ++e)
        if (c[e] < 0 || c[e] >= C) throw py::value_error("col index out of range [0, " + std::to_string(C) + ")");
}

}  // namespace

void bind_swat(py::module_& m) {
    m.def(
        "swat_select",
        [](py::object x_obj, int64_t k, std::string method, py::object isa, int threads) {
            auto x = typed<float>(x_obj, "x");
            auto o = call_opts(isa, threads);
            const int64_t n = x.size();
            if (k < 1 || k > n)
                throw py::value_error("k must be in [1, numel = " + std::to_string(n) + "], got " + std::to_string(k));
            const float* xp = x.data();
            Selection s;
            try {
                py::gil_scoped_release nogil;
                s = select_kth(Isa(o.isa), xp, n, k, method.c_str(), o.threads);
            } catch (NanError& e) {
                throw py::value_error(std::string("x ") + e.what() + ": the top-K of |x| is undefined");
            } catch (std::invalid_argument& e) {
                throw py::value_error(e.what());
            }
            return py::make_tuple(key_float(s.key), s.n_gt, s.n_eq, s.need_eq, s.passes);
        },
        py::arg("x"), py::arg("k"), py::kw_only(), py::arg("method") = "auto", py::arg("isa") = py::none(),
        py::arg("threads") = 0,
        "k-th largest |x|: (threshold, n_gt, n_eq, need_eq, passes); ValueError on NaN.");

    m.def(
        "swat_compress",
        [](py::object x_obj, int64_t cols, float threshold, int64_t need_eq, py::object isa, int threads) {
            auto x = typed<float>(x_obj, "x");
            auto o = call_opts(isa, threads);
            const int64_t n = x.size();
            if (cols < 1) throw py::value_error("cols must be >= 1");
            require_int32_extent(cols, "cols");
            const uint32_t T = float_key(threshold, "threshold");
            const int64_t R = (n + cols - 1) / cols;
            std::vector<int64_t> gt(static_cast<size_t>(R)), eq(static_cast<size_t>(R)), quota(static_cast<size_t>(R));
            py::array_t<int64_t> rowptr(R + 1);
            int64_t* rp = rowptr.mutable_data();
            const float* xp = x.data();
            const SwatKernels& K = swat_for(Isa(o.isa));
            {
                py::gil_scoped_release nogil;
                K.row_counts(xp, n, cols, T, gt.data(), eq.data(), o.threads);
            }
            // ties: the first need_eq elements equal to the threshold in flat order (-1: all)
            int64_t left = need_eq < 0 ? n : need_eq;
            rp[0] = 0;
            for (int64_t r = 0; r < R; ++r) {
                quota[size_t(r)] = std::min(left, eq[size_t(r)]);
                left -= quota[size_t(r)];
                rp[r + 1] = rp[r] + gt[size_t(r)] + quota[size_t(r)];
            }
            const int64_t nnz = rp[R];
            py::array_t<int32_t> col(nnz);
            py::array_t<float> vals(nnz);
            int32_t* cp = col.mutable_data();
            float* vp = vals.mutable_data();
            {
                py::gil_scoped_release nogil;
                K.row_fill(xp, n, cols, T, quota.data(), rp, cp, vp, o.threads);
            }
            return py::make_tuple(rowptr, col, vals);
        },
        py::arg("x"), py::arg("cols"), py::arg("threshold"), py::arg("need_eq") = -1, py::kw_only(),
        py::arg("isa") = py::none(), py::arg("threads") = 0,
        "Row CSR (rowptr, col, vals) of x viewed as rows of `cols`: |x| > threshold, plus the first need_eq "
        "equal to it in flat order (-1: all).");

    m.def(
        "swat_conv_weight_grad",
        [](py::object rp_obj, py::object col_obj, py::object val_obj, py::object dy_obj, std::vector<int64_t> xs,
           std::vector<int64_t> khw, int64_t stride, int64_t pad, py::object isa, int threads) {
            auto rp = typed<int64_t>(rp_obj, "rowptr", 1);
            auto col = typed<int32_t>(col_obj, "col", 1);
            auto vals = typed<float>(val_obj, "vals", 1);
            auto dy = typed<float>(dy_obj, "dy", 4);
            if (xs.size() != 4 || khw.size() != 2) throw py::value_error("x_shape must have 4 and kernel_hw 2 entries");
            if (stride < 1 || pad < 0) throw py::value_error("stride must be >= 1 and padding >= 0");
            const int64_t N = xs[0], Cin = xs[1], H = xs[2], W = xs[3], kh = khw[0], kw = khw[1];
            if (N < 0 || Cin < 0 || H < 1 || W < 1 || kh < 1 || kw < 1) throw py::value_error("bad x_shape / kernel_hw");
            if (H + 2 * pad < kh || W + 2 * pad < kw) throw py::value_error("kernel larger than the padded input");
            const int64_t Ho = (H + 2 * pad - kh) / stride + 1, Wo = (W + 2 * pad - kw) / stride + 1;
            if (dy.shape(0) != N || dy.shape(2) != Ho || dy.shape(3) != Wo)
                throw py::value_error("dy shape " + shape_str(dy) + " does not match x_shape / geometry");
            const int64_t Cout = dy.shape(1);
            require_int32_extent(H * W, "H*W");
            check_row_csr(rp, col, vals, N * Cin, H * W);
            auto o = call_opts(isa, threads);
            py::array_t<float> dw(std::vector<py::ssize_t>{Cout, Cin, kh, kw});
            std::vector<float> dyt(static_cast<size_t>(N * Ho * Wo * Cout)), dwt(static_cast<size_t>(Cin * kh * kw * Cout));
            const int64_t* rpp = rp.data();
            const int32_t* cp = col.data();
            const float* vp = vals.data();
            const float* dyp = dy.data();
            float* dwp = dw.mutable_data();
            {
                py::gil_scoped_release nogil;
                swat_for(Isa(o.isa)).conv_wgrad(rpp, cp, vp, dyp, N, Cin, H, W, Cout, kh, kw, stride, pad, dyt.data(),
                                                dwt.data(), dwp, o.threads);
            }
            return dw;
        },
        py::arg("rowptr"), py::arg("col"), py::arg("vals"), py::arg("dy"), py::arg("x_shape"), py::arg("kernel_hw"),
        py::arg("stride") = 1, py::arg("padding") = 0, py::kw_only(), py::arg("isa") = py::none(),
        py::arg("threads") = 0, "dW of conv2d from the sparse input (row CSR over (N*Cin, H*W)) and dense dy.");

    m.def(
        "swat_linear_weight_grad",
        [](py::object rp_obj, py::object col_obj, py::object val_obj, py::object dy_obj, int64_t cin, py::object isa,
           int threads) {
            auto rp = typed<int64_t>(rp_obj, "rowptr", 1);
            auto col = typed<int32_t>(col_obj, "col", 1);
            auto vals = typed<float>(val_obj, "vals", 1);
            auto dy = typed<float>(dy_obj, "dy", 2);
            if (cin < 1) throw py::value_error("in_features must be >= 1");
            require_int32_extent(cin, "in_features");
            const int64_t B = dy.shape(0), Cout = dy.shape(1);
            check_row_csr(rp, col, vals, B, cin);
            auto o = call_opts(isa, threads);
            py::array_t<float> dw(std::vector<py::ssize_t>{Cout, cin});
            std::vector<float> dwt(static_cast<size_t>(cin * Cout));
            const int64_t* rpp = rp.data();
            const int32_t* cp = col.data();
            const float* vp = vals.data();
            const float* dyp = dy.data();
            float* dwp = dw.mutable_data();
            {
                py::gil_scoped_release nogil;
                swat_for(Isa(o.isa)).linear_wgrad(rpp, cp, vp, dyp, B, cin, Cout, dwt.data(), dwp, o.threads);
            }
            return dw;
        },
        py::arg("rowptr"), py::arg("col"), py::arg("vals"), py::arg("dy"), py::arg("in_features"), py::kw_only(),
        py::arg("isa") = py::none(), py::arg("threads") = 0,
        "dW (Cout, Cin) = dy^T @ X from the sparse input X (row CSR over (B, Cin)) and dense dy (B, Cout).");
}

}  // namespace sb::bind
