"""pytest front end of replay.py: one test per (op, variant, threads, recorded case).

Configured by environment (tools/arm/run_tier.sh sets them):
  SB_ARM_VECTORS   the .npz written by record.py (required)
  SB_ARM_KERNELS   extension file to load standalone (default: installed sparsebench._kernels)
  SB_ARM_ISAS      comma-separated variants (default: every usable variant of the build)
  SB_ARM_THREADS   comma-separated thread counts (default: 1,2)
  SB_ARM_REQUIRE   comma-separated variants that must be among them (e.g. neon)
numpy only, no torch: runs in the aarch64 sysroot under qemu.
"""

from __future__ import annotations

import collections
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import replay  # noqa: E402
import vectors  # noqa: E402

_VECTORS = os.environ.get("SB_ARM_VECTORS")
if not _VECTORS:
    pytest.skip("SB_ARM_VECTORS is not set (see tools/arm/run_tier.sh)", allow_module_level=True)
KERNELS = replay.load_extension(os.environ.get("SB_ARM_KERNELS") or None)
MANIFEST, ARRAYS = vectors.load(_VECTORS)
USABLE = list(KERNELS.usable_isas())
ISAS = [i for i in os.environ.get("SB_ARM_ISAS", "").split(",") if i] or USABLE
THREADS = [int(t) for t in os.environ.get("SB_ARM_THREADS", "1,2").split(",") if t]
REQUIRE = [i for i in os.environ.get("SB_ARM_REQUIRE", "").split(",") if i]
# Per (op, isa, threads): [passed, failed], printed at the end by conftest.py.
TALLY: dict[tuple[str, str, int], list[int]] = collections.defaultdict(lambda: [0, 0])


def _params():
    for op in MANIFEST["ops"]:
        for isa in ISAS:
            for threads in THREADS:
                for case in op["cases"]:
                    yield pytest.param(op, isa, threads, case, id=f"{op['id']}[{isa}-t{threads}]/{case['id']}")


def test_variants_present():
    missing = [i for i in REQUIRE if i not in ISAS]
    assert not missing, f"required variants {missing} not replayed (usable here: {USABLE})"
    assert set(ISAS) <= set(USABLE), f"requested {ISAS}, usable {USABLE}"


def test_recorded_functions_exist():
    recorded = {c["fn"] for op in MANIFEST["ops"] for case in op["cases"] for c in case["calls"]}
    assert recorded <= set(vectors.kernel_functions(KERNELS)), "stale build or stale vectors"


@pytest.mark.parametrize("op,isa,threads,case", list(_params()))
def test_replay(op, isa, threads, case):
    key = (op["id"], isa, threads)
    TALLY[key][1] += 1  # counted failed unless it gets to the end
    rule = vectors.Rule.from_json(case["rule"])
    where = f"{op['id']}[{isa}/t{threads}]/{case['id']}"
    for j, call in enumerate(case["calls"]):
        vectors.replay_call(KERNELS, call, ARRAYS, rule, isa, threads, f"{where} call {j} {call['fn']}")
    TALLY[key][1] -= 1
    TALLY[key][0] += 1
