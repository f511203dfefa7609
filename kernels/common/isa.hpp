// ISA variants and run-time dispatch. The variants come from the one list in CMakeLists.txt
// (sb_isa_variant), through the generated X-macros of sb_isa_config.hpp. Kernel families
// declare a table of function pointers; every ISA translation unit defines one instance of it
// (sb::<isa>::<family>), and callers pick the instance for the ISA resolved at call time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sb_isa_config.hpp"

namespace sb {

#define SB_ISA_X_ENUM(name) name,
enum class Isa { SB_ISA_KNOWN(SB_ISA_X_ENUM) };
#undef SB_ISA_X_ENUM

const char* isa_name(Isa isa);
std::vector<Isa> known_isas();      // every variant of the list, compiled here or not
std::vector<Isa> compiled_isas();   // built into this extension
bool cpu_supports(Isa isa);         // the running CPU (and OS) can execute it
std::vector<Isa> usable_isas();     // compiled and supported
Isa best_isa();                     // widest usable variant
// Explicit request > SPARSEBENCH_ISA > best. Throws std::invalid_argument for an unknown name,
// a variant not compiled in, or one the CPU cannot run.
Isa resolve_isa(const std::string& requested);
// 0 means "all": omp_get_max_threads(). Throws std::invalid_argument for negatives.
int resolve_threads(int threads);

}  // namespace sb

#define SB_ISA_X_TABLE_DECL(isa, Type, name) namespace isa { extern const Type name; }
#define SB_ISA_X_TABLE_CASE(isa, Type, name) case Isa::isa: return isa::name;

// Declares sb::<isa>::name for each compiled variant and sb::name_for(Isa). Use inside
// namespace sb; every ISA TU defines its own sb::<isa>::name.
#define SB_DECLARE_ISA_TABLE(Type, name)                                       \
    SB_ISA_COMPILED_WITH(SB_ISA_X_TABLE_DECL, Type, name)                      \
    inline const Type& name##_for(Isa isa) {                                   \
        switch (isa) {                                                         \
            SB_ISA_COMPILED_WITH(SB_ISA_X_TABLE_CASE, Type, name)              \
            default: return SB_ISA_REFERENCE::name;                            \
        }                                                                      \
    }
