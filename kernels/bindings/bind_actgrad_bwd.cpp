// Bindings of the activation-gradient pruning backward path (kernels/actgrad/actgrad_bwd.hpp).
#include <cmath>
#include <cstdlib>
#include <string>

#include "../actgrad/actgrad_bwd.hpp"
#include <pybind11/stl.h>

#include "checks.hpp"

namespace sb::bind {

namespace {

struct Compressed {
    py::array_t<uint64_t> bits;
    py::array_t<float> vals;
    py::array_t<int64_t> rowptr;
    RowBitmap view;
};

template <typename T>
py::array_t<T> typed_u(py::handle obj, const char* name, int ndim) {
    py::array a = as_array(obj, name);
    if (!a.dtype().is(py::dtype::of<T>()))
        throw py::type_error(std::string(name) + " must have dtype " + (sizeof(T) == 8 ? "uint64" : "?") + ", got " +
                             std::string(py::str(a.dtype())));
    if (a.ndim() != ndim)
        throw py::value_error(std::string(name) + " must be " + std::to_string(ndim) + "-D, got " +
                              std::to_string(a.ndim()) + "-D");
    if (!(a.flags() & py::array::c_style)) throw py::value_error(std::string(name) + " must be C-contiguous");
    return py::reinterpret_borrow<py::array_t<T>>(a);
}

// Checks a row-bitmap gradient of logical shape (R, C) completely: shapes, dtypes, rowptr
// monotone from 0 to nnz, per-row popcount == rowptr difference, no bits past column C-1.
Compressed check_rowbitmap(py::object bits_o, py::object vals_o, py::object rowptr_o, int64_t R, int64_t C) {
    Compressed c;
    c.bits = typed_u<uint64_t>(bits_o, "bits", 2);
    c.vals = typed<float>(vals_o, "values", 1);
    c.rowptr = typed<int64_t>(rowptr_o, "rowptr", 1);
    const int64_t wpr = (C + 63) / 64;
    require_shape(c.bits, "bits", {R, wpr});
    require_shape(c.rowptr, "rowptr", {R + 1});
    const int64_t* rp = c.rowptr.data();
    const uint64_t* b = c.bits.data();
    if (rp[0] != 0) throw py::value_error("rowptr[0] must be 0");
    if (rp[R] != c.vals.size())
        throw py::value_error("rowptr[-1] = " + std::to_string(rp[R]) + " must equal len(values) = " +
                              std::to_string(c.vals.size()));
    const uint64_t tail = (C % 64) ? ((uint64_t(1) << (C % 64)) - 1) : ~uint64_t(0);
    for (int64_t r = 0; r < R; ++r) {
        if (rp[r + 1] < rp[r]) throw py::value_error("rowptr must be non-decreasing (row " + std::to_string(r) + ")");
        int64_t cnt = 0;
        for (int64_t w = 0; w < wpr; ++w) cnt += __builtin_popcountll(b[r * wpr + w]);
        if (wpr > 0 && (b[r * wpr + wpr - 1] & ~tail))
            throw py::value_error("bits: row " + std::to_string(r) + " has bits set past column " +
                                  std::to_string(C - 1));
        if (cnt != rp[r + 1] - rp[r])
            throw py::value_error("bits: row " + std::to_string(r) + " has " + std::to_string(cnt) +
                                  " set bits but rowptr gives " + std::to_string(rp[r + 1] - rp[r]) + " values");
    }
    c.view = {b, c.vals.data(), rp, R, C, wpr};
    return c;
}

std::pair<int64_t, int64_t> pair_arg(py::handle o, const char* name, int64_t lo) {
    int64_t a, b;
    if (py::isinstance<py::int_>(o)) {
        a = b = o.cast<int64_t>();
    } else if (py::isinstance<py::tuple>(o) || py::isinstance<py::list>(o)) {
        auto s = py::reinterpret_borrow<py::sequence>(o);
        if (s.size() != 2) throw py::value_error(std::string(name) + " must be an int or a pair of ints");
        a = s[0].cast<int64_t>();
        b = s[1].cast<int64_t>();
    } else {
        throw py::type_error(std::string(name) + " must be an int or a pair of ints");
    }
    if (a < lo || b < lo) throw py::value_error(std::string(name) + " must be >= " + std::to_string(lo));
    return {a, b};
}

std::vector<int64_t> shape_arg(py::handle o, const char* name, size_t n) {
    auto v = o.cast<std::vector<int64_t>>();
    if (v.size() != n) throw py::value_error(std::string(name) + " must have " + std::to_string(n) + " entries");
    for (auto x : v)
        if (x < 0) throw py::value_error(std::string(name) + " entries must be >= 0");
    return v;
}

// Conv geometry from the gradient shape (N, Cout, Ho, Wo), the input spatial size and the kernel.
ConvGeometry conv_shape(const std::vector<int64_t>& gs, int64_t cin, int64_t h, int64_t w, int64_t kh, int64_t kw,
                        py::handle stride, py::handle padding) {
    auto st = pair_arg(stride, "stride", 1);
    auto pd = pair_arg(padding, "padding", 0);
    if (kh < 1 || kw < 1) throw py::value_error("kernel size must be >= 1");
    const ConvGeometry s = ConvGeometry::make(gs[0], cin, h, w, gs[1], kh, kw, st.first, st.second, pd.first, pd.second);
    if (s.Ho != gs[2] || s.Wo != gs[3])
        throw py::value_error("grad_shape spatial size (" + std::to_string(gs[2]) + ", " + std::to_string(gs[3]) +
                              ") does not match the conv output (" + std::to_string(s.Ho) + ", " +
                              std::to_string(s.Wo) + ")");
    require_int32_extent(s.Cout, "Cout");
    require_int32_extent(s.N * s.Ho * s.Wo, "N*Ho*Wo");
    return s;
}

}  // namespace

void bind_actgrad_bwd(py::module_& m) {
    m.def(
        "prune_compress",
        [](py::object g_obj, float tau, uint64_t seed, py::object isa, int threads) {
            auto g = typed<float>(g_obj, "g", 2);
            if (!(tau >= 0.0f) || !std::isfinite(tau)) throw py::value_error("tau must be finite and >= 0");
            auto o = call_opts(isa, threads);
            const int64_t R = g.shape(0), C = g.shape(1), wpr = (C + 63) / 64;
            py::array_t<uint64_t> bits({R, wpr});
            py::array_t<int64_t> rowptr({R + 1});
            // values: capacity for the densest case, written in per-thread regions; shrunk in
            // place (realloc) to nnz afterwards. Pages never written are never touched.
            const size_t cap = size_t(R * C) + size_t(o.threads + 1) * 16;
            float* vals = static_cast<float*>(std::malloc(cap * sizeof(float)));
            if (!vals) throw std::bad_alloc();
            const float* gp = g.data();
            uint64_t* bp = bits.mutable_data();
            int64_t* rp = rowptr.mutable_data();
            int64_t nnz;
            {
                py::gil_scoped_release nogil;
                nnz = actgrad_bwd_for(Isa(o.isa)).prune_compress(gp, R, C, tau, seed, bp, vals, rp, o.threads);
            }
            float* shrunk = static_cast<float*>(std::realloc(vals, std::max<size_t>(size_t(nnz), 1) * sizeof(float)));
            if (shrunk) vals = shrunk;
            py::capsule owner(vals, [](void* p) { std::free(p); });
            py::array_t<float> values({nnz}, {sizeof(float)}, vals, owner);
            return py::make_tuple(bits, values, rowptr);
        },
        py::arg("g"), py::arg("tau"), py::arg("seed"), py::kw_only(), py::arg("isa") = py::none(),
        py::arg("threads") = 0,
        "Stochastic pruning of the 2-D g (R, C) fused with compression: returns (bits uint64 (R, ceil(C/64)), "
        "values float32 (nnz,), rowptr int64 (R+1,)).");

    m.def(
        "conv2d_backward_data",
        [](py::object w_obj, py::object bits, py::object vals, py::object rowptr, py::object grad_shape,
           py::object input_hw, py::object stride, py::object padding, py::object isa, int threads) {
            auto w = typed<float>(w_obj, "weight", 4);
            auto gs = shape_arg(grad_shape, "grad_shape", 4);
            auto hw = shape_arg(input_hw, "input_hw", 2);
            if (w.shape(0) != gs[1])
                throw py::value_error("weight.shape[0] = " + std::to_string(w.shape(0)) +
                                      " must equal grad_shape[1] = " + std::to_string(gs[1]));
            ConvGeometry s = conv_shape(gs, w.shape(1), hw[0], hw[1], w.shape(2), w.shape(3), stride, padding);
            auto c = check_rowbitmap(bits, vals, rowptr, gs[0] * gs[1], gs[2] * gs[3]);
            auto o = call_opts(isa, threads);
            py::array_t<float> dx({s.N, s.Cin, s.H, s.W});
            float* dp = dx.mutable_data();
            const float* wp = w.data();
            {
                py::gil_scoped_release nogil;
                actgrad_bwd_for(Isa(o.isa)).conv_dx(wp, c.view, s, dp, o.threads);
            }
            return dx;
        },
        py::arg("weight"), py::arg("bits"), py::arg("values"), py::arg("rowptr"), py::arg("grad_shape"),
        py::arg("input_hw"), py::arg("stride") = 1, py::arg("padding") = 0, py::kw_only(),
        py::arg("isa") = py::none(), py::arg("threads") = 0,
        "dX (N, Cin, H, W) of conv2d from a row-bitmap dO (rows (n, co), columns ho*Wo+wo).");

    m.def(
        "conv2d_weight_grad",
        [](py::object x_obj, py::object bits, py::object vals, py::object rowptr, py::object grad_shape,
           py::object kernel_hw, py::object stride, py::object padding, py::object isa, int threads) {
            auto x = typed<float>(x_obj, "input", 4);
            auto gs = shape_arg(grad_shape, "grad_shape", 4);
            auto k = shape_arg(kernel_hw, "kernel_hw", 2);
            if (x.shape(0) != gs[0])
                throw py::value_error("input.shape[0] = " + std::to_string(x.shape(0)) +
                                      " must equal grad_shape[0] = " + std::to_string(gs[0]));
            ConvGeometry s = conv_shape(gs, x.shape(1), x.shape(2), x.shape(3), k[0], k[1], stride, padding);
            auto c = check_rowbitmap(bits, vals, rowptr, gs[0] * gs[1], gs[2] * gs[3]);
            auto o = call_opts(isa, threads);
            py::array_t<float> dw({s.Cout, s.Cin, s.kh, s.kw});
            float* dp = dw.mutable_data();
            const float* xp = x.data();
            {
                py::gil_scoped_release nogil;
                actgrad_bwd_for(Isa(o.isa)).conv_dw(xp, c.view, s, dp, o.threads);
            }
            return dw;
        },
        py::arg("input"), py::arg("bits"), py::arg("values"), py::arg("rowptr"), py::arg("grad_shape"),
        py::arg("kernel_hw"), py::arg("stride") = 1, py::arg("padding") = 0, py::kw_only(),
        py::arg("isa") = py::none(), py::arg("threads") = 0,
        "dW (Cout, Cin, kh, kw) of conv2d from a row-bitmap dO and the stored input.");

    m.def(
        "linear_backward_data",
        [](py::object w_obj, py::object bits, py::object vals, py::object rowptr, py::object grad_shape,
           py::object isa, int threads) {
            auto w = typed<float>(w_obj, "weight", 2);
            auto gs = shape_arg(grad_shape, "grad_shape", 2);
            if (w.shape(0) != gs[1])
                throw py::value_error("weight.shape[0] = " + std::to_string(w.shape(0)) +
                                      " must equal grad_shape[1] = " + std::to_string(gs[1]));
            require_int32_extent(gs[0], "B");
            auto c = check_rowbitmap(bits, vals, rowptr, gs[0], gs[1]);
            auto o = call_opts(isa, threads);
            const int64_t cin = w.shape(1);
            py::array_t<float> dx({gs[0], cin});
            float* dp = dx.mutable_data();
            const float* wp = w.data();
            {
                py::gil_scoped_release nogil;
                actgrad_bwd_for(Isa(o.isa)).linear_dx(wp, c.view, cin, dp, o.threads);
            }
            return dx;
        },
        py::arg("weight"), py::arg("bits"), py::arg("values"), py::arg("rowptr"), py::arg("grad_shape"),
        py::kw_only(), py::arg("isa") = py::none(), py::arg("threads") = 0,
        "dX (B, Cin) = dO @ W from a row-bitmap dO (B, Cout).");

    m.def(
        "linear_weight_grad",
        [](py::object x_obj, py::object bits, py::object vals, py::object rowptr, py::object grad_shape,
           py::object isa, int threads) {
            auto x = typed<float>(x_obj, "input", 2);
            auto gs = shape_arg(grad_shape, "grad_shape", 2);
            if (x.shape(0) != gs[0])
                throw py::value_error("input.shape[0] = " + std::to_string(x.shape(0)) +
                                      " must equal grad_shape[0] = " + std::to_string(gs[0]));
            require_int32_extent(gs[0], "B");
            auto c = check_rowbitmap(bits, vals, rowptr, gs[0], gs[1]);
            auto o = call_opts(isa, threads);
            const int64_t cin = x.shape(1);
            py::array_t<float> dw({gs[1], cin});
            float* dp = dw.mutable_data();
            const float* xp = x.data();
            {
                py::gil_scoped_release nogil;
                actgrad_bwd_for(Isa(o.isa)).linear_dw(xp, c.view, cin, dp, o.threads);
            }
            return dw;
        },
        py::arg("input"), py::arg("bits"), py::arg("values"), py::arg("rowptr"), py::arg("grad_shape"),
        py::kw_only(), py::arg("isa") = py::none(), py::arg("threads") = 0,
        "dW (Cout, Cin) = dO^T @ X from a row-bitmap dO (B, Cout).");
}

}  // namespace sb::bind
