"""Every registered op: kernel vs reference, on every usable ISA variant, at 1 and 2 threads."""

import pytest

from sparsebench import kernels
from sparsebench.registry import all_ops, assert_agree


def _params():
    for op in all_ops():
        for case in op.cases():
            for isa in kernels.usable_isas():
                for threads in (1, 2):
                    yield pytest.param(op, case, isa, threads, id=f"{op.method}/{op.name}/{isa}/t{threads}/{case.id}")


@pytest.mark.parametrize("op,case,isa,threads", list(_params()))
def test_kernel_matches_reference(op, case, isa, threads):
    inputs = dict(case.make())
    expected = op.reference(**inputs)
    got = op.kernel(**inputs, isa=isa, threads=threads)
    assert_agree(got, expected, case.compare or op.compare, where=f"{op.id}[{isa}]")


def test_every_usable_variant_is_covered():
    assert set(kernels.usable_isas()) <= set(kernels.compiled_isas())
    assert "scalar" in kernels.usable_isas()
