#include "isa.hpp"

#include <omp.h>

#include <cstdlib>
#include <stdexcept>

namespace sb {

const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::scalar: return "scalar";
        case Isa::avx2: return "avx2";
        case Isa::avx512: return "avx512";
        case Isa::neon: return "neon";
    }
    return "?";
}

std::vector<Isa> compiled_isas() {
    std::vector<Isa> out{Isa::scalar};
#ifdef SB_HAVE_AVX2
    out.push_back(Isa::avx2);
#endif
#ifdef SB_HAVE_AVX512
    out.push_back(Isa::avx512);
#endif
#ifdef SB_HAVE_NEON
    out.push_back(Isa::neon);
#endif
    return out;
}

bool cpu_supports(Isa isa) {
    switch (isa) {
        case Isa::scalar: return true;
#if defined(__x86_64__) || defined(__i386__)
        // __builtin_cpu_supports also checks that the OS saves the wider register state.
        case Isa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        case Isa::avx512:
            return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                   __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                   __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
#if defined(__aarch64__)
        case Isa::neon: return true;  // Advanced SIMD is baseline on AArch64
#endif
        default: return false;
    }
}

std::vector<Isa> usable_isas() {
    std::vector<Isa> out;
    for (Isa isa : compiled_isas())
        if (cpu_supports(isa)) out.push_back(isa);
    return out;
}

Isa best_isa() { return usable_isas().back(); }

static std::string known_list(const std::vector<Isa>& isas) {
    std::string s;
    for (Isa i : isas) s += (s.empty() ? "" : ", ") + std::string(isa_name(i));
    return s;
}

Isa resolve_isa(const std::string& requested) {
    std::string name = requested;
    std::string source = "isa";
    if (name.empty() || name == "auto") {
        const char* env = std::getenv("SPARSEBENCH_ISA");
        if (env && *env && std::string(env) != "auto") {
            name = env;
            source = "SPARSEBENCH_ISA";
        } else {
            return best_isa();
        }
    }
    for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512, Isa::neon}) {
        if (name != isa_name(isa)) continue;
        bool compiled = false;
        for (Isa c : compiled_isas()) compiled |= (c == isa);
        if (!compiled)
            throw std::invalid_argument(source + ": ISA variant '" + name +
                                        "' is not compiled into this build (compiled: " +
                                        known_list(compiled_isas()) + ")");
        if (!cpu_supports(isa))
            throw std::invalid_argument(source + ": ISA variant '" + name +
                                        "' is not supported by this CPU (usable: " +
                                        known_list(usable_isas()) + ")");
        return isa;
    }
    throw std::invalid_argument(source + ": unknown ISA variant '" + name +
                                "' (known: scalar, avx2, avx512, neon, auto)");
}

int resolve_threads(int threads) {
    if (threads < 0) throw std::invalid_argument("threads must be >= 0 (0 means all), got " + std::to_string(threads));
    return threads == 0 ? omp_get_max_threads() : threads;
}

}  // namespace sb
