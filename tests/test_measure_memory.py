import dataclasses
import warnings

import numpy as np
import pytest
import torch

from sparsebench.measure import (
    PeakDelta,
    can_reset_peak,
    measure_peak_delta,
    peak_rss_bytes,
    rss_bytes,
    tensor_bytes,
)
from sparsebench.measure import memory as memory_mod

MB = 2**20
needs_reset = pytest.mark.skipif(not can_reset_peak(), reason="peak RSS cannot be reset here")


def test_rss_readings_are_plausible():
    rss, peak = rss_bytes(), peak_rss_bytes()
    assert rss > 10 * MB  # a Python process with numpy and torch loaded
    assert peak >= rss


@needs_reset
def test_peak_delta_sees_a_200mb_allocation():
    def stage():
        a = np.ones(200 * MB // 8)  # np.ones touches every page; np.empty would not
        return a.shape

    pd = measure_peak_delta(stage)
    assert pd.method == "clear_refs"
    assert pd.result == (200 * MB // 8,)
    assert pd.peak_delta_bytes >= 190 * MB
    assert pd.peak_delta_bytes < 400 * MB


@needs_reset
def test_peak_is_reset_so_an_earlier_peak_does_not_leak_in():
    big = np.ones(200 * MB // 8)
    del big  # freed and unmapped: RSS falls, but the lifetime peak stays high
    pd = measure_peak_delta(lambda: None)
    assert pd.method == "clear_refs"
    assert 0 <= pd.peak_delta_bytes < 50 * MB


@needs_reset
def test_peak_delta_sees_a_torch_allocation():
    # in a long test process the allocator may hold freed heap pages already resident (glibc raises
    # its mmap threshold after large frees): allocate more than any earlier test freed, touch it all
    pd = measure_peak_delta(lambda: float(torch.ones(50 * MB // 4).sum()))
    if pd.peak_delta_bytes < 45 * MB:  # reused resident pages: measure in a fresh process instead
        import subprocess
        import sys

        code = ("import torch; from sparsebench.measure import measure_peak_delta as m; "
                "print(m(lambda: float(torch.ones(%d).sum())).peak_delta_bytes)" % (50 * MB // 4))
        fresh = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                   check=True).stdout.strip().splitlines()[-1])
        assert fresh >= 45 * MB
        return
    assert pd.peak_delta_bytes >= 45 * MB
    assert pd.result == 50 * MB // 4


def test_unavailable_reports_none_not_a_number(monkeypatch):
    monkeypatch.setattr(memory_mod, "can_reset_peak", lambda: False)
    pd = measure_peak_delta(lambda: "out")
    assert pd.peak_delta_bytes is None
    assert pd.method == "unavailable"
    assert pd.result == "out"


def test_to_dict_excludes_result():
    pd = PeakDelta(123, "clear_refs", result=np.zeros(3))
    assert pd.to_dict() == {"peak_delta_bytes": 123, "method": "clear_refs"}


# --- tensor_bytes ----------------------------------------------------------------------------


def test_plain_tensors_and_arrays():
    assert tensor_bytes(torch.zeros(100)) == 400
    assert tensor_bytes(torch.zeros(10, dtype=torch.float64)) == 80
    assert tensor_bytes(np.zeros(10, dtype=np.int32)) == 40
    assert tensor_bytes(torch.zeros(100), np.zeros(10)) == 480
    assert tensor_bytes() == 0
    assert tensor_bytes(None, 3, "text", [1.0]) == 0


def test_views_count_their_storage_once_in_full():
    t = torch.zeros(10, 10)
    assert tensor_bytes(t, t.t(), t[2:5], t.view(-1)) == 400
    assert tensor_bytes(t[0]) == 400  # the slice keeps the whole storage alive
    a = np.zeros((10, 10))
    assert tensor_bytes(a, a[3:], a.T, a.reshape(-1)) == 800
    assert tensor_bytes(a[::2]) == 800


def test_torch_numpy_sharing_counts_once():
    a = np.zeros(100, dtype=np.float32)
    assert tensor_bytes(a, torch.from_numpy(a)) == 400
    assert tensor_bytes(a, torch.from_numpy(a[10:])) == 400
    t = torch.zeros(50)
    assert tensor_bytes(t, t.numpy()) == 200
    assert tensor_bytes(t.numpy()[5:]) == 200


def test_distinct_storages_add_up():
    a, b = torch.zeros(10), torch.zeros(10)
    assert tensor_bytes(a, b) == 80
    assert tensor_bytes(a, a.clone()) == 80


def test_nested_containers_and_dataclasses():
    @dataclasses.dataclass
    class State:
        weight: torch.Tensor
        extra: dict

    w = torch.zeros(100)
    state = State(weight=w, extra={"m": [torch.zeros(10), (np.zeros(5),)], "w_again": w})
    assert tensor_bytes(state) == 400 + 40 + 40
    assert tensor_bytes([state, {"s": state}], w) == 480


def test_cycles_do_not_recurse_forever():
    box = [torch.zeros(4)]
    box.append(box)
    assert tensor_bytes(box) == 16


def _csr(index_dtype):
    # Built from fresh component tensors so each one owns exactly its own storage.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "sparse CSR support is in beta"
        return torch.sparse_csr_tensor(
            torch.tensor([0, 1, 1, 2, 2, 2, 4], dtype=index_dtype),
            torch.tensor([1, 3, 0, 7], dtype=index_dtype),
            torch.ones(4),
            (6, 8),
        )


@pytest.mark.parametrize("index_dtype, index_bytes", [(torch.int64, 8), (torch.int32, 4)])
def test_sparse_csr_counts_crow_col_values(index_dtype, index_bytes):
    csr = _csr(index_dtype)
    nnz, rows = 4, 6
    expected = (rows + 1) * index_bytes + nnz * index_bytes + nnz * 4
    assert tensor_bytes(csr) == expected
    # The values are the CSR's own storage: passing them too changes nothing.
    assert tensor_bytes(csr, csr.values()) == expected
    # A dense original is a separate storage.
    assert tensor_bytes(csr, torch.zeros(6, 8)) == expected + 6 * 8 * 4


def test_to_sparse_csr_counts_what_its_storages_really_hold():
    dense = torch.zeros(6, 8)
    dense[0, 1] = dense[2, 3] = dense[5, 7] = dense[5, 0] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        csr = dense.to_sparse_csr()
    parts = (csr.crow_indices(), csr.col_indices(), csr.values())
    held = sum(p.untyped_storage().nbytes() for p in parts)
    assert tensor_bytes(csr) == held
    # torch 2.13: col_indices is a view into the 2 x nnz int64 COO index buffer the conversion
    # went through, so that buffer (rows too) stays alive: more than the textbook CSR size.
    assert held >= 7 * 8 + 4 * 8 + 4 * 4


def test_sparse_coo_counts_indices_and_values():
    coo = torch.sparse_coo_tensor(torch.tensor([[0, 1, 2], [2, 0, 1]]), torch.ones(3), (3, 3))
    assert tensor_bytes(coo) == 2 * 3 * 8 + 3 * 4


def test_module_parameters_and_buffers():
    lin = torch.nn.Linear(10, 5)  # weight 50 + bias 5 floats
    bn = torch.nn.BatchNorm1d(4)  # weight, bias, running_mean, running_var (4 each), num_batches
    assert tensor_bytes(lin) == 55 * 4
    assert tensor_bytes(bn) == 16 * 4 + 8
