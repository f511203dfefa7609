// MEST mutation (prune / grow / CSR rebuild), the hot path of a mask_update: scores at the kept
// positions, the selection of the lowest-scored units, the random growth among free units with
// the counter-based RNG (kernels/common/rng.hpp), and the CSR merge of survivors and grown
// positions with the slot remap. Mirrored by src/sparsebench/methods/mest/reference.py.
#pragma once

#include <cstdint>

#include "../common/isa.hpp"

namespace sb {

struct MestKernels {
    // e[i] = |w[i]| + lam * |g[i]| (g == nullptr: e[i] = |w[i]|)
    void (*slot_scores)(const float* w, const float* g, float lam, float* e, int64_t n, int threads);
    // score of each of n_units consecutive runs of per_unit slots of e: per_unit == 1: e itself,
    // else the sum of e^2 in slot order (double; the squared L2 norm of the unit)
    void (*unit_scores)(const float* e, int64_t n_units, int64_t per_unit, double* out);
    // drop[i] = 1 for the k units with the lowest (score, id), 0 elsewhere (ids unique)
    void (*select_drop)(const double* scores, const int64_t* ids, int64_t n, int64_t k, uint8_t* drop);
    // k distinct unit ids in [0, n_units) not in kept (unique, any order), in draw order, from the
    // counter-based stream of ``seed``. Returns 0, or -1 if the draw bound was hit (never expected).
    int (*grow_units)(const int64_t* kept, int64_t n_kept, int64_t n_units, int64_t k, uint64_t seed, int64_t* out);
    // CSR merge: old (row_ptr, col, values) over rows x K minus the slots with drop[i] = 1, plus the
    // sorted positions ``grown`` (flat r*K + c, disjoint from the old ones) with value 0. Writes
    // new_row_ptr (rows+1), new_col / new_values / src (old slot or -1), n_new = nnz - dropped + g.
    void (*csr_rebuild)(const int32_t* row_ptr, const int32_t* col, const float* values, const uint8_t* drop,
                        int64_t rows, int64_t K, const int64_t* grown, int64_t n_grown, int32_t* new_row_ptr,
                        int32_t* new_col, float* new_values, int64_t* src);
};

SB_DECLARE_ISA_TABLE(MestKernels, mest)

}  // namespace sb
