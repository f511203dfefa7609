"""The ARM tier's test-vector tooling (tools/arm), exercised on x86 without qemu.

Keeps the tooling honest as ops are added: every registered op must be recordable and replay
cleanly on the x86 variants, the torch-free comparison must mirror the registry's, and a wrong
kernel output must be caught.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from sparsebench import _kernels, kernels
from sparsebench.registry import Comparison, all_ops, assert_agree

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools", "arm"))
import record  # noqa: E402
import vectors  # noqa: E402


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("arm") / "vectors.npz")
    assert record.main(["-o", path, "--max-elements", "200000"]) == 0
    return vectors.load(path)


def test_every_op_recorded(recorded):
    manifest, _ = recorded
    assert [op["id"] for op in manifest["ops"]] == [op.id for op in all_ops()]
    native = {op.id: op.native for op in all_ops()}
    for op in manifest["ops"]:
        assert op["cases"], f"{op['id']}: no case small enough for the ARM tier"
        if native[op["id"]]:  # PyTorch-only ops (format conversions, compacted dense) have none
            assert any(case["calls"] for case in op["cases"]), f"{op['id']}: no raw kernel call recorded"


def test_recorder_restores_the_module(recorded):
    for name, fn in vectors.kernel_functions(_kernels).items():
        assert type(fn).__name__ == "builtin_function_or_method", f"{name} still wrapped"


def test_replay_clean_on_every_x86_variant(recorded):
    manifest, arrays = recorded
    lines: list[str] = []
    tally = vectors.replay(_kernels, manifest, arrays, kernels.usable_isas(), [1, 2], log=lines.append)
    assert tally.failed == 0, "\n".join(lines)
    assert tally.passed == sum(len(op["cases"]) for op in manifest["ops"]) * len(kernels.usable_isas()) * 2


def _array_refs(tree):
    """Keys of the arrays an encoded value refers to."""
    if isinstance(tree, dict) and tree.get("t") == "nd":
        yield tree["k"]
    elif isinstance(tree, dict) and isinstance(tree.get("v"), (list, dict)):
        for v in tree["v"].values() if isinstance(tree["v"], dict) else tree["v"]:
            yield from _array_refs(v)


def test_replay_catches_a_wrong_output(recorded):
    manifest, arrays = recorded
    arrays = {k: np.array(arrays[k]) for k in arrays.files}
    for op in manifest["ops"]:
        for case in op["cases"]:
            for call in case["calls"]:
                inputs = set(_array_refs(call["args"])) | set(_array_refs(call["kwargs"]))
                for key in set(_array_refs(call["out"])) - inputs:  # arrays are shared by content
                    a = arrays[key]
                    if a.size and np.issubdtype(a.dtype, np.floating):
                        # A recorded output element made wrong (doubled, off by one ulp if zero): must fail.
                        a.flat[a.size // 2] = np.nextafter(a.flat[a.size // 2] * 2, np.float32(np.inf))
                        one = {"ops": [{**op, "cases": [case]}]}
                        lines: list[str] = []
                        tally = vectors.replay(_kernels, one, arrays, ["scalar"], [1], log=lines.append)
                        assert tally.failed == 1, "\n".join(lines)
                        return
    pytest.skip("no op records a float array output")


_EXACT = Comparison(exact=True)
_TOL = Comparison(rtol=1e-5, atol=1e-6, why="test")


@pytest.mark.parametrize(
    "got,ref,rule",
    [
        (np.float32([1, 2]), np.float32([1, 2]), _EXACT),
        (np.float32([1, np.nan]), np.float32([1, np.nan]), _EXACT),
        (np.float32([0.0]), np.float32([-0.0]), _EXACT),
        (np.float32([1, 2]), np.float32([1, np.nextafter(np.float32(2), np.float32(3))]), _EXACT),
        (np.float32([1, 2]), np.float32([1, np.nextafter(np.float32(2), np.float32(3))]), _TOL),
        (np.float32([1, 2.1]), np.float32([1, 2]), _TOL),
        (np.int32([1, 2]), np.int32([1, 3]), _TOL),
        (np.float32([1, 2]), np.float64([1, 2]), _TOL),
        (np.float32([1, 2]), np.float32([1, 2, 3]), _TOL),
        ((np.float32([1]), 3), (np.float32([1]), 3), _EXACT),
        ((np.float32([1]), 3), (np.float32([1]), 4), _EXACT),
        (1.0, 1.0 + 1e-7, _TOL),
        (1.0, 1.0 + 1e-7, _EXACT),
        ({"a": np.float32([1])}, {"a": np.float32([1])}, _EXACT),
    ],
)
def test_comparison_mirrors_registry(got, ref, rule):
    def outcome(f):
        try:
            f()
            return True
        except AssertionError:
            return False

    mine = outcome(lambda: vectors.agree(got, ref, vectors.Rule(rule.exact, rule.rtol, rule.atol, rule.why)))
    theirs = outcome(lambda: assert_agree(got, ref, rule))
    assert mine == theirs
