#include "../update/update.hpp"
#include "checks.hpp"

namespace sb::bind {

void bind_update(py::module_& m) {
    m.def(
        "sparse_sgd_update",
        [](py::object w_obj, py::object g_obj, py::object buf_obj, float lr, float momentum, float weight_decay,
           py::object isa, int threads) {
            auto w = typed<float>(w_obj, "values", 1, true);
            auto g = typed<float>(g_obj, "grad", 1);
            auto buf = typed<float>(buf_obj, "momentum_buf", 1, true);
            require_shape(g, "grad", {w.shape(0)});
            require_shape(buf, "momentum_buf", {w.shape(0)});
            if (w.data() == buf.data()) throw py::value_error("values and momentum_buf must not alias");
            auto o = call_opts(isa, threads);
            float* wp = w.mutable_data();
            float* bp = buf.mutable_data();
            const float* gp = g.data();
            const int64_t n = w.size();
            py::gil_scoped_release nogil;
            update_for(Isa(o.isa)).sgd_momentum(wp, gp, bp, n, lr, momentum, weight_decay, o.threads);
        },
        py::arg("values"), py::arg("grad"), py::arg("momentum_buf"), py::kw_only(), py::arg("lr"),
        py::arg("momentum") = 0.0f, py::arg("weight_decay") = 0.0f, py::arg("isa") = py::none(),
        py::arg("threads") = 0,
        "In-place torch.optim.SGD step on stored values of any scheme: d = g + wd*w; buf = m*buf + d; w -= lr*buf.");
}

}  // namespace sb::bind
