"""MEST's lean mutation and sparse init (methods/mest/mutate.py, init.py, kernels/mest): the same
results as the readable reference, bad input refused before anything changes, and the memory a
mutation and an init take beyond what the layer holds, measured as peak RSS in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from sparsebench.formats.modules import SparseLinear
from sparsebench.methods.mest import kernels as ker
from sparsebench.methods.mest import reference as ref
from sparsebench.methods.mest.init import random_sparse_weight
from sparsebench.methods.mest.mutate import mutate


def test_lean_csr_mutation_equals_the_reference_path_with_momentum_and_counts():
    outs = {}
    for impl in ("kernel", "reference"):
        sw = random_sparse_weight((97, 130), "unstructured", 0.7, seed=4)
        layer = SparseLinear.from_sparse(sw, bias=False, threads=1)
        opt = torch.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9)
        layer(torch.randn(3, 130, generator=torch.Generator().manual_seed(0))).square().sum().backward()
        opt.step()
        with torch.no_grad():  # ties across the radix digits and signed zeros
            layer.values[::7] = 0.0
            layer.values[1::7] = -0.0
            layer.values[2::5] = 0.25
        res = [mutate(layer, k_p, k_g, optimizer=opt, seed=5 + i, impl=impl)
               for i, (k_p, k_g) in enumerate(((500, 500), (0, 300), (800, 0), (0, 0)))]
        outs[impl] = (layer.sw.row_ptr, layer.sw.col_idx, layer.values.detach(),
                      opt.state[layer.values]["momentum_buffer"], res)
    for a, b in zip(outs["kernel"][:4], outs["reference"][:4]):
        assert torch.equal(a, b)
    assert outs["kernel"][4] == outs["reference"][4]


def test_random_csr_and_grow_csr_equal_the_reference():
    for rows, K, nnz in ((7, 13, 0), (7, 13, 45), (7, 13, 46), (7, 13, 91), (64, 65, 100), (64, 65, 4000)):
        for a, b in zip(ker.random_csr(rows, K, nnz, 3), ref.random_csr(rows, K, nnz, 3)):
            assert torch.equal(a, b)
        rp, col = ref.random_csr(rows, K, nnz, 3)
        k = min(rows * K - nnz, 17)
        assert torch.equal(ker.grow_csr(rp, col, K, k, 9), ref.grow_csr(rp, col, K, k, 9))


def test_lean_kernels_refuse_bad_input_clearly():
    with pytest.raises(ValueError, match="NaN"):
        ker.select_drop(torch.tensor([1.0, float("nan")]), None, 1)
    with pytest.raises(TypeError, match="scores"):
        ker.select_drop(torch.tensor([1, 2]), None, 1)
    with pytest.raises(ValueError, match="k must be"):
        ker.select_drop(torch.tensor([1.0, 2.0]), None, 3)
    rp = torch.tensor([0, 2], dtype=torch.int32)
    with pytest.raises(ValueError, match="strictly increasing"):
        ker.grow_csr(rp, torch.tensor([3, 1], dtype=torch.int32), 5, 1, 0)
    with pytest.raises(ValueError, match="free positions"):
        ker.grow_csr(rp, torch.tensor([1, 3], dtype=torch.int32), 5, 4, 0)
    with pytest.raises(ValueError, match="nnz"):
        ker.random_csr(3, 4, 13, 0)
    with pytest.raises(ValueError, match="sparsity"):
        random_sparse_weight((2**16, 2**16), "unstructured", 0.0)  # 2**32 weights: beyond the int32 CSR


_CHILD = r"""
import json, sys, torch
from sparsebench.runners.memory import _fresh_malloc
from sparsebench.formats.modules import SparseLinear
from sparsebench.methods.mest.init import random_sparse_weight
from sparsebench.methods.mest.mutate import mutate
_fresh_malloc(); torch.set_num_threads(1)
def hwm():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM'):
            return int(line.split()[1]) * 1024
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS'):
            return int(line.split()[1]) * 1024
def reset():
    open('/proc/self/clear_refs', 'w').write('5')
shape, s = (2048, 2048), 0.5
reset(); r0 = rss()
sw = random_sparse_weight(shape, "unstructured", s, seed=0)
init_extra = hwm() - rss()
layer = SparseLinear.from_sparse(sw, bias=False, threads=1)
opt = torch.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9)
layer(torch.randn(4, shape[1])).square().mean().backward(); opt.step()
k = int(0.02 * sw.nnz)
reset(); r1 = rss()
mutate(layer, k, k, optimizer=opt, seed=1)
print(json.dumps({"nnz": sw.nnz, "init_extra": init_extra, "mutation_peak": hwm() - r1}))
"""


def test_mutation_and_init_memory_stay_near_the_layer_size():
    """Peak RSS in a fresh process (glibc maps large buffers: RSS follows the live arrays). A CSR
    kept weight holds 8 B (value + column); the mutation writes a new CSR and momentum (12 B per
    weight) and may hold 4 B of scores and 1 B of flags besides: well under 24 B per kept weight
    (the int64 lists, float64 scores and sorted copies it took before: ~80 B). The init holds one
    bit per weight and a chunk of draws beyond its CSR."""
    out = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    m = json.loads(out.stdout.strip().splitlines()[-1])
    per_kept = m["mutation_peak"] / m["nnz"]
    assert per_kept < 24, m
    assert m["init_extra"] < 8 * 2**20, m
