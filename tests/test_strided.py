"""Intra-kernel strided sparsity: the grid mask, bad strides, and the compacted convolution
against the masked dense one (the registry op cross-validates it on every ISA)."""

import pytest
import torch
import torch.nn.functional as F

from sparsebench.methods.strided import bench, reference
from sparsebench.methods.strided.kernels import StridedConv2d


def test_grid_mask_is_shared_by_every_kernel_of_a_map():
    offs = torch.tensor([[0, 0], [1, 1], [0, 1]])
    m = reference.tap_mask(3, 3, 3, 2, offs)
    assert m[0].nonzero().tolist() == [[0, 0], [0, 2], [2, 0], [2, 2]]
    assert m[1].nonzero().tolist() == [[1, 1]]
    assert m[2].sum() == 2
    w = torch.randn(5, 3, 3, 3)
    wm = reference.apply(w, 2, offs)
    assert all(torch.equal(wm[i] != 0, m) for i in range(5))


@pytest.mark.parametrize("m", [0, 4, -1])
def test_stride_outside_the_kernel_is_refused(m):
    with pytest.raises(ValueError, match="stride m"):
        reference.tap_mask(2, 3, 3, m, torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="offsets"):
        reference.tap_mask(2, 3, 3, 2, torch.full((2, 2), 2))


def test_compacted_conv_equals_masked_dense_and_drops_columns():
    x, w = torch.randn(2, 4, 10, 10), torch.randn(6, 4, 5, 5)
    offs = reference.offsets(4, 2, seed=1)
    conv = StridedConv2d(w, 2, offs, 1, 2)
    torch.testing.assert_close(conv(x), F.conv2d(x, reference.apply(w, 2, offs), padding=2), rtol=1e-4, atol=1e-4)
    kept = int(reference.tap_mask(4, 5, 5, 2, offs).sum())
    assert conv.compact.kept_cols == kept and conv.density == pytest.approx(kept / 100)
    from sparsebench.catalogue import profile

    cs = list(bench.cases(profile("full")))
    assert cs and all(bench.accepts(c) for c in cs)
    assert not any(c.layer.startswith("r50-1x1") for c in cs)  # a 1x1 kernel holds no stride-2 grid
