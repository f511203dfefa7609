#include <cmath>
#include <stdexcept>

#include "../terngrad/terngrad.hpp"
#include "checks.hpp"

namespace sb::bind {

namespace {

int scaler_mode(const std::string& mode) {
    if (mode == "max") return 0;
    if (mode == "std") return 1;
    throw py::value_error("mode must be 'max' or 'std', got '" + mode + "'");
}

}  // namespace

void bind_terngrad(py::module_& m) {
    m.def(
        "terngrad_stats",
        [](py::object g_obj, py::object isa, int threads) {
            auto g = typed<float>(g_obj, "g");
            auto o = call_opts(isa, threads);
            const float* gp = g.data();
            const int64_t n = g.size();
            TernStats st;
            {
                py::gil_scoped_release nogil;
                st = terngrad_for(Isa(o.isa)).stats(gp, n, true, o.threads);
            }
            return py::make_tuple(st.sum, st.sumsq, st.maxabs, st.nonfinite);
        },
        py::arg("g"), py::kw_only(), py::arg("isa") = py::none(), py::arg("threads") = 0,
        "(sum g, sum g^2 in float64, max |g| over finite values, count of NaN / Inf), fixed reduction order.");

    m.def(
        "terngrad_scaler",
        [](py::object g_obj, const std::string& mode, double c, py::object isa, int threads) {
            auto g = typed<float>(g_obj, "g");
            const int md = scaler_mode(mode);
            if (!(c > 0.0) || !std::isfinite(c)) throw py::value_error("c must be finite and > 0");
            auto o = call_opts(isa, threads);
            const float* gp = g.data();
            const int64_t n = g.size();
            const auto& k = terngrad_for(Isa(o.isa));
            TernStats st;
            {
                py::gil_scoped_release nogil;
                st = k.stats(gp, n, md == 1, o.threads);
            }
            return py::make_tuple(k.scaler(st, n, md, c), st.nonfinite);
        },
        py::arg("g"), py::arg("mode") = "max", py::arg("c") = 2.5, py::kw_only(), py::arg("isa") = py::none(),
        py::arg("threads") = 0,
        "(s, nonfinite): s = max|g| ('max') or min(c * std(g), max|g|) ('std'; max|g| when c * std is 0).");

    m.def(
        "ternarize_pack",
        [](py::object g_obj, float s, uint64_t seed, py::object out_obj, py::object isa, int threads) {
            auto g = typed<float>(g_obj, "g");
            if (!(s >= 0.0f) || !std::isfinite(s)) throw py::value_error("scale must be finite and >= 0");
            const int64_t n = g.size();
            py::array_t<uint8_t> out;
            if (out_obj.is_none()) {
                out = py::array_t<uint8_t>(static_cast<py::ssize_t>(packed_bytes(n)));
            } else {
                out = typed<uint8_t>(out_obj, "out", 1, true);
                require_shape(out, "out", {static_cast<py::ssize_t>(packed_bytes(n))});
            }
            auto o = call_opts(isa, threads);
            const float* gp = g.data();
            uint8_t* op = out.mutable_data();
            py::gil_scoped_release nogil;
            terngrad_for(Isa(o.isa)).ternarize_pack(gp, n, s, seed, op, o.threads);
            return out;
        },
        py::arg("g"), py::arg("scale"), py::arg("seed"), py::kw_only(), py::arg("out") = py::none(),
        py::arg("isa") = py::none(), py::arg("threads") = 0,
        "Stochastic ternarization fused with 2-bit packing: (n + 3) // 4 bytes, code sign + 1, 4 a byte.");

    m.def(
        "terngrad_decode",
        [](py::object packed_obj, int64_t n, float scale, int64_t offset, py::object out_obj, bool accumulate,
           py::object isa, int threads) {
            auto p = typed<uint8_t>(packed_obj, "packed");
            if (p.ndim() != 1 && p.ndim() != 2)
                throw py::value_error("packed must be 1-D (bytes) or 2-D (ranks, bytes), got " +
                                      std::to_string(p.ndim()) + "-D");
            if (!std::isfinite(scale)) throw py::value_error("scale must be finite");
            const int64_t rows = p.ndim() == 2 ? p.shape(0) : 1;
            const int64_t row_bytes = p.ndim() == 2 ? p.shape(1) : p.shape(0);
            if (rows < 1) throw py::value_error("packed must hold at least one row (rank)");
            try {
                check_decode_range(row_bytes, offset, n);
            } catch (std::invalid_argument& e) {
                throw py::value_error(e.what());
            }
            py::array_t<float> out;
            if (out_obj.is_none()) {
                if (accumulate) throw py::value_error("accumulate=True needs out");
                out = py::array_t<float>(static_cast<py::ssize_t>(n));
            } else {
                out = typed<float>(out_obj, "out", -1, true);
                if (out.size() != n)
                    throw py::value_error("out must hold n = " + std::to_string(n) + " values, got " +
                                          std::to_string(out.size()));
            }
            auto o = call_opts(isa, threads);
            const uint8_t* pp = p.data() + offset;
            float* op = out.mutable_data();
            py::gil_scoped_release nogil;
            terngrad_for(Isa(o.isa)).decode(pp, rows, row_bytes, n, scale, op, accumulate, o.threads);
            return out;
        },
        py::arg("packed"), py::arg("n"), py::arg("scale"), py::kw_only(), py::arg("offset") = 0,
        py::arg("out") = py::none(), py::arg("accumulate") = false, py::arg("isa") = py::none(),
        py::arg("threads") = 0,
        "out_i (+)= float(sum over rows of (code_i - 1)) * scale, reading each row from byte offset.");
}

}  // namespace sb::bind
