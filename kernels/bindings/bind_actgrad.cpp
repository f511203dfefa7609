#include <cmath>

#include "../actgrad/actgrad.hpp"
#include "checks.hpp"

namespace sb::bind {

void bind_actgrad(py::module_& m) {
    m.def(
        "abs_sum",
        [](py::object g_obj, py::object isa, int threads) {
            auto g = typed<float>(g_obj, "g");
            auto o = call_opts(isa, threads);
            const float* gp = g.data();
            const int64_t n = g.size();
            py::gil_scoped_release nogil;
            return actgrad_for(Isa(o.isa)).abs_sum(gp, n, o.threads);
        },
        py::arg("g"), py::kw_only(), py::arg("isa") = py::none(), py::arg("threads") = 0,
        "Deterministic sum of |g| in float64 (block/lane order fixed, see reduce.hpp).");

    m.def(
        "dbtd_threshold",
        [](py::object g_obj, double z, py::object isa, int threads) {
            auto g = typed<float>(g_obj, "g");
            if (!(z >= 0.0) || !std::isfinite(z)) throw py::value_error("z must be finite and >= 0");
            auto o = call_opts(isa, threads);
            const float* gp = g.data();
            const int64_t n = g.size();
            double total;
            {
                py::gil_scoped_release nogil;
                total = actgrad_for(Isa(o.isa)).abs_sum(gp, n, o.threads);
            }
            if (n == 0) return 0.0f;
            // Same operation order as sparsebench.methods.actgrad.reference.dbtd_threshold.
            const double sigma = std::sqrt(M_PI / 2.0) * (total / double(n));
            return static_cast<float>(z * sigma);
        },
        py::arg("g"), py::arg("z"), py::kw_only(), py::arg("isa") = py::none(), py::arg("threads") = 0,
        "tau = z * sqrt(pi/2) * mean|g| with z = Phi^-1((1 + p) / 2) given by the caller.");

    m.def(
        "stochastic_prune",
        [](py::object g_obj, float tau, uint64_t seed, py::object out_obj, py::object isa, int threads) {
            auto g = typed<float>(g_obj, "g");
            if (!(tau >= 0.0f) || !std::isfinite(tau)) throw py::value_error("tau must be finite and >= 0");
            py::array_t<float> out;
            if (out_obj.is_none()) {
                std::vector<py::ssize_t> shape(g.shape(), g.shape() + g.ndim());
                out = py::array_t<float>(shape);
            } else {
                out = typed<float>(out_obj, "out", -1, true);
                require_shape(out, "out", std::vector<py::ssize_t>(g.shape(), g.shape() + g.ndim()));
            }
            auto o = call_opts(isa, threads);
            const float* gp = g.data();
            float* op = out.mutable_data();
            const int64_t n = g.size();
            int64_t nnz;
            {
                py::gil_scoped_release nogil;
                nnz = actgrad_for(Isa(o.isa)).stochastic_prune(gp, op, n, tau, seed, o.threads);
            }
            return py::make_tuple(out, nnz);
        },
        py::arg("g"), py::arg("tau"), py::arg("seed"), py::kw_only(), py::arg("out") = py::none(),
        py::arg("isa") = py::none(), py::arg("threads") = 0,
        "Stochastic pruning below tau with the counter-based RNG; returns (out, nnz).");
}

}  // namespace sb::bind
