// SWAT (Raihan & Aamodt, NeurIPS 2020): exact top-K magnitude selection, the compressed top-K
// format it emits (weights in CSR, stored activations), and the weight gradient from a sparse
// stored activation and a dense output gradient.
//
// Keys: key(x) = bit pattern of |x| (bits(x) & 0x7fffffff); for non-NaN floats the key order is
// the |x| order, so the k-th largest |x| is the k-th largest key. NaN keys (> 0x7f800000) are
// counted and refused by the callers.
//
// Top-K rule (exactly k kept): every element with key > T, plus the first k - n_gt elements with
// key == T in flat index order (lowest index first), T = the k-th largest key.
//
// Compressed format ("row CSR"), the tensor viewed as rows of C elements (the last may be short):
//   rowptr int64 (R + 1), col int32 (nnz, ascending in a row), vals float32 (nnz).
#pragma once

#include <cstdint>
#include <stdexcept>

#include "../common/isa.hpp"

namespace sb {

constexpr uint32_t kAbsMask = 0x7fffffffu;
constexpr uint32_t kInfKey = 0x7f800000u;

struct SwatKernels {
    // hist[(key >> shift) & (nbins - 1)] += 1 over the elements whose key >> pshift == prefix
    // (pshift >= 31: all elements); hist has nbins entries (zeroed here). Returns the NaN count.
    int64_t (*histogram)(const float* x, int64_t n, int shift, int nbins, int pshift, uint32_t prefix,
                         int64_t* hist, int threads);
    // One streaming pass of the sampled bracket [lo, hi]: *n_hi = #key > hi, *n_nan = #NaN, and
    // the keys in [lo, hi] appended to cand (capacity cap). Returns the number of candidates, or
    // -1 when more than cap fell in the bracket (cand then holds garbage).
    int64_t (*bracket)(const float* x, int64_t n, uint32_t lo, uint32_t hi, uint32_t* cand, int64_t cap,
                       int64_t* n_hi, int64_t* n_nan, int threads);
    // Per row of C elements (rows = ceil(n / C)): gt[r] = #key > T, eq[r] = #key == T.
    void (*row_counts)(const float* x, int64_t n, int64_t C, uint32_t T, int64_t* gt, int64_t* eq, int threads);
    // Writes the kept elements (key > T, and the first eq_quota[r] with key == T of row r) of every
    // row at rowptr[r]: col (index in the row) and vals (the signed value).
    void (*row_fill)(const float* x, int64_t n, int64_t C, uint32_t T, const int64_t* eq_quota,
                     const int64_t* rowptr, int32_t* col, float* vals, int threads);
    // dW (Cout, Cin, kh, kw) = conv2d weight gradient of the sparse input X (row CSR, rows = N*Cin,
    // C = H*W) with the dense output gradient dy (N, Cout, Ho, Wo). dyt: scratch (N*Ho*Wo*Cout).
    void (*conv_wgrad)(const int64_t* rowptr, const int32_t* col, const float* vals, const float* dy,
                       int64_t N, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t kh, int64_t kw,
                       int64_t stride, int64_t pad, float* dyt, float* dwt, float* dw, int threads);
    // dW (Cout, Cin) = dy^T (Cout, B) @ X (B, Cin), X in row CSR (rows = B, C = Cin).
    void (*linear_wgrad)(const int64_t* rowptr, const int32_t* col, const float* vals, const float* dy,
                         int64_t B, int64_t Cin, int64_t Cout, float* dwt, float* dw, int threads);
};

SB_DECLARE_ISA_TABLE(SwatKernels, swat)

// Result of a selection (swat.cpp, ISA-independent planning over the passes above).
struct Selection {
    uint32_t key;     // T: the k-th largest key
    int64_t n_gt;     // elements with key > T
    int64_t n_eq;     // elements with key == T
    int64_t need_eq;  // k - n_gt: how many of them the top-K keeps
    int passes;       // streaming passes over x it took
};

struct NanError : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

// method: "auto" (sampled bracket, radix fallback), "radix" (three histogram passes),
// "sample" (the bracket; radix fallback when it misses). Throws NanError, std::invalid_argument.
Selection select_kth(Isa isa, const float* x, int64_t n, int64_t k, const char* method, int threads);

}  // namespace sb
