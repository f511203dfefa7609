// ISA variants and run-time dispatch. Kernel families declare a table of function pointers;
// every ISA translation unit defines one instance of it (sb::<isa>::<family>), and callers pick
// the instance for the ISA resolved at call time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sb {

enum class Isa { scalar, avx2, avx512, neon };

const char* isa_name(Isa isa);
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

#define SB_TABLE_SCALAR(Type, name) namespace scalar { extern const Type name; }
#ifdef SB_HAVE_AVX2
#define SB_TABLE_AVX2(Type, name) namespace avx2 { extern const Type name; }
#define SB_CASE_AVX2(name) case Isa::avx2: return avx2::name;
#else
#define SB_TABLE_AVX2(Type, name)
#define SB_CASE_AVX2(name)
#endif
#ifdef SB_HAVE_AVX512
#define SB_TABLE_AVX512(Type, name) namespace avx512 { extern const Type name; }
#define SB_CASE_AVX512(name) case Isa::avx512: return avx512::name;
#else
#define SB_TABLE_AVX512(Type, name)
#define SB_CASE_AVX512(name)
#endif
#ifdef SB_HAVE_NEON
#define SB_TABLE_NEON(Type, name) namespace neon { extern const Type name; }
#define SB_CASE_NEON(name) case Isa::neon: return neon::name;
#else
#define SB_TABLE_NEON(Type, name)
#define SB_CASE_NEON(name)
#endif

// Declares sb::<isa>::name for each compiled variant and sb::name_for(Isa). Use inside
// namespace sb. SB_HAVE_* are defined for the binding TUs only; ISA TUs define their own table.
#define SB_DECLARE_ISA_TABLE(Type, name)                                  \
    SB_TABLE_SCALAR(Type, name)                                           \
    SB_TABLE_AVX2(Type, name)                                             \
    SB_TABLE_AVX512(Type, name)                                           \
    SB_TABLE_NEON(Type, name)                                             \
    inline const Type& name##_for(Isa isa) {                              \
        switch (isa) {                                                    \
            SB_CASE_AVX2(name)                                            \
            SB_CASE_AVX512(name)                                          \
            SB_CASE_NEON(name)                                            \
            default: return scalar::name;                                 \
        }                                                                 \
    }
