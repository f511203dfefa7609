#include "../mest/mest.hpp"
#include "checks.hpp"

namespace sb::bind {

void bind_mest(py::module_& m) {
    m.def(
        "mest_slot_scores",
        [](py::object w_obj, py::object g_obj, float lam, py::object isa, int threads) {
            auto w = typed<float>(w_obj, "values", 1);
            const float* gp = nullptr;
            py::array_t<float> g;
            if (!g_obj.is_none()) {
                g = typed<float>(g_obj, "grad", 1);
                require_shape(g, "grad", {w.shape(0)});
                gp = g.data();
            }
            if (!(lam >= 0.0f)) throw py::value_error("lam must be >= 0, got " + std::to_string(lam));
            auto o = call_opts(isa, threads);
            py::array_t<float> e(w.shape(0));
            const float* wp = w.data();
            float* ep = e.mutable_data();
            const int64_t n = w.size();
            {
                py::gil_scoped_release nogil;
                mest_for(Isa(o.isa)).slot_scores(wp, gp, lam, ep, n, o.threads);
            }
            return e;
        },
        py::arg("values"), py::arg("grad") = py::none(), py::kw_only(), py::arg("lam") = 0.0f,
        py::arg("isa") = py::none(), py::arg("threads") = 0,
        "MEST importance at stored slots: |w| + lam * |grad| (grad None: |w|), float32.");
    m.def(
        "mest_unit_scores",
        [](py::object e_obj, int64_t per_unit, py::object isa, int threads) {
            auto e = typed<float>(e_obj, "slot_scores", 1);
            if (per_unit < 1) throw py::value_error("per_unit must be >= 1, got " + std::to_string(per_unit));
            if (e.shape(0) % per_unit)
                throw py::value_error("slot_scores length " + std::to_string(e.shape(0)) +
                                      " is not a multiple of per_unit " + std::to_string(per_unit));
            auto o = call_opts(isa, threads);
            const int64_t nu = e.shape(0) / per_unit;
            py::array_t<double> out(nu);
            const float* ep = e.data();
            double* op = out.mutable_data();
            {
                py::gil_scoped_release nogil;
                mest_for(Isa(o.isa)).unit_scores(ep, nu, per_unit, op);
            }
            return out;
        },
        py::arg("slot_scores"), py::arg("per_unit"), py::kw_only(), py::arg("isa") = py::none(), py::arg("threads") = 0,
        "Per-unit score of consecutive runs of per_unit slots: the slot score (per_unit 1) or the sum of squares.");
    m.def(
        "mest_select_drop",
        [](py::object s_obj, py::object ids_obj, int64_t k, py::object isa, int threads) {
            auto s = typed<double>(s_obj, "scores", 1);
            auto ids = typed<int64_t>(ids_obj, "ids", 1);
            require_shape(ids, "ids", {s.shape(0)});
            if (k < 0 || k > s.shape(0))
                throw py::value_error("k must be in [0, " + std::to_string(s.shape(0)) + "], got " + std::to_string(k));
            auto o = call_opts(isa, threads);
            py::array_t<uint8_t> drop(s.shape(0));
            const double* sp = s.data();
            const int64_t* ip = ids.data();
            uint8_t* dp = drop.mutable_data();
            const int64_t n = s.shape(0);
            {
                py::gil_scoped_release nogil;
                mest_for(Isa(o.isa)).select_drop(sp, ip, n, k, dp);
            }
            return drop;
        },
        py::arg("scores"), py::arg("ids"), py::arg("k"), py::kw_only(), py::arg("isa") = py::none(), py::arg("threads") = 0,
        "uint8 flags of the k lowest-scored units (ties: lower id first).");
    m.def(
        "mest_grow_units",
        [](py::object kept_obj, int64_t n_units, int64_t k, uint64_t seed, py::object isa, int threads) {
            auto kept = typed<int64_t>(kept_obj, "kept", 1);
            const int64_t nk = kept.shape(0);
            if (n_units < nk) throw py::value_error("n_units must be >= the kept units");
            if (k < 0 || k > n_units - nk)
                throw py::value_error("k=" + std::to_string(k) + " must be in [0, free units = " +
                                      std::to_string(n_units - nk) + "]");
            const int64_t* kp = kept.data();
            for (int64_t i = 0; i < nk; ++i)
                if (kp[i] < 0 || kp[i] >= n_units) throw py::value_error("kept ids must be in [0, n_units)");
            auto o = call_opts(isa, threads);
            py::array_t<int64_t> out(k);
            int64_t* op = out.mutable_data();
            int rc;
            {
                py::gil_scoped_release nogil;
                rc = mest_for(Isa(o.isa)).grow_units(kp, nk, n_units, k, seed, op);
            }
            if (rc != 0) throw std::runtime_error("mest_grow_units: draw bound reached");
            return out;
        },
        py::arg("kept"), py::arg("n_units"), py::arg("k"), py::arg("seed"), py::kw_only(), py::arg("isa") = py::none(), py::arg("threads") = 0,
        "k distinct free unit ids (not in kept), drawn from the counter-based stream of seed, in draw order.");
    m.def(
        "mest_csr_rebuild",
        [](py::object rp_obj, py::object col_obj, py::object val_obj, py::object drop_obj, int64_t K,
           py::object grown_obj, py::object isa, int threads) {
            auto rp = typed<int32_t>(rp_obj, "row_ptr", 1);
            auto col = typed<int32_t>(col_obj, "col_idx", 1);
            auto val = typed<float>(val_obj, "values", 1);
            auto drop = typed<uint8_t>(drop_obj, "drop", 1);
            auto grown = typed<int64_t>(grown_obj, "grown", 1);
            const int64_t nnz = col.shape(0), rows = rp.shape(0) - 1, ng = grown.shape(0);
            if (rows < 0) throw py::value_error("row_ptr must hold rows + 1 entries");
            require_shape(val, "values", {nnz});
            require_shape(drop, "drop", {nnz});
            const int32_t* rpp = rp.data();
            if (rpp[0] != 0 || rpp[rows] != nnz) throw py::value_error("row_ptr does not match col_idx");
            const int64_t* gp = grown.data();
            for (int64_t i = 0; i < ng; ++i) {
                if (gp[i] < 0 || gp[i] >= rows * K) throw py::value_error("grown positions out of range");
                if (i && gp[i] <= gp[i - 1]) throw py::value_error("grown positions must be strictly increasing");
            }
            const uint8_t* dp = drop.data();
            int64_t nd = 0;
            for (int64_t i = 0; i < nnz; ++i) nd += dp[i] != 0;
            const int64_t n_new = nnz - nd + ng;
            require_int32_extent(n_new, "new nnz");
            auto o = call_opts(isa, threads);
            py::array_t<int32_t> nrp(rows + 1), ncol(n_new);
            py::array_t<float> nval(n_new);
            py::array_t<int64_t> src(n_new);
            const int32_t* cp = col.data();
            const float* vp = val.data();
            int32_t *nrpp = nrp.mutable_data(), *ncp = ncol.mutable_data();
            float* nvp = nval.mutable_data();
            int64_t* sp = src.mutable_data();
            {
                py::gil_scoped_release nogil;
                mest_for(Isa(o.isa)).csr_rebuild(rpp, cp, vp, dp, rows, K, gp, ng, nrpp, ncp, nvp, sp);
            }
            return py::make_tuple(nrp, ncol, nval, src);
        },
        py::arg("row_ptr"), py::arg("col_idx"), py::arg("values"), py::arg("drop"), py::arg("K"), py::arg("grown"),
        py::kw_only(), py::arg("isa") = py::none(), py::arg("threads") = 0,
        "CSR after dropping flagged slots and adding sorted grown positions (value 0): (row_ptr, col, values, src).");
}

}  // namespace sb::bind
