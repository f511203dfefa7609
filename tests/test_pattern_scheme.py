"""Pattern scheme: masks, format invariants and bad inputs."""

import pytest
import torch

from sparsebench import _kernels
from sparsebench.formats.base import ConvGeometry, SparseWeight
from sparsebench.formats.pattern.format import PatternSparseWeight
from sparsebench.formats.pattern.masks import PATTERN_LIBRARY, pattern_mask


def test_library_has_at_least_4_patterns_of_4_taps():
    assert PATTERN_LIBRARY.shape[0] >= 4 and PATTERN_LIBRARY.shape[1] == 4
    assert len({tuple(sorted(r.tolist())) for r in PATTERN_LIBRARY}) == PATTERN_LIBRARY.shape[0]


@pytest.mark.parametrize("sp", [5 / 9, 0.7, 0.9, 0.99, 1.0])
@pytest.mark.parametrize("magnitude", [True, False])
def test_mask_reaches_target_and_keeps_4_taps(sp, magnitude):
    shape = (32, 24, 3, 3)
    w = torch.randn(shape) if magnitude else None
    pm = pattern_mask(shape, sp, weight=w)
    m = pm.dense()
    per = m.reshape(32, 24, 9).sum(-1)
    assert torch.all((per == 0) | (per == 4))
    reached = 1.0 - m.sum().item() / m.numel()
    assert abs(reached - pm.sparsity) < 1e-9
    assert abs(reached - sp) <= 4 / (9 * 32 * 24) / 2 + 1e-9
    sw = PatternSparseWeight.from_pattern_mask(pm, w)
    assert isinstance(sw, SparseWeight)
    assert torch.equal(sw.mask(), m)


def test_sparsity_below_5_9_rejected():
    with pytest.raises(ValueError, match="5/9"):
        pattern_mask((4, 4, 3, 3), 0.5)
    with pytest.raises(ValueError, match="3x3"):
        pattern_mask((4, 4, 1, 1), 0.9)


def test_magnitude_picks_best_pattern():
    w = torch.zeros(1, 1, 3, 3)
    w.view(9)[[4, 5, 7, 8]] = torch.tensor([1.0, 2.0, 3.0, 4.0])
    pm = pattern_mask(w.shape, 5 / 9, weight=w)
    assert torch.equal(pm.dense(), w != 0)


def test_from_dense_rejects_non_pattern_kernel():
    w = torch.zeros(2, 2, 3, 3)
    w[0, 0, 0, 0] = 1.0
    w[0, 0, 2, 2] = 1.0
    with pytest.raises(ValueError, match="no pattern"):
        PatternSparseWeight.from_dense(w)


def test_bad_inputs():
    sw = PatternSparseWeight.random((8, 6, 3, 3), 0.8, seed=2)
    x = torch.randn(2, 6, 5, 5)
    g = ConvGeometry(1, 1)
    args = dict(library=sw.library, weight_shape=list(sw.shape), stride=1, padding=1)
    with pytest.raises(TypeError, match="float32"):
        sw.forward(x.double(), g)
    with pytest.raises(ValueError, match="C-contiguous"):
        sw.forward(x.transpose(2, 3), g)
    kci = sw.kci.clone()
    kci[0] = 99
    with pytest.raises(ValueError, match="out of range"):
        _kernels.pattern_conv_forward(x, sw.values, sw.gptr, kci, **args)
    # the same kernel stored under two patterns
    gptr = torch.tensor([0] * 8 + [2] * (8 * 8 - 7), dtype=torch.int32)
    gptr[1:8] = torch.tensor([1, 1, 1, 1, 1, 1, 1], dtype=torch.int32)
    dup_kci = torch.tensor([3, 3], dtype=torch.int32)
    with pytest.raises(ValueError, match="twice"):
        _kernels.pattern_conv_forward(x, torch.zeros(8), gptr, dup_kci, **args)
    bad_lib = sw.library.clone()
    bad_lib[0, 1] = bad_lib[0, 0]
    with pytest.raises(ValueError, match="repeats"):
        _kernels.pattern_conv_forward(x, sw.values, sw.gptr, sw.kci, bad_lib, list(sw.shape), 1, 1)
    with pytest.raises(ValueError, match="3x3"):
        _kernels.pattern_conv_forward(x, sw.values, sw.gptr, sw.kci, sw.library, [8, 6, 1, 1], 1, 1)
