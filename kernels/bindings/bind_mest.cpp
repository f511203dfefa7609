#include <cmath>
#include <vector>

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
            py::array sa = as_array(s_obj, "scores");
            const bool f32 = sa.dtype().is(py::dtype::of<float>());
            if (!f32 && !sa.dtype().is(py::dtype::of<double>()))
                throw py::type_error("scores must have dtype float32 or float64, got " + std::string(py::str(sa.dtype())));
            py::array_t<float> s32;
            py::array_t<double> s64;
            int64_t n;
            if (f32) {
                s32 = typed<float>(s_obj, "scores", 1);
                n = s32.shape(0);
            } else {
                s64 = typed<double>(s_obj, "scores", 1);
                n = s64.shape(0);
            }
            py::array_t<int64_t> i64;
            py::array_t<int32_t> i32;
            const int64_t* ip64 = nullptr;
            const int32_t* ip32 = nullptr;
            if (!ids_obj.is_none()) {
                py::array ia = as_array(ids_obj, "ids");
                if (ia.dtype().is(py::dtype::of<int32_t>())) {
                    i32 = typed<int32_t>(ids_obj, "ids", 1);
                    require_shape(i32, "ids", {n});
                    ip32 = i32.data();
                } else {
                    i64 = typed<int64_t>(ids_obj, "ids", 1);
                    require_shape(i64, "ids", {n});
                    ip64 = i64.data();
                }
            }
            if (k < 0 || k > n)
                throw py::value_error("k must be in [0, " + std::to_string(n) + "], got " + std::to_string(k));
            const float* sp32 = f32 ? s32.data() : nullptr;
            const double* sp64 = f32 ? nullptr : s64.data();
            for (int64_t i = 0; i < n; ++i)
                if (f32 ? std::isnan(sp32[i]) : std::isnan(sp64[i]))
                    throw py::value_error("scores contain NaN: units cannot be ranked");
            auto o = call_opts(isa, threads);
            py::array_t<uint8_t> drop(n);
            uint8_t* dp = drop.mutable_data();
            {
                py::gil_scoped_release nogil;
                mest_for(Isa(o.isa)).select_drop(sp32, sp64, ip64, ip32, n, k, dp);
            }
            return drop;
        },
        py::arg("scores"), py::arg("ids") = py::none(), py::arg("k") = 0, py::kw_only(), py::arg("isa") = py::none(),
        py::arg("threads") = 0,
        "uint8 flags of the k lowest (score, id) units (scores float32 or float64; ids int64, int32 or None: the "
        "slot index); equal pairs: lower slot first.");
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
        "mest_grow_csr",
        [](py::object rp_obj, py::object col_obj, int64_t K, int64_t k, uint64_t seed, py::object isa, int threads) {
            auto rp = typed<int32_t>(rp_obj, "row_ptr", 1);
            auto col = typed<int32_t>(col_obj, "col_idx", 1);
            const int64_t rows = rp.shape(0) - 1, nnz = col.shape(0);
            if (rows < 0) throw py::value_error("row_ptr must hold rows + 1 entries");
            if (K < 0) throw py::value_error("K must be >= 0, got " + std::to_string(K));
            const int32_t* rpp = rp.data();
            const int32_t* cp = col.data();
            if (rpp[0] != 0 || rpp[rows] != nnz) throw py::value_error("row_ptr does not match col_idx");
            for (int64_t r = 0; r < rows; ++r) {  // the merge reads the kept positions in CSR order
                if (rpp[r + 1] < rpp[r]) throw py::value_error("row_ptr must be nondecreasing");
                for (int64_t i = rpp[r]; i < rpp[r + 1]; ++i)
                    if (cp[i] < 0 || cp[i] >= K || (i > rpp[r] && cp[i] <= cp[i - 1]))
                        throw py::value_error("col_idx must be in [0, K) and strictly increasing in each row");
            }
            const int64_t n_free = rows * K - nnz;
            if (k < 0 || k > n_free)
                throw py::value_error("k=" + std::to_string(k) + " must be in [0, free positions = " +
                                      std::to_string(n_free) + "]");
            auto o = call_opts(isa, threads);
            py::array_t<int64_t> out(k);
            int64_t* op = out.mutable_data();
            int rc;
            {
                py::gil_scoped_release nogil;
                rc = mest_for(Isa(o.isa)).grow_csr(rpp, cp, rows, K, k, seed, op);
            }
            if (rc != 0) throw std::runtime_error("mest_grow_csr: draw bound reached");
            return out;
        },
        py::arg("row_ptr"), py::arg("col_idx"), py::arg("K"), py::arg("k"), py::arg("seed"), py::kw_only(),
        py::arg("isa") = py::none(), py::arg("threads") = 0,
        "mest_grow_units with kept = the CSR's flat positions (read in place, no copy).");
    m.def(
        "mest_random_csr",
        [](int64_t rows, int64_t K, int64_t nnz, uint64_t seed, py::object isa, int threads) {
            if (rows < 0) throw py::value_error("rows must be >= 0, got " + std::to_string(rows));
            if (K < 0) throw py::value_error("K must be >= 0, got " + std::to_string(K));
            require_int32_extent(rows, "rows");
            require_int32_extent(K, "K");
            if (nnz < 0 || nnz > rows * K)
                throw py::value_error("nnz=" + std::to_string(nnz) + " must be in [0, rows * K = " +
                                      std::to_string(rows * K) + "]");
            require_int32_extent(nnz, "nnz");
            auto o = call_opts(isa, threads);
            py::array_t<int32_t> rp(rows + 1), col(nnz);
            int32_t *rpp = rp.mutable_data(), *cp = col.mutable_data();
            int rc;
            {
                py::gil_scoped_release nogil;
                rc = mest_for(Isa(o.isa)).random_csr(rows, K, nnz, seed, rpp, cp);
            }
            if (rc != 0) throw std::runtime_error("mest_random_csr: draw bound reached");
            return py::make_tuple(rp, col);
        },
        py::arg("rows"), py::arg("K"), py::arg("nnz"), py::arg("seed"), py::kw_only(), py::arg("isa") = py::none(),
        py::arg("threads") = 0,
        "(row_ptr, col_idx) int32 of nnz random distinct positions over rows x K (the sparse init's mask).");
    m.def(
        "mest_csr_rebuild",
        [](py::object rp_obj, py::object col_obj, py::object val_obj, py::object drop_obj, int64_t K,
           py::object grown_obj, py::object states_obj, bool with_src, int64_t width, py::object isa, int threads) {
            auto rp = typed<int32_t>(rp_obj, "row_ptr", 1);
            auto col = typed<int32_t>(col_obj, "col_idx", 1);
            auto val = typed<float>(val_obj, "values", 1);
            auto drop = typed<uint8_t>(drop_obj, "drop", 1);
            auto grown = typed<int64_t>(grown_obj, "grown", 1);
            const int64_t nnz = col.shape(0), rows = rp.shape(0) - 1, ng = grown.shape(0);
            if (rows < 0) throw py::value_error("row_ptr must hold rows + 1 entries");
            if (width < 1) throw py::value_error("width must be >= 1, got " + std::to_string(width));
            require_shape(val, "values", {nnz * width});
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
            std::vector<py::array_t<float>> st_in, st_out;
            std::vector<const float*> sip;
            std::vector<float*> sop;
            if (!states_obj.is_none()) {
                for (py::handle h : states_obj) {
                    st_in.push_back(typed<float>(h, "states", 1));
                    require_shape(st_in.back(), "states", {nnz * width});
                }
            }
            auto o = call_opts(isa, threads);
            py::array_t<int32_t> nrp(rows + 1), ncol(n_new);
            py::array_t<float> nval(n_new * width);
            py::array_t<int64_t> src(with_src ? n_new : 0);
            for (auto& a : st_in) {
                sip.push_back(a.data());
                st_out.emplace_back(n_new * width);
                sop.push_back(st_out.back().mutable_data());
            }
            const int32_t* cp = col.data();
            const float* vp = val.data();
            int32_t *nrpp = nrp.mutable_data(), *ncp = ncol.mutable_data();
            float* nvp = nval.mutable_data();
            int64_t* sp = with_src ? src.mutable_data() : nullptr;
            const int ns = int(st_in.size());
            {
                py::gil_scoped_release nogil;
                mest_for(Isa(o.isa)).csr_rebuild(rpp, cp, vp, dp, rows, K, gp, ng, width, nrpp, ncp, nvp, sp, ns, sip.data(),
                                                 sop.data());
            }
            py::tuple outs(st_out.size());
            for (size_t j = 0; j < st_out.size(); ++j) outs[j] = st_out[j];
            return py::make_tuple(nrp, ncol, nval, with_src ? py::object(src) : py::object(py::none()), outs);
        },
        py::arg("row_ptr"), py::arg("col_idx"), py::arg("values"), py::arg("drop"), py::arg("K"), py::arg("grown"),
        py::kw_only(), py::arg("states") = py::none(), py::arg("with_src") = true, py::arg("width") = 1,
        py::arg("isa") = py::none(),
        py::arg("threads") = 0,
        "CSR (width values per slot: a BSR with width = bo*bi) after dropping flagged slots and adding sorted grown "
        "positions (value 0): (row_ptr, col, values, src or None, states remapped the same way: float32 arrays shaped "
        "like values, 0 at grown slots).");
}

}  // namespace sb::bind
