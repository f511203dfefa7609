// MEST mutation (prune / grow / CSR rebuild), the hot path of a mask_update: scores at the kept
// positions, the selection of the lowest-scored units, the random growth among free units with
// the counter-based RNG (kernels/common/rng.hpp), and the CSR merge of survivors and grown
// positions with the slot remap; plus the sparse init's random CSR. Mirrored by
// src/sparsebench/methods/mest/reference.py.
//
// Memory: every kernel works in O(output + k) besides its inputs (no copy of the kept list, no
// index buffer per kept unit): selection is an exact radix threshold on the score bits (then the
// unit ids among equal scores), growth maps sorted ranks to units by a merge over the kept ids
// (already sorted: CSR order, or a sorted id list; unsorted lists are copied once), the draw's
// "seen" set is a bitmap over the free units or an open-addressing table (the smaller).
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
    // drop[i] = 1 for the k units with the lowest (score, id), 0 elsewhere. Scores are float32
    // (scores32) or float64 (scores64; the other is nullptr), no NaN; ids are int64 (ids64), int32
    // (ids32) or none (both nullptr: the id is the slot index). Equal (score, id) pairs: lower slot.
    void (*select_drop)(const float* scores32, const double* scores64, const int64_t* ids64, const int32_t* ids32,
                        int64_t n, int64_t k, uint8_t* drop);
    // k distinct unit ids in [0, n_units) not in kept (unique, any order), in draw order, from the
    // counter-based stream of ``seed``. Returns 0, or -1 if the draw bound was hit (never expected).
    int (*grow_units)(const int64_t* kept, int64_t n_kept, int64_t n_units, int64_t k, uint64_t seed, int64_t* out);
    // grow_units with kept = the flat positions r * K + col of a CSR (sorted: row-major, columns
    // strictly increasing in a row), read in place.
    int (*grow_csr)(const int32_t* row_ptr, const int32_t* col, int64_t rows, int64_t K, int64_t k, uint64_t seed,
                    int64_t* out);
    // The sparse init's positions as a CSR over rows x K: nnz distinct flat positions drawn as the
    // first nnz distinct ranks of the stream (2 nnz < n), else the complement of the first n - nnz
    // (n = rows * K); writes row_ptr (rows + 1) and col (nnz, ascending per row). 0, or -1 (bound).
    int (*random_csr)(int64_t rows, int64_t K, int64_t nnz, uint64_t seed, int32_t* row_ptr, int32_t* col);
    // CSR merge: old (row_ptr, col, values) over rows x K minus the slots with drop[i] = 1, plus the
    // sorted positions ``grown`` (flat r*K + c, disjoint from the old ones) with value 0. Each slot
    // holds ``width`` consecutive values (1: CSR; bo*bi: a BSR block). Writes new_row_ptr (rows+1),
    // new_col / new_values / src (old slot or -1; src may be nullptr), n_new = nnz - dropped + g
    // slots; and each of n_states float32 arrays shaped like values remapped the same way
    // (states[j] -> new_states[j], 0 at grown slots).
    void (*csr_rebuild)(const int32_t* row_ptr, const int32_t* col, const float* values, const uint8_t* drop,
                        int64_t rows, int64_t K, const int64_t* grown, int64_t n_grown, int64_t width, int32_t* new_row_ptr,
                        int32_t* new_col, float* new_values, int64_t* src, int n_states, const float* const* states,
                        float* const* new_states);
};

SB_DECLARE_ISA_TABLE(MestKernels, mest)

}  // namespace sb
