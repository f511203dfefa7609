// Unstructured weight sparsity: CSR over the weight viewed as (rows, K).
//   conv:   rows = Cout, K = Cin*kh*kw in torch's (Cin, kh, kw) order: col = (ci*kh + i)*kw + j.
//   linear: rows = out,  K = in.
// int32 row_ptr (rows+1) / col_idx (nnz, strictly increasing inside a row), float32 values.
//
// All conv stages run as DIRECT sparse convolution (no im2col). The input is re-laid out once per
// call ("prepared"): zero border for the padding, and for stride s split into its s*s phases, so
// that output pixel (ho, wo) of tap (i, j) reads prepared[ci, phase(i,j)][ho + i/s][wo + j/s]: a
// contiguous run over a whole output row. Output planes are computed "flattened" with the
// prepared row stride RS (columns wo >= Wo are garbage and dropped at the store), so each nonzero
// weight is one broadcast + one FMA per vector of a register-resident tile of NB images x VV
// vectors, and a nonzero's column decodes to one int32 offset per call (amortized over the tile).
// Backward-data is the same kernel on the padded output-gradient with the transposed CSR, one
// pass per stride residue class (rh, rw), scattering into dX with stride s.
// The sampled weight gradient (SDDMM) dots the flattened dY row of co (zeros in the garbage
// columns) with the shifted prepared input, 8 nonzeros of a row per register tile.
#pragma once

#include <cstdint>

#include "../common/geometry.hpp"
#include "../common/isa.hpp"

namespace sb {

// Transposed structure of a conv CSR for backward-data, built once per mask (cached by the
// caller): rows are (ci, cls) with cls = (i % s) * s + (j % s), ptr has Cin*s*s + 1 entries;
// entry t refers to the original nonzero src[t] of output channel co[t] and tap[t] = i*kw + j.
struct CsrKernels {
    // y (N, Cout, Ho, Wo) = conv(x (N, Cin, H, W), W_csr)
    void (*conv_forward)(const ConvGeometry& g, const int32_t* row_ptr, const int32_t* col, const float* val,
                         const float* x, float* y, int threads);
    // dx (N, Cin, H, W) = conv_transpose(dy (N, Cout, Ho, Wo), W_csr) via the transposed structure
    void (*conv_backward_data)(const ConvGeometry& g, const int32_t* tptr, const int32_t* tsrc, const int32_t* tco,
                               const int32_t* ttap, const float* val, const float* dy, float* dx, int threads);
    // dval[k] = sum_{n,ho,wo} dy[n, co, ho, wo] * x[n, ci, ho*s - pad + i, wo*s - pad + j] for nonzero k
    void (*conv_weight_grad_sampled)(const ConvGeometry& g, const int32_t* row_ptr, const int32_t* col,
                                     const float* x, const float* dy, float* dval, int threads);
    // y (B, out) = x (B, in) @ W^T
    void (*linear_forward)(int64_t B, int64_t in, int64_t out, const int32_t* row_ptr, const int32_t* col,
                           const float* val, const float* x, float* y, int threads);
    // dx (B, in) = dy (B, out) @ W, with the transposed structure (kh = kw = 1, s = 1)
    void (*linear_backward_data)(int64_t B, int64_t in, int64_t out, const int32_t* tptr, const int32_t* tsrc,
                                 const int32_t* tco, const float* val, const float* dy, float* dx, int threads);
    // dval[k] = sum_b dy[b, row] * x[b, col[k]]
    void (*linear_weight_grad_sampled)(int64_t B, int64_t in, int64_t out, const int32_t* row_ptr,
                                       const int32_t* col, const float* x, const float* dy, float* dval,
                                       int threads);
};

SB_DECLARE_ISA_TABLE(CsrKernels, csr)

// ISA-independent format helpers (kernels/sparse/csr_format.cpp). They throw std::invalid_argument.
namespace csrfmt {
// row_ptr[0] == 0, nondecreasing, row_ptr[rows] == nnz, cols in [0, K) strictly increasing per row.
void validate(const int32_t* row_ptr, int64_t rows, const int32_t* col, int64_t nnz, int64_t K);
// Counts nonzeros per row of a (rows, K) mask, to size the outputs of from_mask.
void mask_row_counts(const uint8_t* mask, int64_t rows, int64_t K, int32_t* row_ptr, int threads);
void from_mask(const uint8_t* mask, const float* w, int64_t rows, int64_t K, const int32_t* row_ptr, int32_t* col,
               float* val, int threads);
// From sorted (row, col) coordinates: validates sorted, unique, in range; fills row_ptr.
void coo_row_ptr(const int64_t* r, const int64_t* c, int64_t nnz, int64_t rows, int64_t K, int32_t* row_ptr);
// Transposed structure for backward-data (see above). tptr has Cin*s*s + 1 entries.
void conv_transpose(const int32_t* row_ptr, const int32_t* col, int64_t Cout, int64_t Cin, int64_t kh, int64_t kw,
                    int64_t stride, int32_t* tptr, int32_t* tsrc, int32_t* tco, int32_t* ttap);
// Mask (1 = keep) zeroing the nzero smallest scores, ties broken by lower flat index first.
void select_smallest(const float* score, int64_t n, int64_t nzero, uint8_t* keep);
}  // namespace csrfmt

}  // namespace sb
