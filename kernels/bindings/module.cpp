// The extension sparsebench._kernels: dispatch facts plus one bind_* call per kernel family.
#include <omp.h>

#include "../common/isa.hpp"
#include "../common/phases.hpp"
#include "checks.hpp"

#include <pybind11/stl.h>

namespace sb::bind {
void bind_actgrad(py::module_& m);
void bind_csr(py::module_& m);
void bind_block(py::module_& m);
void bind_filter(py::module_& m);
void bind_pattern(py::module_& m);
void bind_actgrad_bwd(py::module_& m);
void bind_update(py::module_& m);
void bind_mest(py::module_& m);
void bind_swat(py::module_& m);
void bind_ssl(py::module_& m);
void bind_terngrad(py::module_& m);
}

namespace {

namespace py = pybind11;

py::list isa_list(const std::vector<sb::Isa>& isas) {
    py::list out;
    for (sb::Isa i : isas) out.append(sb::isa_name(i));
    return out;
}

py::dict build_info() {
    py::dict d;
#if defined(__clang__)
    d["compiler"] = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
    d["compiler"] = std::string("gcc ") + __VERSION__;
#else
    d["compiler"] = "unknown";
#endif
    d["cxx_flags"] = SB_CXX_FLAGS;
    py::dict isa_flags;
#define SB_ISA_X_FLAGS(isa) isa_flags[#isa] = SB_ISA_FLAGS_##isa;
    SB_ISA_COMPILED(SB_ISA_X_FLAGS)
#undef SB_ISA_X_FLAGS
    d["isa_flags"] = isa_flags;
    d["build_type"] = SB_BUILD_TYPE;
    d["openmp_version"] = _OPENMP;
    d["omp_max_threads"] = omp_get_max_threads();
    return d;
}

}  // namespace

PYBIND11_MODULE(_kernels, m) {
    m.doc() = "sparsebench C++ kernels (per-ISA variants, OpenMP, GIL released)";
    m.def(
        "phase_profile", [](bool on) { sb::phases::enabled.store(on); },
        "Turn the stage runs' phase timer on or off (off by default; tools/rates/bounds.py reads it).");
    m.def(
        "phase_times", [] { return sb::phases::take(); },
        "Seconds per phase ('layout:<pass>': packing, padding, transposes, zero fills; 'plan': offsets, row "
        "groups, tile lists) accumulated since the last call, then cleared.");
    m.def("known_isas", [] { return isa_list(sb::known_isas()); },
          "Every ISA variant of the build's list (CMakeLists.txt), compiled here or not, in preference order.");
    m.def("compiled_isas", [] { return isa_list(sb::compiled_isas()); });
    m.def("usable_isas", [] { return isa_list(sb::usable_isas()); });
    m.def(
        "resolve_isa",
        [](py::object isa) { return std::string(sb::isa_name(sb::Isa(sb::bind::call_opts(isa, 0).isa))); },
        py::arg("isa") = py::none(), "The variant a call with this isa= would run (None: env / best).");
    m.def("build_info", &build_info);
    m.def(
        "probe_threads",
        [](int threads) {
            const int t = sb::bind::call_opts(py::none(), threads).threads;
            int seen = 0;
            py::gil_scoped_release nogil;
#pragma omp parallel num_threads(t)
            {
#pragma omp single
                seen = omp_get_num_threads();
            }
            return seen;
        },
        py::arg("threads") = 0, "Threads a kernel's parallel region gets for this threads= value.");
    sb::bind::bind_actgrad(m);
    sb::bind::bind_csr(m);
    sb::bind::bind_block(m);
    sb::bind::bind_filter(m);
    sb::bind::bind_pattern(m);
    sb::bind::bind_actgrad_bwd(m);
    sb::bind::bind_update(m);
    sb::bind::bind_mest(m);
    sb::bind::bind_swat(m);
    sb::bind::bind_ssl(m);
    sb::bind::bind_terngrad(m);
}
