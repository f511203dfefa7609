"""The kernels' opt-in phase timer (tools/rates/bounds.py reads it): silent when off, and when on
it attributes a phase-plane kernel's packing and unpacking to their 'layout:' passes."""

import torch

from sparsebench import _kernels
from sparsebench.formats.base import ConvGeometry
from sparsebench.formats.block.format import BlockSparseWeight


def _forward():
    w = BlockSparseWeight.random((16, 16, 3, 3), 0.5, seed=0)
    return w.forward(torch.randn(2, 16, 9, 9), ConvGeometry(1, 1), threads=1)


def test_off_by_default_records_nothing():
    _kernels.phase_times()
    _forward()
    assert _kernels.phase_times() == {}


def test_on_records_layout_and_plan_then_clears():
    _kernels.phase_times()
    _kernels.phase_profile(True)
    try:
        _forward()
    finally:
        _kernels.phase_profile(False)
    got = _kernels.phase_times()
    assert set(got) == {"layout:pack_input", "layout:unpack_output", "plan"} and all(v > 0 for v in got.values())
    assert _kernels.phase_times() == {}
