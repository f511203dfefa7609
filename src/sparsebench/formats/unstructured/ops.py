"""Unstructured weight sparsity (CSR): every training stage of conv2d and linear.

Ground truth is torch on the masked dense weight: F.conv2d, torch.nn.grad.conv2d_input /
conv2d_weight (sampled at the mask for the SDDMM), F.linear and its matmuls, and
torch.optim.SGD's update formula. The kernels are in kernels/sparse (direct sparse convolution).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...registry import Case, Comparison, Op, Paper, register
from . import csr
from .masks import unstructured_mask, unstructured_mask_reference

PAPER = Paper(
    key="yuan2021mest",
    title="MEST: Accurate and Fast Memory-Economic Sparse Training Framework on the Edge",
    venue="NeurIPS 2021",
    url="https://arxiv.org/abs/2110.14032",
)
METHOD = "unstructured"


# --- inputs ---------------------------------------------------------------------------------------

def _masked_weight(shape, sparsity, seed, empty_rows=False):
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(shape, generator=gen)
    m, _ = unstructured_mask(w, sparsity, by="random", generator=gen)
    if empty_rows and shape[0] > 1:
        m[::2] = False
    return w * m, m


def _csr_args(w, m):
    rp, col, val = csr.csr_from_mask(m, w)
    return rp, col, val


# (N, Cin, H, W, Cout, k, stride, pad)
_CONV = {
    "3x3s1p1": (2, 5, 9, 7, 6, 3, 1, 1),
    "3x3s2p1": (3, 4, 9, 10, 5, 3, 2, 1),
    "1x1s1": (2, 7, 5, 5, 3, 1, 1, 0),
    "1x1s2": (2, 3, 7, 6, 4, 1, 2, 0),
    "3x3s1p0": (1, 3, 6, 8, 4, 3, 1, 0),
    "3x3s2p0-odd": (2, 3, 11, 9, 3, 3, 2, 0),
    "5x5s1p2": (1, 2, 7, 7, 3, 5, 1, 2),
    "batch1-16ch": (1, 16, 8, 8, 16, 3, 1, 1),
    "wide-32x32": (1, 3, 32, 33, 2, 3, 1, 1),
    "tiny-1x1img": (3, 2, 1, 1, 2, 3, 1, 1),
    "empty-batch": (0, 3, 5, 5, 2, 3, 1, 1),
    # the pointwise SpMM path (1x1, stride 1, no padding): several pixel tiles per image with a
    # partial last vector, channel chunks (many nonzeros per row) forward / backward-data, and
    # images packed into one tile (7x7 planes, odd batch)
    "1x1s1-big": (2, 520, 13, 13, 9, 1, 1, 0),
    "1x1s1-wideout": (2, 9, 12, 12, 530, 1, 1, 0),
    "1x1s1-7x7": (3, 40, 7, 7, 24, 1, 1, 0),
}
_FULL_SWEEP = ("3x3s1p1", "3x3s2p1", "1x1s1-big", "1x1s1-wideout")
_SPARSITIES = (0.0, 0.5, 0.9, 0.99, 1.0)


def _conv_cases(stage):
    for name, (N, Cin, H, W, Cout, k, s, p) in _CONV.items():
        for sp in (_SPARSITIES if name in _FULL_SWEEP else (0.5, 0.9)):
            for empty_rows in ((False, True) if sp == 0.5 else (False,)):
                def make(N=N, Cin=Cin, H=H, W=W, Cout=Cout, k=k, s=s, p=p, sp=sp, er=empty_rows):
                    w, m = _masked_weight((Cout, Cin, k, k), sp, 1, er)
                    gen = torch.Generator().manual_seed(2)
                    x = torch.randn(N, Cin, H, W, generator=gen)
                    Ho, Wo = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
                    dy = torch.randn(N, Cout, Ho, Wo, generator=gen)
                    if sp == 0.9 and name in ("3x3s1p1", "1x1s1-big"):
                        x.zero_()  # all-zero activations
                    return {"weight": w, "mask": m, "x": x, "dy": dy, "stride": s, "padding": p}

                Ho, Wo = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
                red = {"forward": Cin * k * k, "backward_data": Cout * k * k, "weight_grad": N * Ho * Wo}[stage]
                yield Case(f"{name}-s{sp}" + ("-emptyrows" if empty_rows else ""), make,
                           Comparison.float32_reduction(red, scale=float(red) ** 0.5))


# b200-in600 / b37-out700: several batch tiles with a partial last vector and channel chunks
# (many nonzeros per row) in forward and backward-data
_LIN = {"odd": (7, 13, 5), "batch1": (1, 33, 17), "b64": (64, 40, 24), "b130": (130, 19, 31), "empty": (0, 8, 4),
        "b200-in600": (200, 600, 24), "b37-out700": (37, 11, 700)}


def _linear_cases(stage):
    for name, (B, fin, fout) in _LIN.items():
        for sp in (_SPARSITIES if name in ("odd", "b200-in600") else (0.5, 0.99)):
            def make(B=B, fin=fin, fout=fout, sp=sp):
                w, m = _masked_weight((fout, fin), sp, 3, sp == 0.5)
                gen = torch.Generator().manual_seed(4)
                return {"weight": w, "mask": m, "x": torch.randn(B, fin, generator=gen),
                        "dy": torch.randn(B, fout, generator=gen)}

            red = {"forward": fin, "backward_data": fout, "weight_grad": B}[stage]
            yield Case(f"{name}-s{sp}", make, Comparison.float32_reduction(red, scale=float(red) ** 0.5))


# --- references (torch on the masked dense weight) and kernels ---------------------------------

def conv_forward_ref(weight, mask, x, dy, stride, padding):
    return F.conv2d(x, weight * mask, stride=stride, padding=padding)


def conv_forward_kernel(weight, mask, x, dy, stride, padding, *, isa=None, threads=0):
    sw = csr.CSRWeight.from_dense(weight, mask)
    return sw.forward(x, csr.ConvGeometry(stride, padding), isa=isa, threads=threads)


def conv_backward_data_ref(weight, mask, x, dy, stride, padding):
    return torch.nn.grad.conv2d_input(x.shape, weight * mask, dy, stride=stride, padding=padding)


def conv_backward_data_kernel(weight, mask, x, dy, stride, padding, *, isa=None, threads=0):
    sw = csr.CSRWeight.from_dense(weight, mask)
    return sw.backward_data(dy, tuple(x.shape), csr.ConvGeometry(stride, padding), isa=isa, threads=threads)


def conv_weight_grad_sampled_ref(weight, mask, x, dy, stride, padding):
    dw = torch.nn.grad.conv2d_weight(x, weight.shape, dy, stride=stride, padding=padding)
    return dw.reshape(weight.shape[0], -1)[mask.reshape(weight.shape[0], -1)]  # row-major = CSR order


def conv_weight_grad_sampled_kernel(weight, mask, x, dy, stride, padding, *, isa=None, threads=0):
    sw = csr.CSRWeight.from_dense(weight, mask)
    return sw.weight_grad_sampled(x, dy, csr.ConvGeometry(stride, padding), isa=isa, threads=threads)


def linear_forward_ref(weight, mask, x, dy):
    return F.linear(x, weight * mask)


def linear_forward_kernel(weight, mask, x, dy, *, isa=None, threads=0):
    return csr.CSRWeight.from_dense(weight, mask).forward(x, isa=isa, threads=threads)


def linear_backward_data_ref(weight, mask, x, dy):
    return dy @ (weight * mask)


def linear_backward_data_kernel(weight, mask, x, dy, *, isa=None, threads=0):
    return csr.CSRWeight.from_dense(weight, mask).backward_data(dy, tuple(x.shape), isa=isa, threads=threads)


def linear_weight_grad_sampled_ref(weight, mask, x, dy):
    return (dy.T @ x)[mask]


def linear_weight_grad_sampled_kernel(weight, mask, x, dy, *, isa=None, threads=0):
    return csr.CSRWeight.from_dense(weight, mask).weight_grad_sampled(x, dy, isa=isa, threads=threads)





def csr_from_mask_ref(weight, mask):
    rows, K = weight.shape[0], int(torch.tensor(weight.shape[1:]).prod())
    m2 = mask.reshape(rows, K)
    counts = m2.sum(1, dtype=torch.int64)
    row_ptr = torch.cat([torch.zeros(1, dtype=torch.int64), counts.cumsum(0)]).to(torch.int32)
    col = m2.nonzero()[:, 1].to(torch.int32)
    return row_ptr, col, weight.reshape(rows, K)[m2]


def csr_from_mask_kernel(weight, mask, *, isa=None, threads=0):
    return csr.csr_from_mask(mask, weight, isa=isa, threads=threads)


def _from_mask_cases():
    for shape in ((0, 5), (5, 0), (1, 1), (7, 13), (6, 5, 3, 3), (64, 576)):
        for sp in ((0.0, 0.5, 0.99, 1.0) if shape == (7, 13) else (0.5,)):
            yield Case(f"{'x'.join(map(str, shape))}-s{sp}",
                       lambda shape=shape, sp=sp: dict(zip(("weight", "mask"), _masked_weight(shape, sp, 5, sp == 0.5))))


def mask_ref(weight, sparsity, by, seed):
    return unstructured_mask_reference(weight, sparsity, by, torch.Generator().manual_seed(seed))


def mask_kernel(weight, sparsity, by, seed, *, isa=None, threads=0):
    return unstructured_mask(weight, sparsity, by, torch.Generator().manual_seed(seed))


def _mask_cases():
    for shape in ((0,), (1,), (7, 13), (6, 5, 3, 3), (100, 100)):
        for sp in ((0.0, 0.3, 0.5, 0.99, 1.0) if shape == (7, 13) else (0.5,)):
            for by in ("magnitude", "random"):
                yield Case(f"{'x'.join(map(str, shape))}-s{sp}-{by}",
                           lambda shape=shape, sp=sp, by=by: {"weight": torch.randn(shape, generator=torch.Generator().manual_seed(6)),
                                                              "sparsity": sp, "by": by, "seed": 7})
    # ties: many equal magnitudes (quantized weights, both signs of zero)
    yield Case("ties-quantized", lambda: {"weight": torch.randint(-3, 4, (40, 30), generator=torch.Generator().manual_seed(8)).float(),
                                          "sparsity": 0.55, "by": "magnitude", "seed": 0})
    yield Case("ties-all-zero", lambda: {"weight": torch.zeros(9, 11), "sparsity": 0.5, "by": "magnitude", "seed": 0})


_CONV_OPS = [
    ("conv_forward", conv_forward_ref, conv_forward_kernel, "forward",
     "y = conv2d(x, W_csr): direct sparse convolution over the pre-padded, stride-phase-split input; register "
     "tile of images x output vectors per output channel, one broadcast + FMA per nonzero and vector"),
    ("conv_backward_data", conv_backward_data_ref, conv_backward_data_kernel, "backward_data",
     "dx = conv2d_input(W_csr, dy): the same kernel on the padded dy with the cached transposed CSR, one pass per "
     "stride residue class"),
    ("conv_weight_grad_sampled", conv_weight_grad_sampled_ref, conv_weight_grad_sampled_kernel, "weight_grad",
     "SDDMM: dW at the stored positions only, 8 nonzeros of a row per register tile, values order"),
]

for name, ref, ker, stage, doc in _CONV_OPS:
    register(Op(method=METHOD, name=name, paper=PAPER, reference=ref, kernel=ker,
                cases=lambda stage=stage: _conv_cases(stage), compare=Comparison.float32_reduction(1000),
                stages=(stage,), doc=doc))

# No op for CSRWeight.weight_grad_dense: its "kernel" is torch.nn.grad.conv2d_weight, the very call
# a reference would make, so cross-validating it would compare a call with itself.

for name, ref, ker, stage in (
    ("linear_forward", linear_forward_ref, linear_forward_kernel, "forward"),
    ("linear_backward_data", linear_backward_data_ref, linear_backward_data_kernel, "backward_data"),
    ("linear_weight_grad_sampled", linear_weight_grad_sampled_ref, linear_weight_grad_sampled_kernel, "weight_grad"),
):
    register(Op(method=METHOD, name=name, paper=PAPER, reference=ref, kernel=ker,
                cases=lambda stage=stage: _linear_cases(stage), compare=Comparison.float32_reduction(1000),
                stages=(stage,), doc="SpMM / SDDMM with register tiles over the batch (transposed activations)"))

register(Op(method=METHOD, name="csr_from_mask", paper=PAPER, reference=csr_from_mask_ref,
            kernel=csr_from_mask_kernel, cases=_from_mask_cases, compare=Comparison(exact=True, why="selection"),
            stages=("update",), doc="CSR (row_ptr, col_idx, values) from a mask and a dense weight"))

register(Op(native=False, method=METHOD, name="mask_generation", paper=PAPER, reference=mask_ref, kernel=mask_kernel,
            cases=_mask_cases, compare=Comparison(exact=True, why="selection with deterministic tie-break"),
            stages=("update",),
            doc="exactly round(s*numel) zeros at the smallest |w| (or random scores), ties by lower index"))
