// Unstructured (CSR) weight sparsity: format builders and the training-stage kernels.
#include <stdexcept>

#include "../sparse/csr.hpp"
#include "checks.hpp"

namespace sb::bind {

namespace {

template <typename F>
auto translate(F&& f) {
    try {
        return f();
    } catch (std::invalid_argument& e) {
        throw py::value_error(e.what());
    }
}

py::array_t<int32_t> new_i32(int64_t n) { return py::array_t<int32_t>(std::vector<py::ssize_t>{py::ssize_t(n)}); }
py::array_t<float> new_f32(std::vector<py::ssize_t> shape) { return py::array_t<float>(shape); }

int64_t positive(py::ssize_t v, const char* name, int64_t lo = 1) {
    if (v < lo) throw py::value_error(std::string(name) + " must be >= " + std::to_string(lo) + ", got " + std::to_string(v));
    return v;
}

std::vector<int64_t> shape4(const py::tuple& t, const char* name) {
    if (t.size() != 4) throw py::value_error(std::string(name) + " must have 4 entries");
    std::vector<int64_t> s(4);
    for (int i = 0; i < 4; ++i) {
        s[i] = t[i].cast<int64_t>();
        if (s[i] < 0) throw py::value_error(std::string(name) + " entries must be >= 0");
    }
    return s;
}

// The CSR arrays of a (rows, K) matrix, validated (O(nnz)).
struct Csr {
    py::array_t<int32_t> row_ptr, col;
    int64_t rows, K, nnz;
};

Csr check_csr(py::object rp_obj, py::object col_obj, int64_t rows, int64_t K) {
    Csr c;
    c.row_ptr = typed<int32_t>(rp_obj, "row_ptr", 1);
    c.col = typed<int32_t>(col_obj, "col_idx", 1);
    c.rows = rows;
    c.K = K;
    require_int32_extent(K, "K (columns)");
    require_shape(c.row_ptr, "row_ptr", {py::ssize_t(rows + 1)});
    c.nnz = c.col.shape(0);
    translate([&] {
        csrfmt::validate(c.row_ptr.data(), rows, c.col.data(), c.nnz, K);
        return 0;
    });
    return c;
}

py::array_t<float> check_values(py::object v_obj, int64_t nnz, const char* name = "values") {
    auto v = typed<float>(v_obj, name, 1);
    require_shape(v, name, {py::ssize_t(nnz)});
    return v;
}

// Transposed structure for backward-data (see csr.hpp), validated against nnz and ranges.
struct Trans {
    py::array_t<int32_t> ptr, src, co, tap;
};

Trans check_trans(py::object p, py::object s, py::object c, py::object t, int64_t nrows, int64_t nnz, int64_t Cout,
                  int64_t taps) {
    Trans T{typed<int32_t>(p, "tptr", 1), typed<int32_t>(s, "tsrc", 1), typed<int32_t>(c, "tco", 1),
            t.is_none() ? py::array_t<int32_t>() : typed<int32_t>(t, "ttap", 1)};
    require_shape(T.ptr, "tptr", {py::ssize_t(nrows + 1)});
    require_shape(T.src, "tsrc", {py::ssize_t(nnz)});
    require_shape(T.co, "tco", {py::ssize_t(nnz)});
    if (!t.is_none()) require_shape(T.tap, "ttap", {py::ssize_t(nnz)});
    const int32_t* pp = T.ptr.data();
    if (pp[0] != 0 || pp[nrows] != nnz) throw py::value_error("tptr must start at 0 and end at nnz");
    for (int64_t r = 0; r < nrows; ++r)
        if (pp[r + 1] < pp[r]) throw py::value_error("tptr must be nondecreasing");
    const int32_t *sp = T.src.data(), *cp = T.co.data(), *tp = t.is_none() ? nullptr : T.tap.data();
    for (int64_t k = 0; k < nnz; ++k) {
        if (sp[k] < 0 || sp[k] >= nnz) throw py::value_error("tsrc out of range [0, nnz)");
        if (cp[k] < 0 || cp[k] >= Cout) throw py::value_error("tco out of range [0, rows)");
        if (tp && (tp[k] < 0 || tp[k] >= taps)) throw py::value_error("ttap out of range [0, kh*kw)");
    }
    return T;
}

ConvGeometry conv_shape(const std::vector<int64_t>& xs, const std::vector<int64_t>& ws, int64_t stride,
                        int64_t padding) {
    if (stride < 1) throw py::value_error("stride must be >= 1, got " + std::to_string(stride));
    if (padding < 0) throw py::value_error("padding must be >= 0, got " + std::to_string(padding));
    if (ws[2] < 1 || ws[3] < 1) throw py::value_error("kernel size must be >= 1");
    if (xs[1] != ws[1])
        throw py::value_error("x has " + std::to_string(xs[1]) + " channels but the weight expects " +
                              std::to_string(ws[1]));
    if (xs[2] + 2 * padding < ws[2] || xs[3] + 2 * padding < ws[3])
        throw py::value_error("input (padded) is smaller than the kernel");
    const ConvGeometry g = ConvGeometry::make(xs[0], xs[1], xs[2], xs[3], ws[0], ws[2], ws[3], stride, padding);
    // Per-image prepared buffers are indexed with int32 offsets.
    const int64_t Hq = (g.H + 2 * padding + stride - 1) / stride, Wq = (g.W + 2 * padding + stride - 1) / stride;
    require_int32_extent(g.Cin * stride * stride * Hq * Wq + 4096, "prepared input per image");
    require_int32_extent(g.Cout * (g.Ho + g.kh) * (g.Wo + g.kw) + 4096, "padded output gradient per image");
    require_int32_extent(g.Cin * g.kh * g.kw, "K = Cin*kh*kw");
    return g;
}

std::vector<int64_t> dims(const py::array& a) { return std::vector<int64_t>(a.shape(), a.shape() + a.ndim()); }

}  // namespace

void bind_csr(py::module_& m) {
    m.def(
        "csr_validate",
        [](py::object rp, py::object col, int64_t rows, int64_t K) {
            positive(rows, "rows", 0);
            check_csr(rp, col, rows, K);
        },
        py::arg("row_ptr"), py::arg("col_idx"), py::arg("rows"), py::arg("K"),
        "Validates a CSR: row_ptr (rows+1) from 0 to nnz, nondecreasing; col_idx in [0, K), strictly increasing per row.");

    m.def(
        "csr_from_mask",
        [](py::object mask_obj, py::object w_obj, py::object isa, int threads) {
            auto mask = typed<uint8_t>(mask_obj, "mask", 2);
            auto w = typed<float>(w_obj, "weight", 2);
            require_shape(w, "weight", {mask.shape(0), mask.shape(1)});
            const int64_t rows = mask.shape(0), K = mask.shape(1);
            require_int32_extent(K, "K (columns)");
            auto o = call_opts(isa, threads);
            auto rp = new_i32(rows + 1);
            translate([&] {
                py::gil_scoped_release nogil;
                csrfmt::mask_row_counts(mask.data(), rows, K, rp.mutable_data(), o.threads);
                return 0;
            });
            const int64_t nnz = rp.data()[rows];
            auto col = new_i32(nnz);
            auto val = new_f32({py::ssize_t(nnz)});
            {
                py::gil_scoped_release nogil;
                csrfmt::from_mask(mask.data(), w.data(), rows, K, rp.data(), col.mutable_data(), val.mutable_data(),
                                  o.threads);
            }
            return py::make_tuple(rp, col, val);
        },
        py::arg("mask"), py::arg("weight"), py::kw_only(), py::arg("isa") = py::none(), py::arg("threads") = 0,
        "(row_ptr, col_idx, values) of weight at the nonzeros of a uint8 (rows, K) mask.");

    m.def(
        "csr_row_ptr_from_coo",
        [](py::object r_obj, py::object c_obj, int64_t rows, int64_t K) {
            auto r = typed<int64_t>(r_obj, "rows", 1);
            auto c = typed<int64_t>(c_obj, "cols", 1);
            require_shape(c, "cols", {r.shape(0)});
            positive(rows, "nrows", 0);
            require_int32_extent(K, "K (columns)");
            auto rp = new_i32(rows + 1);
            translate([&] {
                csrfmt::coo_row_ptr(r.data(), c.data(), r.shape(0), rows, K, rp.mutable_data());
                return 0;
            });
            return rp;
        },
        py::arg("rows"), py::arg("cols"), py::arg("nrows"), py::arg("K"),
        "row_ptr from (row, col) int64 coordinates sorted by (row, col), unique, in range (else ValueError).");

    m.def(
        "csr_conv_transpose",
        [](py::object rp, py::object col, py::tuple wshape, int64_t stride) {
            auto ws = shape4(wshape, "weight_shape");
            positive(stride, "stride");
            Csr c = check_csr(rp, col, ws[0], ws[1] * ws[2] * ws[3]);
            const int64_t nrows = ws[1] * stride * stride;
            auto tptr = new_i32(nrows + 1), tsrc = new_i32(c.nnz), tco = new_i32(c.nnz), ttap = new_i32(c.nnz);
            csrfmt::conv_transpose(c.row_ptr.data(), c.col.data(), ws[0], ws[1], ws[2], ws[3], stride,
                                   tptr.mutable_data(), tsrc.mutable_data(), tco.mutable_data(), ttap.mutable_data());
            return py::make_tuple(tptr, tsrc, tco, ttap);
        },
        py::arg("row_ptr"), py::arg("col_idx"), py::arg("weight_shape"), py::arg("stride"),
        "Transposed structure (tptr, tsrc, tco, ttap) for backward-data: rows (ci, (i%s)*s + j%s).");

    m.def(
        "csr_conv_forward",
        [](py::object rp, py::object col, py::object v, py::object x_obj, py::tuple wshape, int64_t stride,
           int64_t padding, py::object isa, int threads) {
            auto ws = shape4(wshape, "weight_shape");
            auto x = typed<float>(x_obj, "x", 4);
            ConvGeometry g = conv_shape(dims(x), ws, stride, padding);
            Csr c = check_csr(rp, col, ws[0], ws[1] * ws[2] * ws[3]);
            auto val = check_values(v, c.nnz);
            auto o = call_opts(isa, threads);
            auto y = new_f32({py::ssize_t(g.N), py::ssize_t(g.Cout), py::ssize_t(g.Ho), py::ssize_t(g.Wo)});
            {
                py::gil_scoped_release nogil;
                csr_conv_forward(Isa(o.isa), g, c.row_ptr.data(), c.col.data(), val.data(), x.data(),
                                                 y.mutable_data(), o.threads);
            }
            return y;
        },
        py::arg("row_ptr"), py::arg("col_idx"), py::arg("values"), py::arg("x"), py::arg("weight_shape"),
        py::arg("stride"), py::arg("padding"), py::kw_only(), py::arg("isa") = py::none(), py::arg("threads") = 0,
        "Direct sparse convolution y = conv2d(x, W_csr, stride, padding) (groups = 1, dilation = 1).");

    m.def(
        "csr_conv_backward_data",
        [](py::object v, py::object tptr, py::object tsrc, py::object tco, py::object ttap, py::object dy_obj,
           py::tuple xshape, py::tuple wshape, int64_t stride, int64_t padding, py::object isa, int threads) {
            auto ws = shape4(wshape, "weight_shape");
            auto xs = shape4(xshape, "x_shape");
            ConvGeometry g = conv_shape(xs, ws, stride, padding);
            auto dy = typed<float>(dy_obj, "dy", 4);
            require_shape(dy, "dy", {py::ssize_t(g.N), py::ssize_t(g.Cout), py::ssize_t(g.Ho), py::ssize_t(g.Wo)});
            auto val = typed<float>(v, "values", 1);
            const int64_t nnz = val.shape(0);
            Trans T = check_trans(tptr, tsrc, tco, ttap, g.Cin * stride * stride, nnz, g.Cout, g.kh * g.kw);
            auto o = call_opts(isa, threads);
            auto dx = new_f32({py::ssize_t(g.N), py::ssize_t(g.Cin), py::ssize_t(g.H), py::ssize_t(g.W)});
            {
                py::gil_scoped_release nogil;
                csr_conv_backward_data(Isa(o.isa), g, T.ptr.data(), T.src.data(), T.co.data(), T.tap.data(),
                                                       val.data(), dy.data(), dx.mutable_data(), o.threads);
            }
            return dx;
        },
        py::arg("values"), py::arg("tptr"), py::arg("tsrc"), py::arg("tco"), py::arg("ttap"), py::arg("dy"),
        py::arg("x_shape"), py::arg("weight_shape"), py::arg("stride"), py::arg("padding"), py::kw_only(),
        py::arg("isa") = py::none(), py::arg("threads") = 0,
        "dx = conv2d_input(x_shape, W_csr, dy): direct sparse transposed convolution with the transposed structure.");

    m.def(
        "csr_conv_weight_grad_sampled",
        [](py::object rp, py::object col, py::object x_obj, py::object dy_obj, py::tuple wshape, int64_t stride,
           int64_t padding, py::object isa, int threads) {
            auto ws = shape4(wshape, "weight_shape");
            auto x = typed<float>(x_obj, "x", 4);
            ConvGeometry g = conv_shape(dims(x), ws, stride, padding);
            auto dy = typed<float>(dy_obj, "dy", 4);
            require_shape(dy, "dy", {py::ssize_t(g.N), py::ssize_t(g.Cout), py::ssize_t(g.Ho), py::ssize_t(g.Wo)});
            Csr c = check_csr(rp, col, ws[0], ws[1] * ws[2] * ws[3]);
            auto o = call_opts(isa, threads);
            auto dv = new_f32({py::ssize_t(c.nnz)});
            {
                py::gil_scoped_release nogil;
                csr_conv_weight_grad_sampled(Isa(o.isa), g, c.row_ptr.data(), c.col.data(), x.data(), dy.data(),
                                                             dv.mutable_data(), o.threads);
            }
            return dv;
        },
        py::arg("row_ptr"), py::arg("col_idx"), py::arg("x"), py::arg("dy"), py::arg("weight_shape"),
        py::arg("stride"), py::arg("padding"), py::kw_only(), py::arg("isa") = py::none(), py::arg("threads") = 0,
        "SDDMM: conv2d_weight(x, W.shape, dy) sampled at the stored positions, in values order.");

    m.def(
        "csr_linear_forward",
        [](py::object rp, py::object col, py::object v, py::object x_obj, int64_t out_features, py::object isa,
           int threads) {
            auto x = typed<float>(x_obj, "x", 2);
            positive(out_features, "out_features", 0);
            const int64_t B = x.shape(0), in = x.shape(1);
            require_int32_extent(in * B + 4096, "in_features * batch");
            Csr c = check_csr(rp, col, out_features, in);
            auto val = check_values(v, c.nnz);
            auto o = call_opts(isa, threads);
            auto y = new_f32({py::ssize_t(B), py::ssize_t(out_features)});
            {
                py::gil_scoped_release nogil;
                csr_linear_forward(Isa(o.isa), B, in, out_features, c.row_ptr.data(), c.col.data(), val.data(),
                                                   x.data(), y.mutable_data(), o.threads);
            }
            return y;
        },
        py::arg("row_ptr"), py::arg("col_idx"), py::arg("values"), py::arg("x"), py::arg("out_features"),
        py::kw_only(), py::arg("isa") = py::none(), py::arg("threads") = 0, "y = x @ W_csr^T.");

    m.def(
        "csr_linear_backward_data",
        [](py::object v, py::object tptr, py::object tsrc, py::object tco, py::object dy_obj, int64_t in_features,
           py::object isa, int threads) {
            auto dy = typed<float>(dy_obj, "dy", 2);
            positive(in_features, "in_features", 0);
            const int64_t B = dy.shape(0), out = dy.shape(1);
            require_int32_extent(out * B + 4096, "out_features * batch");
            auto val = typed<float>(v, "values", 1);
            const int64_t nnz = val.shape(0);
            Trans T = check_trans(tptr, tsrc, tco, py::none(), in_features, nnz, out, 1);
            auto o = call_opts(isa, threads);
            auto dx = new_f32({py::ssize_t(B), py::ssize_t(in_features)});
            {
                py::gil_scoped_release nogil;
                csr_linear_backward_data(Isa(o.isa), B, in_features, out, T.ptr.data(), T.src.data(),
                                                         T.co.data(), val.data(), dy.data(), dx.mutable_data(),
                                                         o.threads);
            }
            return dx;
        },
        py::arg("values"), py::arg("tptr"), py::arg("tsrc"), py::arg("tco"), py::arg("dy"), py::arg("in_features"),
        py::kw_only(), py::arg("isa") = py::none(), py::arg("threads") = 0, "dx = dy @ W_csr (transposed structure).");

    m.def(
        "csr_linear_weight_grad_sampled",
        [](py::object rp, py::object col, py::object x_obj, py::object dy_obj, py::object isa, int threads) {
            auto x = typed<float>(x_obj, "x", 2);
            auto dy = typed<float>(dy_obj, "dy", 2);
            if (dy.shape(0) != x.shape(0))
                throw py::value_error("dy has batch " + std::to_string(dy.shape(0)) + " but x has " +
                                      std::to_string(x.shape(0)));
            const int64_t B = x.shape(0), in = x.shape(1), out = dy.shape(1);
            require_int32_extent((in + 1) * (B + 64), "in_features * batch");
            Csr c = check_csr(rp, col, out, in);
            auto o = call_opts(isa, threads);
            auto dv = new_f32({py::ssize_t(c.nnz)});
            {
                py::gil_scoped_release nogil;
                csr_linear_weight_grad_sampled(Isa(o.isa), B, in, out, c.row_ptr.data(), c.col.data(), x.data(),
                                                               dy.data(), dv.mutable_data(), o.threads);
            }
            return dv;
        },
        py::arg("row_ptr"), py::arg("col_idx"), py::arg("x"), py::arg("dy"), py::kw_only(),
        py::arg("isa") = py::none(), py::arg("threads") = 0, "SDDMM: (dy^T @ x) at the stored positions.");

    m.def(
        "select_smallest_mask",
        [](py::object s_obj, int64_t nzero) {
            auto s = typed<float>(s_obj, "scores", -1);
            const int64_t n = s.size();
            if (nzero < 0 || nzero > n)
                throw py::value_error("nzero must be in [0, " + std::to_string(n) + "], got " + std::to_string(nzero));
            const float* sp = s.data();
            for (int64_t i = 0; i < n; ++i)
                if (sp[i] != sp[i]) throw py::value_error("scores must not contain NaN");
            py::array_t<uint8_t> keep(std::vector<py::ssize_t>(s.shape(), s.shape() + s.ndim()));
            uint8_t* kp = keep.mutable_data();
            {
                py::gil_scoped_release nogil;
                csrfmt::select_smallest(sp, n, nzero, kp);
            }
            return keep;
        },
        py::arg("scores"), py::arg("nzero"),
        "uint8 keep-mask zeroing the nzero smallest scores (ties: lower flat index first).");
}

}  // namespace sb::bind
