import os

import pytest

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
