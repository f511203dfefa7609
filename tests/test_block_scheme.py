"""Block scheme: bad inputs raise clear errors; masks reach the target up to one unit."""

import numpy as np
import pytest
import torch

from sparsebench import _kernels
from sparsebench.formats.base import ConvGeometry, SparseWeight
from sparsebench.formats.block.format import BlockSparseWeight
from sparsebench.formats.block.masks import block_mask


def _w(shape=(8, 8, 3, 3), sp=0.5, block=(4, 4)):
    dense = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    return BlockSparseWeight.from_block_mask(block_mask(shape, sp, block=block, weight=dense), dense)


def test_protocol():
    assert isinstance(_w(), SparseWeight)


@pytest.mark.parametrize("shape", [(64, 64, 3, 3), (9, 5, 3, 3), (30, 70), (16, 3, 1, 1)])
@pytest.mark.parametrize("block", [(4, 4), (8, 1), (1, 8), (2, 2)])
@pytest.mark.parametrize("sp", [0.0, 0.3, 0.9, 0.99, 1.0])
@pytest.mark.parametrize("magnitude", [True, False])
def test_mask_reaches_target(shape, block, sp, magnitude):
    w = torch.randn(shape) if magnitude else None
    bm = block_mask(shape, sp, block=block, weight=w, seed=3)
    m = bm.dense()
    reached = 1.0 - m.sum().item() / m.numel()
    assert abs(reached - bm.sparsity) < 1e-9
    unit = block[0] * block[1] / m.numel()
    assert abs(reached - sp) <= unit / 2 + 1e-9 or abs(reached - sp) <= unit


def test_magnitude_keeps_largest_blocks():
    w = torch.zeros(8, 8, 1, 1)
    w[0:4, 4:8] = 5.0
    bm = block_mask(w.shape, 0.75, block=(4, 4), weight=w)
    assert torch.equal(bm.dense(), w != 0)


@pytest.mark.parametrize("structure", ["columns", "rows"])
def test_mest_structures_are_unions_of_units(structure):
    shape = (16, 16, 3, 3)
    bm = block_mask(shape, 0.5, block=(4, 1) if structure == "columns" else (1, 4), weight=torch.randn(shape),
                    structure=structure, group=(8, 8))
    m = bm.dense().permute(0, 2, 3, 1)  # (co, kh, kw, ci)
    if structure == "columns":  # whole 8-tall columns of one input channel kept or pruned together
        g = m.reshape(2, 8, 3, 3, 16)
        assert torch.all(g.all(1) | ~g.any(1))
    else:  # whole 8-wide rows of one output channel
        g = m.reshape(16, 3, 3, 2, 8)
        assert torch.all(g.all(-1) | ~g.any(-1))
    assert abs(bm.sparsity - 0.5) < 1e-9


def test_random_builds_without_dense_and_roundtrips():
    sw = BlockSparseWeight.random((20, 12, 3, 3), 0.8, block=(4, 4), seed=1)
    d = sw.to_dense()
    assert torch.equal(d != 0, sw.mask() & (d != 0))
    again = BlockSparseWeight.from_dense(d, sw.mask(), block=(4, 4))
    assert torch.equal(again.to_dense(), d)
    assert sw.nnz == int(sw.mask().sum())


def test_unaligned_mask_rejected():
    w = torch.randn(8, 8, 3, 3)
    m = torch.zeros_like(w, dtype=torch.bool)
    m[0, 0, 0, 0] = True
    with pytest.raises(ValueError, match="aligned"):
        BlockSparseWeight.from_dense(w, m)


def test_bad_inputs():
    sw = _w()
    x = torch.randn(2, 8, 5, 5)
    g = ConvGeometry(1, 1)
    with pytest.raises(TypeError, match="x must have dtype float32"):
        sw.forward(x.double(), g)
    with pytest.raises(ValueError, match="C-contiguous"):
        sw.forward(x.transpose(2, 3), g)
    with pytest.raises(ValueError, match="channels"):
        sw.forward(torch.randn(2, 7, 5, 5), g)
    with pytest.raises(ValueError, match="dy must have shape"):
        sw.backward_data(torch.randn(2, 8, 4, 4), x.shape, g)
    with pytest.raises(ValueError, match="stride"):
        sw.forward(x, ConvGeometry(0, 1))
    with pytest.raises(ValueError, match="smaller than the kernel"):
        sw.forward(torch.randn(1, 8, 1, 1), ConvGeometry(1, 0))
    args = dict(weight_shape=list(sw.shape), block=list(sw.block))
    col = sw.col.clone()
    col[0] = 10**6
    with pytest.raises(ValueError, match="out of range"):
        _kernels.bsr_conv_forward(x, sw.values, sw.row_ptr, col, stride=1, padding=1, **args)
    if sw.row_ptr[1] >= 2:
        col = sw.col.clone()
        col[1] = col[0]
        with pytest.raises(ValueError, match="strictly increasing"):
            _kernels.bsr_conv_forward(x, sw.values, sw.row_ptr, col, stride=1, padding=1, **args)
    rp = sw.row_ptr.clone()
    rp[1] = rp[2] + 1
    with pytest.raises(ValueError, match="row_ptr"):
        _kernels.bsr_conv_forward(x, sw.values, rp, sw.col, stride=1, padding=1, **args)
    with pytest.raises(ValueError, match="values must have shape"):
        _kernels.bsr_conv_forward(x, sw.values[:-1].contiguous(), sw.row_ptr, sw.col, stride=1, padding=1, **args)
    with pytest.raises(ValueError, match="block sizes"):
        _kernels.bsr_conv_forward(x, sw.values, sw.row_ptr, sw.col, sw.shape, [3, 4], 1, 1)
    with pytest.raises(TypeError, match="row_ptr must have dtype int32"):
        _kernels.bsr_conv_forward(x, sw.values, sw.row_ptr.long(), sw.col, stride=1, padding=1, **args)


def test_sgd_matches_torch_optim():
    sw = _w()
    p = torch.nn.Parameter(sw.values.clone())
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=1e-3)
    buf = torch.zeros_like(sw.values)
    for step in range(3):
        g = torch.randn(p.shape, generator=torch.Generator().manual_seed(step))
        p.grad = g.clone()
        opt.step()
        sw.sgd_update(g, buf, lr=0.1, momentum=0.9, weight_decay=1e-3)
    np.testing.assert_allclose(sw.values.numpy(), p.detach().numpy(), rtol=1e-6, atol=1e-7)


def test_sgd_bad_inputs():
    v = torch.zeros(10)
    with pytest.raises(ValueError, match="grad must have shape"):
        _kernels.sparse_sgd_update(v, torch.zeros(9), torch.zeros(10), lr=0.1)
    with pytest.raises(ValueError, match="alias"):
        _kernels.sparse_sgd_update(v, torch.zeros(10), v, lr=0.1)
