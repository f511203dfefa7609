import os
import random
import zlib

import numpy as np
import pytest
import torch

from sparsebench import kernels


def pytest_report_header(config):
    info = kernels.info()
    return [
        f"sparsebench ISA variants: compiled={info['compiled']} usable={info['usable']} chosen={info['chosen']}",
        f"cpu: {info['cpu_brand']}; OpenMP runtimes: {info['openmp']['runtimes']}",
    ]


@pytest.fixture(autouse=True)
def _no_isa_env(monkeypatch):
    # Tests choose variants explicitly; an ISA forced from outside must not leak into them.
    if os.environ.get(kernels.ISA_ENV) and not os.environ.get("SPARSEBENCH_TEST_KEEP_ISA_ENV"):
        monkeypatch.delenv(kernels.ISA_ENV)


@pytest.fixture(autouse=True)
def _seeded_rngs(request):
    # Every global RNG (torch, numpy, random) starts each test from a seed derived from the
    # test's id, so a draw without an explicit generator is still reproducible run to run and
    # does not depend on which tests ran before it.
    seed = zlib.crc32(request.node.nodeid.encode())
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
