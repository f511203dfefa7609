"""Filter / channel scheme: masks, compaction and bad inputs."""

import pytest
import torch
import torch.nn.functional as F

from sparsebench.formats.base import ConvGeometry, SparseWeight
from sparsebench.formats.filter.format import FilterSparseWeight
from sparsebench.formats.filter.masks import filter_mask


@pytest.mark.parametrize("mode", ["filters", "channels", "both"])
@pytest.mark.parametrize("sp", [0.0, 0.5, 0.9, 1.0])
def test_mask_reaches_target(mode, sp):
    shape = (40, 30, 3, 3)
    fm = filter_mask(shape, sp, weight=torch.randn(shape), mode=mode)
    m = fm.dense()
    reached = 1.0 - m.sum().item() / m.numel()
    assert abs(reached - fm.sparsity) < 1e-9
    tol = {"filters": 1 / 40, "channels": 1 / 30, "both": 1 / 30 + 1 / 40}[mode]
    assert abs(reached - sp) <= tol


def test_l1_ranking_keeps_largest_filters():
    w = torch.randn(10, 4, 3, 3) * 0.01
    w[[2, 7]] *= 1000
    fm = filter_mask(w.shape, 0.8, weight=w)
    assert fm.out_idx.tolist() == [2, 7]


def test_roundtrip_and_stage_shapes():
    sw = FilterSparseWeight.random((16, 8, 3, 3), 0.75, mode="both", seed=1)
    assert isinstance(sw, SparseWeight)
    assert torch.equal(FilterSparseWeight.from_dense(sw.to_dense()).to_dense(), sw.to_dense())
    x = torch.randn(2, 8, 6, 6)
    g = ConvGeometry(2, 1)
    y = sw.forward(x, g)
    torch.testing.assert_close(y, F.conv2d(x, sw.to_dense(), stride=2, padding=1))
    assert sw.weight_grad_sampled(x, torch.randn_like(y), g).shape == sw.values.shape


def test_bad_inputs():
    with pytest.raises(ValueError, match="strictly increasing"):
        FilterSparseWeight((4, 4, 3, 3), [1, 1], [0], torch.zeros(18))
    with pytest.raises(ValueError, match="out of range"):
        FilterSparseWeight((4, 4, 3, 3), [5], [0], torch.zeros(9))
    with pytest.raises(ValueError, match="values must hold"):
        FilterSparseWeight((4, 4, 3, 3), [1], [0], torch.zeros(10))
    sw = FilterSparseWeight.random((4, 4, 3, 3), 0.5, seed=0)
    with pytest.raises(TypeError, match="float32"):
        sw.forward(torch.randn(1, 4, 5, 5).double())
    with pytest.raises(ValueError, match="does not fit"):
        sw.forward(torch.randn(1, 3, 5, 5))
