"""CSR format and kernels of the unstructured scheme: bad inputs, properties, protocol."""

import numpy as np
import pytest
import torch

from sparsebench import _kernels
from sparsebench.formats.unstructured import csr
from sparsebench.formats.base import ConvGeometry, SparseWeight
from sparsebench.formats.unstructured.masks import num_zeros, unstructured_mask


def _sw(shape=(4, 3, 3, 3), sp=0.5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(shape, generator=gen)
    m, _ = unstructured_mask(w, sp, by="random", generator=gen)
    return csr.CSRWeight.from_dense(w * m, m), w * m, m


def test_protocol_and_roundtrip():
    sw, w, m = _sw()
    assert isinstance(sw, SparseWeight)
    assert sw.scheme == "unstructured"
    assert torch.equal(sw.to_dense(), w)
    assert torch.equal(sw.mask(), m)
    assert sw.nnz == int(m.sum())
    assert sw.tensor_bytes() == 4 * (sw.rows + 1 + 2 * sw.nnz)


def test_from_indices_matches_from_mask():
    sw, w, m = _sw((5, 7))
    r, c = m.nonzero(as_tuple=True)
    sw2 = csr.CSRWeight.from_indices(r, c, w[m].contiguous(), (5, 7))
    assert torch.equal(sw2.row_ptr, sw.row_ptr) and torch.equal(sw2.col_idx, sw.col_idx)
    assert torch.equal(sw2.to_dense(), w)


@pytest.mark.parametrize(
    "rows,cols,msg",
    [
        ([0, 0, 1], [1, 1, 0], "duplicate"),
        ([0, 0, 1], [2, 1, 0], "unsorted"),
        ([1, 0], [0, 0], "unsorted"),
        ([0, 5], [0, 0], "out of range"),
        ([0, 1], [0, 7], "out of range"),
        ([0, -1], [0, 0], "out of range"),
    ],
)
def test_from_indices_rejects(rows, cols, msg):
    v = torch.ones(len(rows))
    with pytest.raises(ValueError, match=msg):
        csr.CSRWeight.from_indices(torch.tensor(rows), torch.tensor(cols), v, (2, 7))


def test_from_indices_types():
    with pytest.raises(TypeError):
        csr.csr_from_indices(torch.tensor([0.0]), torch.tensor([0]), torch.ones(1), (1, 1))
    with pytest.raises(TypeError):
        csr.csr_from_indices(torch.tensor([0]), torch.tensor([0]), torch.ones(1, dtype=torch.float64), (1, 1))


def test_validate_rejects_bad_csr():
    rp = np.array([0, 2, 3], np.int32)
    col = np.array([0, 2, 1], np.int32)
    csr.csr_validate(rp, col, 2, 3)
    with pytest.raises(ValueError, match="strictly increasing"):
        csr.csr_validate(rp, np.array([2, 0, 1], np.int32), 2, 3)
    with pytest.raises(ValueError, match="duplicate"):
        csr.csr_validate(rp, np.array([1, 1, 1], np.int32), 2, 3)
    with pytest.raises(ValueError, match="out of range"):
        csr.csr_validate(rp, np.array([0, 3, 1], np.int32), 2, 3)
    with pytest.raises(ValueError, match="nondecreasing"):
        csr.csr_validate(np.array([0, 3, 2, 3], np.int32), np.array([0, 1, 2], np.int32), 3, 3)
    with pytest.raises(ValueError, match="row_ptr"):
        csr.csr_validate(np.array([1, 2, 3], np.int32), col, 2, 3)
    with pytest.raises(TypeError, match="int32"):
        csr.csr_validate(rp.astype(np.int64), col, 2, 3)
    with pytest.raises(ValueError, match="shape"):
        csr.csr_validate(rp, col, 3, 3)


def test_conv_kernels_reject_bad_inputs():
    sw, w, m = _sw()
    x = torch.randn(2, 3, 6, 6)
    g = ConvGeometry(1, 1)
    with pytest.raises(TypeError, match="x must have dtype float32"):
        sw.forward(x.double(), g)
    with pytest.raises(ValueError, match="C-contiguous"):
        sw.forward(x.transpose(2, 3), g)
    with pytest.raises(ValueError, match="channels"):
        sw.forward(torch.randn(2, 4, 6, 6), g)
    with pytest.raises(ValueError, match="4-D"):
        sw.forward(torch.randn(3, 6, 6), g)
    with pytest.raises(ValueError, match="stride"):
        sw.forward(x, ConvGeometry(0, 1))
    with pytest.raises(ValueError, match="smaller than the kernel"):
        sw.forward(torch.randn(2, 3, 1, 1), ConvGeometry(1, 0))
    dy = torch.randn(2, 4, 6, 6)
    with pytest.raises(ValueError, match="dy must have shape"):
        sw.backward_data(torch.randn(2, 4, 5, 6), tuple(x.shape), g)
    with pytest.raises(ValueError, match="dy must have shape"):
        sw.weight_grad_sampled(x, torch.randn(2, 4, 6, 5), g)
    with pytest.raises(ValueError, match="values must have shape"):
        csr.conv_forward(sw.row_ptr, sw.col_idx, sw.values[:-1], x, sw.shape, 1, 1)
    with pytest.raises(ValueError, match="tsrc|tptr|tco"):
        t = list(sw.transposed(1))
        t[1] = t[1].clone()
        t[1][0] = 10**6
        csr.conv_backward_data(sw.values, t, dy, tuple(x.shape), sw.shape, 1, 1)
    with pytest.raises(ValueError, match="isa"):
        sw.forward(x, g, isa="nope")


def test_linear_kernels_reject_bad_inputs():
    sw, w, m = _sw((5, 7))
    with pytest.raises(ValueError, match="row_ptr|col_idx|out of range"):
        sw.forward(torch.randn(3, 6))
    with pytest.raises(ValueError, match="batch"):
        sw.weight_grad_sampled(torch.randn(3, 7), torch.randn(4, 5))
    with pytest.raises(TypeError):
        sw.forward(torch.randn(3, 7, dtype=torch.float64))


def test_from_mask_rejects_mismatch():
    w = torch.randn(3, 4)
    with pytest.raises(ValueError, match="does not match"):
        csr.csr_from_mask(torch.ones(3, 5, dtype=torch.bool), w)
    with pytest.raises(TypeError, match="bool or uint8"):
        csr.csr_from_mask(torch.ones(3, 4), w)
    with pytest.raises(ValueError, match="contiguous"):
        csr.csr_from_mask(torch.ones(4, 3, dtype=torch.bool).T, w)
    with pytest.raises(ValueError, match="contiguous"):
        csr.csr_from_mask(torch.ones(3, 4, dtype=torch.bool), torch.randn(4, 3).T)


@pytest.mark.parametrize("numel", [1, 7, 100, 4608])
@pytest.mark.parametrize("sp", [0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0])
@pytest.mark.parametrize("by", ["magnitude", "random"])
def test_mask_reaches_target_exactly(numel, sp, by):
    w = torch.randn(numel)
    m, reached = unstructured_mask(w, sp, by=by, generator=torch.Generator().manual_seed(0))
    assert int((~m).sum()) == num_zeros(numel, sp) == round(sp * numel)
    assert reached == pytest.approx(round(sp * numel) / numel)
    if by == "magnitude" and 0 < int(m.sum()) < numel:
        assert w[m].abs().min() >= w[~m].abs().max()


def test_mask_ties_are_deterministic():
    w = torch.ones(10)
    m, _ = unstructured_mask(w, 0.3)
    assert m.tolist() == [False] * 3 + [True] * 7  # lower index pruned first


def test_mask_rejects_bad_arguments():
    with pytest.raises(ValueError):
        unstructured_mask(torch.randn(4), 1.5)
    with pytest.raises(ValueError):
        unstructured_mask(torch.randn(4), 0.5, by="l2")
    with pytest.raises(ValueError, match="NaN"):
        unstructured_mask(torch.tensor([1.0, float("nan")]), 0.5)
    with pytest.raises(ValueError, match="nzero"):
        _kernels.select_smallest_mask(np.ones(3, np.float32), 4)


def test_sgd_update_in_place_and_alias():
    sw, w, m = _sw((6, 9))
    g = torch.randn(sw.nnz)
    buf = torch.zeros(sw.nnz)
    v0 = sw.values.clone()
    sw.sgd_update(g, buf, lr=0.1, momentum=0.9, weight_decay=0.01)
    assert torch.allclose(sw.values, v0 - 0.1 * (g + 0.01 * v0), rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="alias"):
        sw.sgd_update(g, sw.values, lr=0.1, momentum=0.9, weight_decay=0.0)
    with pytest.raises(ValueError, match="momentum_buf must have shape"):
        sw.sgd_update(g, torch.zeros(sw.nnz + 1), lr=0.1, momentum=0.9, weight_decay=0.0)


def test_transposed_is_cached_and_survives_value_updates():
    sw, w, m = _sw((8, 5, 3, 3), 0.7)
    t1 = sw.transposed(2)
    assert sw.transposed(2) is t1
    sw.values.mul_(2.0)
    x = torch.randn(2, 5, 9, 9)
    dy = torch.randn(2, 8, 5, 5)
    dx = sw.backward_data(dy, tuple(x.shape), ConvGeometry(2, 1))
    ref = torch.nn.grad.conv2d_input(x.shape, sw.to_dense(), dy, stride=2, padding=1)
    assert torch.allclose(dx, ref, rtol=1e-4, atol=1e-4)


def test_numpy_in_numpy_out():
    sw, w, m = _sw((5, 7))
    x = np.random.default_rng(0).standard_normal((3, 7)).astype(np.float32)
    y = csr.linear_forward(sw.row_ptr.numpy(), sw.col_idx.numpy(), sw.values.numpy(), x, 5)
    assert isinstance(y, np.ndarray)
    assert np.allclose(y, x @ w.numpy().T, atol=1e-5)
