// SSL group norms, group-Lasso update and the im2col column gather (kernels/ssl/ssl.hpp):
// argument conversion and validation, then the family's entry point.
#include <algorithm>
#include <cmath>
#include <string>

#include "../ssl/ssl.hpp"
#include "checks.hpp"

namespace sb::bind {
namespace {

struct Lowered {
    int64_t R, K, taps, C;  // C: input channels (Cin; a linear layer's inputs), also where taps = 0
};

// A weight viewed as the lowered (filters x Cin * taps) matrix: 2-D (linear, taps 1) or 4-D conv.
Lowered lowered(const py::array& w) {
    if (w.ndim() == 2) return {w.shape(0), w.shape(1), 1, w.shape(1)};
    if (w.ndim() == 4)
        return {w.shape(0), w.shape(1) * w.shape(2) * w.shape(3), w.shape(2) * w.shape(3), w.shape(1)};
    throw py::value_error("weight must be 2-D (out, in) or 4-D (out, in, kh, kw), got " + std::to_string(w.ndim()) +
                          "-D");
}

SslLambdas lambdas(float rows, float cols, float chans, float depth) {
    const char* names[4] = {"lam_rows", "lam_cols", "lam_chans", "lam_depth"};
    const float v[4] = {rows, cols, chans, depth};
    for (int i = 0; i < 4; ++i)
        if (!(v[i] >= 0.0f) || !std::isfinite(v[i]))
            throw py::value_error(std::string(names[i]) + " must be a finite number >= 0, got " + std::to_string(v[i]));
    return {rows, cols, chans, depth};
}

}  // namespace

void bind_ssl(py::module_& m) {
    m.def(
        "ssl_prox",
        [](py::object w_obj, float lr, float lam_rows, float lam_cols, float lam_chans, float lam_depth,
           float zero_below, py::object isa, int threads) {
            auto w = typed<float>(w_obj, "weight", -1, true);
            const Lowered l = lowered(w);
            const SslLambdas lam = lambdas(lam_rows, lam_cols, lam_chans, lam_depth);
            if (!(lr >= 0.0f) || !std::isfinite(lr)) throw py::value_error("lr must be a finite number >= 0");
            if (!(zero_below >= 0.0f)) throw py::value_error("zero_below must be >= 0");
            auto o = call_opts(isa, threads);
            float* p = w.mutable_data();
            py::gil_scoped_release nogil;
            ssl_prox(Isa(o.isa), p, l.R, l.K, l.taps, lr, lam, zero_below, o.threads);
        },
        py::arg("weight"), py::kw_only(), py::arg("lr"), py::arg("lam_rows") = 0.0f, py::arg("lam_cols") = 0.0f,
        py::arg("lam_chans") = 0.0f, py::arg("lam_depth") = 0.0f, py::arg("zero_below") = 1e-4f,
        py::arg("isa") = py::none(), py::arg("threads") = 0,
        "In place: group-Lasso proximal step (rows, then columns, channels, depth), then |w| < zero_below -> 0.");
    m.def(
        "ssl_subgrad",
        [](py::object w_obj, py::object g_obj, float lam_rows, float lam_cols, float lam_chans, float lam_depth,
           py::object isa, int threads) {
            auto w = typed<float>(w_obj, "weight");
            auto g = typed<float>(g_obj, "grad", -1, true);
            const Lowered l = lowered(w);
            std::vector<py::ssize_t> shape(w.shape(), w.shape() + w.ndim());
            require_shape(g, "grad", shape);
            if (w.data() == g.data()) throw py::value_error("weight and grad must not alias");
            const SslLambdas lam = lambdas(lam_rows, lam_cols, lam_chans, lam_depth);
            auto o = call_opts(isa, threads);
            const float* wp = w.data();
            float* gp = g.mutable_data();
            py::gil_scoped_release nogil;
            ssl_subgrad(Isa(o.isa), wp, gp, l.R, l.K, l.taps, lam, o.threads);
        },
        py::arg("weight"), py::arg("grad"), py::kw_only(), py::arg("lam_rows") = 0.0f, py::arg("lam_cols") = 0.0f,
        py::arg("lam_chans") = 0.0f, py::arg("lam_depth") = 0.0f, py::arg("isa") = py::none(), py::arg("threads") = 0,
        "In place on grad: += sum over group kinds lambda * w / ||w_g|| (0 for all-zero groups).");
    m.def(
        "ssl_group_norms",
        [](py::object w_obj, int kind, py::object isa, int threads) {
            auto w = typed<float>(w_obj, "weight");
            const Lowered l = lowered(w);
            if (kind < 0 || kind > 3) throw py::value_error("kind must be 0 (rows), 1 (columns), 2 (channels) or 3 (depth)");
            // channels counted from the shape, not K / taps: a 0 x 0 kernel has Cin empty channels (norm 0)
            const int64_t n = kind == 0 ? l.R : kind == 1 ? l.K : kind == 2 ? l.C : 1;
            py::array_t<float> out(n);
            std::fill_n(out.mutable_data(), n, 0.0f);
            auto o = call_opts(isa, threads);
            const float* wp = w.data();
            float* op = out.mutable_data();
            {
                py::gil_scoped_release nogil;
                ssl_group_norms(Isa(o.isa), wp, l.R, l.K, l.taps, kind, op, o.threads);
            }
            return out;
        },
        py::arg("weight"), py::arg("kind"), py::kw_only(), py::arg("isa") = py::none(), py::arg("threads") = 0,
        "L2 norms of one group kind of the lowered weight: 0 rows, 1 columns, 2 channels, 3 depth.");
    m.def(
        "ssl_gather_cols",
        [](py::object x_obj, py::object cols_obj, int64_t kh, int64_t kw, int64_t stride, int64_t padding,
           py::object out_obj, py::object isa, int threads) {
            auto x = typed<float>(x_obj, "x", 4);
            auto cols = typed<int32_t>(cols_obj, "cols", 1);
            if (kh < 1 || kw < 1) throw py::value_error("kh and kw must be >= 1");
            if (stride < 1) throw py::value_error("stride must be >= 1");
            if (padding < 0) throw py::value_error("padding must be >= 0");
            const int64_t N = x.shape(0), C = x.shape(1), H = x.shape(2), Wd = x.shape(3);
            const int64_t Ho = (H + 2 * padding - kh) / stride + 1, Wo = (Wd + 2 * padding - kw) / stride + 1;
            if (H + 2 * padding < kh || Wd + 2 * padding < kw || Ho < 1 || Wo < 1)
                throw py::value_error("x: the padded input is smaller than the kernel");
            const int64_t K = C * kh * kw, nc = cols.shape(0);
            const int32_t* cp = cols.data();
            for (int64_t i = 0; i < nc; ++i)
                if (cp[i] < 0 || cp[i] >= K)
                    throw py::value_error("cols[" + std::to_string(i) + "] = " + std::to_string(cp[i]) +
                                          " out of range [0, " + std::to_string(K) + ")");
            auto out = typed<float>(out_obj, "out", 3, true);
            require_shape(out, "out", {N, nc, Ho * Wo});
            auto o = call_opts(isa, threads);
            const float* xp = x.data();
            float* op = out.mutable_data();
            py::gil_scoped_release nogil;
            ssl_for(Isa(o.isa)).gather_cols(xp, N, C, H, Wd, kh, kw, stride, padding, Ho, Wo, cp, nc, op, o.threads);
        },
        py::arg("x"), py::arg("cols"), py::kw_only(), py::arg("kh"), py::arg("kw"), py::arg("stride") = 1,
        py::arg("padding") = 0, py::arg("out"), py::arg("isa") = py::none(), py::arg("threads") = 0,
        "out (N, len(cols), Ho*Wo): the im2col rows of the kept lowered-weight columns cols (c * kh * kw + tap).");
}

}  // namespace sb::bind
