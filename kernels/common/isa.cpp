#include "isa.hpp"

#include <omp.h>

#include <cstdlib>
#include <stdexcept>

namespace sb {

#define SB_ISA_X_NAME(isa) case Isa::isa: return #isa;
const char* isa_name(Isa isa) {
    switch (isa) { SB_ISA_KNOWN(SB_ISA_X_NAME) }
    return "?";
}
#undef SB_ISA_X_NAME

std::vector<Isa> known_isas() {
#define SB_ISA_X_ITEM(isa) Isa::isa,
    return {SB_ISA_KNOWN(SB_ISA_X_ITEM)};
}

std::vector<Isa> compiled_isas() { return {SB_ISA_COMPILED(SB_ISA_X_ITEM)}; }
#undef SB_ISA_X_ITEM

bool cpu_supports(Isa isa) {
#define SB_ISA_X_DETECT(isa) case Isa::isa: return SB_ISA_DETECT_##isa();
    switch (isa) {
        SB_ISA_COMPILED(SB_ISA_X_DETECT)
        default: return false;  // not compiled for this architecture
    }
#undef SB_ISA_X_DETECT
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
    for (Isa isa : known_isas()) {
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
    throw std::invalid_argument(source + ": unknown ISA variant '" + name + "' (known: " +
                                known_list(known_isas()) + ", auto)");
}

int resolve_threads(int threads) {
    if (threads < 0) throw std::invalid_argument("threads must be >= 0 (0 means all), got " + std::to_string(threads));
    return threads == 0 ? omp_get_max_threads() : threads;
}

}  // namespace sb
