"""pytest-benchmark microbenchmarks of every method's catalogue cases: ours and each baseline.

    python -m pytest bench --benchmark-only --benchmark-json=bench.json [--profile full]
    sparsebench import-benchmark bench.json      # -> result records in results/
    python -m pytest bench --profile smoke --benchmark-disable   # short mode (CI): each case runs once
"""

import pytest
import torch

from sparsebench.cases import Unavailable
from sparsebench.methods import build


def test_stage(benchmark, case, impl):
    try:
        bench = build(case)
    except Unavailable as exc:
        pytest.skip(str(exc))
    assert impl in bench.impls, f"{case.id}: impl_names lists {impl} but build() has no such implementation"
    benchmark.group = case.id
    benchmark.extra_info.update(
        {"case": case.to_dict(), "impl": impl, "dense_flops": bench.dense_flops,
         "effective_flops": bench.effective_flops, "tensor_bytes": bench.tensor_bytes.get(impl),
         "bytes_moved": bench.bytes_moved, **bench.info}
    )
    before = torch.get_num_threads()
    torch.set_num_threads(case.threads)
    try:
        benchmark.pedantic(bench.impls[impl], rounds=5, iterations=1, warmup_rounds=1)
    finally:
        torch.set_num_threads(before)
