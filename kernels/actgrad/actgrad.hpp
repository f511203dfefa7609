// Activation-gradient pruning (Ye et al., ECCV 2020): DBTD threshold and stochastic pruning.
#pragma once

#include <cstdint>

#include "../common/isa.hpp"

namespace sb {

struct ActGradKernels {
    // Deterministic sum of |g| (see common/reduce.hpp).
    double (*abs_sum)(const float* g, int64_t n, int threads);
    // out_i = g_i if |g_i| >= tau; sign(g_i) * tau if |g_i| > u_i * tau; else 0, with
    // u_i = rng::uniform(seed, i). Returns the number of nonzeros written.
    int64_t (*stochastic_prune)(const float* g, float* out, int64_t n, float tau, uint64_t seed, int threads);
};

SB_DECLARE_ISA_TABLE(ActGradKernels, actgrad)

}  // namespace sb
