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
// The 1x1 stride-1 unpadded conv (forward, backward-data) and the linear layer (forward,
// backward-data) run instead as an SpMM with the positions as the vector dimension
// (csr_plan::SpmmRun): on the NCHW planes themselves for the 1x1 conv (no relayout at all), on
// transposed activations (batch innermost) for the linear layer; the tile is stored straight
// into the output, the next tile's output lines are prefetched for writing.
// The sampled weight gradient (SDDMM) dots the flattened dY row of co (zeros in the garbage
// columns) with the shifted prepared input, 8 nonzeros of a row per register tile.
//
// Files: csr.cpp makes the layouts (prepared input, padded / flattened output gradient,
// transposes), the per-nonzero offsets and the tiling plan, once per call and compiled once;
// csr_impl.cpp holds the per-ISA microkernels that execute a plan; csr_format.cpp builds and
// validates the format.
#pragma once

#include <cstdint>
#include <vector>

#include "../common/geometry.hpp"
#include "../common/isa.hpp"

namespace sb {

// Planning types, shared by csr.cpp (planning and layout passes, compiled once) and
// csr_impl.cpp (the per-ISA microkernels that execute a plan).
namespace csr_plan {

// Register tile: NB images x VV vectors of one flattened output plane, at most kMaxAcc vectors.
constexpr int kMaxAcc = 8;
// Rows whose tiles stay in a per-thread buffer while the channel chunks stream past.
constexpr int64_t kRowBlock = 16;

// One output class (a stride residue class of backward-data; forward has one).
struct ClassGeom {
    int64_t L;      // flattened output length (Arows * RS)
    int64_t Arows, Acols;
    int64_t dst_off, dst_row, dst_col;
};

// One tile of the plan: class c, nb images x vv vectors from image n0, flattened position p0.
struct TileItem {
    int c, nb, vv;
    int64_t n0, p0;
};

// Rows of sparse weights x shifted contiguous runs of a prepared input, and how to tile them.
struct TileRun {
    const float* in;
    int64_t img;  // prepared input per image (floats)
    int64_t nimg;
    int64_t RS;   // row stride of the flattened plane
    std::vector<ClassGeom> cls;
    int64_t R;            // weight rows (output channels)
    const int32_t* ptr;   // R * ncls + 1, index r * ncls + c
    const float* vals;
    const int32_t* offs;  // nondecreasing inside each (row, class) segment
    int64_t chan;         // offsets of one input channel span [ch*chan, (ch+1)*chan)
    int64_t chan_window;  // floats of one channel a tile of one image reads, beyond the tile itself
    int64_t chan_runs;    // separate runs (stride phases) a tile reads per channel
    float* out;
    int64_t dst_img, dst_ch;
    // The tiling (csr.cpp plan_tiles): tiles, channel chunks (nch, with chunk pointers cptr of
    // stride cstride per (row, class) segment), row chunks (nrc of rchunk rows), total work items.
    std::vector<TileItem> items;
    int64_t nch = 1, cstride = 1, nrc = 1, rchunk = 0, total = 0;
    const int32_t* cptr = nullptr;
};

// Zero-padded, stride-phase-split input: (N, Cin, s, s, Hq, Wq), buf[.., ph, pw, r, c] =
// x[.., r*s + ph - pad, c*s + pw - pad] (0 outside), followed by `slack` zeros.
struct Prepared {
    float* buf;
    int64_t Hq, Wq, plane, img, slack;
};

// dval[k] = sum_n sum_p dyf[n, row, p] * x[n, off_k + p], p < Lp, in image chunks of nc. Lp is
// a multiple of W on the prepared layouts; the pointwise conv passes the NCHW planes (any Lp, a
// masked last vector).
struct SddmmRun {
    int64_t R;
    const int32_t* row_ptr;
    const int32_t* offs;
    const float* dyf;  // (nimg, R, Lp), zero beyond the valid positions
    int64_t Lp;
    const float* x;    // nimg images of x_img floats (+ slack)
    int64_t x_img, nimg, nc;
    float* dval;
};

// Sparse-weight x dense-activation SpMM with the positions as the vector dimension (the layout
// of Elsen et al., "Fast Sparse ConvNets", 2020): the 1x1 stride-1 unpadded conv (positions =
// the H*W pixels of one image, read straight from NCHW) and the linear layer (positions = the
// batch, on transposed activations). For image n, row r and position q < L:
//   out[n*out_img + r*out_row + q] = sum_{k in row r} vals[k] * in[n*in_img + offs[k] + q].
// A register tile of nb images x vv vectors of positions stays in registers while every nonzero
// of the row streams past (load + FMA, no store in the loop); the tile is stored once per row,
// straight into the output (masked at the last partial vector of a row). Rows run inside a tile,
// so the tile's input window is reused by all rows; in channel chunks (cptr) when the window
// would not fit in L1 (partial sums then go through the output).
struct SpmmItem {
    int nb, vv;
    int64_t n0, p0;
};
struct SpmmRun {
    const float* in;
    int64_t in_img;
    const int32_t* ptr;   // R + 1
    const int32_t* offs;  // per nonzero, nondecreasing inside a row
    const float* vals;
    int64_t R, L, nimg;
    float* out;
    int64_t out_img, out_row;
    // The plan (csr.cpp plan_spmm): tiles, channel chunks (cptr: R * (nch + 1) when nch > 1), row
    // chunks, total work items.
    std::vector<SpmmItem> items;
    int64_t nch = 1, nrc = 1, rchunk = 0, total = 0;
    const int32_t* cptr = nullptr;
};

}  // namespace csr_plan

// The per-ISA microkernels (csr_impl.cpp).
struct CsrKernels {
    int W;  // float lanes per vector: the plans are made for it
    void (*run_tiles)(const csr_plan::TileRun& run, int threads);
    void (*run_sddmm)(const csr_plan::SddmmRun& run, int threads);
    void (*run_spmm)(const csr_plan::SpmmRun& run, int threads);
    // Layout passes, compiled with the variant's flags (auto-vectorized) as before the split:
    // fill a prepared input laid out by csr.cpp (csr_plan::Prepared) from x (N, Cin, H, W);
    void (*prepare_input)(const ConvGeometry& g, const csr_plan::Prepared& P, const float* x, int threads);
    // a (rows, cols) -> out (cols, ld) with out[c, r] = a[r, c]; columns r >= rows untouched.
    void (*transpose)(const float* a, int64_t rows, int64_t cols, float* out, int64_t ld, int threads);
};

SB_DECLARE_ISA_TABLE(CsrKernels, csr)

// Family entry points (csr.cpp): layout passes, planning, then the variant's microkernels.
// g: the complete conv geometry (uniform stride / padding).
//
// Backward-data takes the transposed structure of a conv CSR, built once per mask (cached by
// the caller, csrfmt::conv_transpose): rows are (ci, cls) with cls = (i % s) * s + (j % s), ptr
// has Cin*s*s + 1 entries; entry t refers to the original nonzero src[t] of output channel
// co[t] and tap[t] = i*kw + j.

// y (N, Cout, Ho, Wo) = conv(x (N, Cin, H, W), W_csr)
void csr_conv_forward(Isa isa, const ConvGeometry& g, const int32_t* row_ptr, const int32_t* col, const float* val,
                      const float* x, float* y, int threads);
// dx (N, Cin, H, W) = conv_transpose(dy (N, Cout, Ho, Wo), W_csr) via the transposed structure
void csr_conv_backward_data(Isa isa, const ConvGeometry& g, const int32_t* tptr, const int32_t* tsrc,
                            const int32_t* tco, const int32_t* ttap, const float* val, const float* dy, float* dx,
                            int threads);
// dval[k] = sum_{n,ho,wo} dy[n, co, ho, wo] * x[n, ci, ho*s - pad + i, wo*s - pad + j] for nonzero k
void csr_conv_weight_grad_sampled(Isa isa, const ConvGeometry& g, const int32_t* row_ptr, const int32_t* col,
                                  const float* x, const float* dy, float* dval, int threads);
// y (B, out) = x (B, in) @ W^T
void csr_linear_forward(Isa isa, int64_t B, int64_t in, int64_t out, const int32_t* row_ptr, const int32_t* col,
                        const float* val, const float* x, float* y, int threads);
// dx (B, in) = dy (B, out) @ W, with the transposed structure (kh = kw = 1, s = 1)
void csr_linear_backward_data(Isa isa, int64_t B, int64_t in, int64_t out, const int32_t* tptr,
                              const int32_t* tsrc, const int32_t* tco, const float* val, const float* dy, float* dx,
                              int threads);
// dval[k] = sum_b dy[b, row] * x[b, col[k]]
void csr_linear_weight_grad_sampled(Isa isa, int64_t B, int64_t in, int64_t out, const int32_t* row_ptr,
                                    const int32_t* col, const float* x, const float* dy, float* dval, int threads);

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
