"""pytest-benchmark microbenchmarks of every catalogue case: ours and each baseline.

    python -m pytest bench --benchmark-only --benchmark-json=bench.json [--profile full]
    sparsebench import-benchmark bench.json      # -> result records in results/
"""

import pytest
import torch

from sparsebench.harness.stages import Unavailable, build


@pytest.mark.parametrize("impl", ["sparsebench", "torch-dense", "torch-sparse", "torch-reference"])
def test_stage(benchmark, case, impl):
    try:
        bench = build(case)
    except Unavailable as exc:
        pytest.skip(str(exc))
    if impl not in bench.impls:
        pytest.skip(f"{impl} has no {case.stage} stage")
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
