// ISA-independent CSR construction and validation (compiled once, see csr.hpp).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "csr.hpp"

namespace sb::csrfmt {

void validate(const int32_t* row_ptr, int64_t rows, const int32_t* col, int64_t nnz, int64_t K) {
    if (row_ptr[0] != 0) throw std::invalid_argument("row_ptr[0] must be 0, got " + std::to_string(row_ptr[0]));
    if (row_ptr[rows] != nnz)
        throw std::invalid_argument("row_ptr[-1] = " + std::to_string(row_ptr[rows]) +
                                    " must equal nnz = len(col_idx) = " + std::to_string(nnz));
    for (int64_t r = 0; r < rows; ++r) {
        const int32_t a = row_ptr[r], b = row_ptr[r + 1];
        if (b < a) throw std::invalid_argument("row_ptr must be nondecreasing (row " + std::to_string(r) + ")");
        for (int32_t k = a; k < b; ++k) {
            const int32_t c = col[k];
            if (c < 0 || c >= K)
                throw std::invalid_argument("col_idx[" + std::to_string(k) + "] = " + std::to_string(c) +
                                            " out of range [0, " + std::to_string(K) + ")");
            if (k > a && c <= col[k - 1])
                throw std::invalid_argument(std::string("col_idx must be strictly increasing inside a row (") +
                                            (c == col[k - 1] ? "duplicate" : "unsorted") + " at row " +
                                            std::to_string(r) + ", entry " + std::to_string(k) + ")");
        }
    }
}

void mask_row_counts(const uint8_t* mask, int64_t rows, int64_t K, int32_t* row_ptr, int threads) {
    std::vector<int64_t> cnt(static_cast<size_t>(rows));
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
        int64_t c = 0;
        const uint8_t* m = mask + r * K;
        for (int64_t k = 0; k < K; ++k) c += m[k] != 0;
        cnt[r] = c;
    }
    int64_t acc = 0;
    row_ptr[0] = 0;
    for (int64_t r = 0; r < rows; ++r) {
        acc += cnt[r];
        if (acc > INT32_MAX) throw std::invalid_argument("nnz overflows the int32 indices of CSR");
        row_ptr[r + 1] = int32_t(acc);
    }
}

void from_mask(const uint8_t* mask, const float* w, int64_t rows, int64_t K, const int32_t* row_ptr, int32_t* col,
               float* val, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
        int64_t o = row_ptr[r];
        const uint8_t* m = mask + r * K;
        for (int64_t k = 0; k < K; ++k)
            if (m[k]) {
                col[o] = int32_t(k);
                val[o] = w[r * K + k];
                ++o;
            }
    }
}

void coo_row_ptr(const int64_t* r, const int64_t* c, int64_t nnz, int64_t rows, int64_t K, int32_t* row_ptr) {
    if (nnz > INT32_MAX) throw std::invalid_argument("nnz overflows the int32 indices of CSR");
    std::fill(row_ptr, row_ptr + rows + 1, 0);
    for (int64_t k = 0; k < nnz; ++k) {
        if (r[k] < 0 || r[k] >= rows)
            throw std::invalid_argument("rows[" + std::to_string(k) + "] = " + std::to_string(r[k]) +
                                        " out of range [0, " + std::to_string(rows) + ")");
        if (c[k] < 0 || c[k] >= K)
            throw std::invalid_argument("cols[" + std::to_string(k) + "] = " + std::to_string(c[k]) +
                                        " out of range [0, " + std::to_string(K) + ")");
        if (k > 0 && (r[k] < r[k - 1] || (r[k] == r[k - 1] && c[k] <= c[k - 1])))
            throw std::invalid_argument(
                std::string("indices must be sorted by (row, col) without duplicates (") +
                (r[k] == r[k - 1] && c[k] == c[k - 1] ? "duplicate" : "unsorted") + " at entry " +
                std::to_string(k) + ")");
        ++row_ptr[r[k] + 1];
    }
    for (int64_t i = 0; i < rows; ++i) row_ptr[i + 1] += row_ptr[i];
}

void conv_transpose(const int32_t* row_ptr, const int32_t* col, int64_t Cout, int64_t Cin, int64_t kh, int64_t kw,
                    int64_t stride, int32_t* tptr, int32_t* tsrc, int32_t* tco, int32_t* ttap) {
    const int64_t kk = kh * kw, s = stride, ncls = s * s, nrows = Cin * ncls;
    auto trow = [&](int32_t c) {
        const int64_t ci = c / kk, tap = c % kk, i = tap / kw, j = tap % kw;
        return ci * ncls + (i % s) * s + (j % s);
    };
    std::fill(tptr, tptr + nrows + 1, 0);
    const int64_t nnz = row_ptr[Cout];
    for (int64_t k = 0; k < nnz; ++k) ++tptr[trow(col[k]) + 1];
    for (int64_t r = 0; r < nrows; ++r) tptr[r + 1] += tptr[r];
    std::vector<int32_t> fill(tptr, tptr + nrows);
    // Rows visited in order, so each transposed row lists co ascending, then tap ascending.
    for (int64_t co = 0; co < Cout; ++co)
        for (int32_t k = row_ptr[co]; k < row_ptr[co + 1]; ++k) {
            const int32_t t = fill[trow(col[k])]++;
            tsrc[t] = k;
            tco[t] = int32_t(co);
            ttap[t] = int32_t(col[k] % kk);
        }
}

void select_smallest(const float* score, int64_t n, int64_t nzero, uint8_t* keep) {
    std::fill(keep, keep + n, uint8_t(1));
    if (nzero <= 0) return;
    if (nzero >= n) {
        std::fill(keep, keep + n, uint8_t(0));
        return;
    }
    std::vector<int64_t> idx(static_cast<size_t>(n));
    std::iota(idx.begin(), idx.end(), int64_t(0));
    auto less = [score](int64_t a, int64_t b) { return score[a] < score[b] || (score[a] == score[b] && a < b); };
    std::nth_element(idx.begin(), idx.begin() + (nzero - 1), idx.end(), less);
    for (int64_t k = 0; k < nzero; ++k) keep[idx[k]] = 0;
}

}  // namespace sb::csrfmt
