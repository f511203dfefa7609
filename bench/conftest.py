import pytest

from sparsebench import catalogue


def pytest_addoption(parser):
    parser.addoption("--profile", default=None, help="catalogue profile: quick (default) or full")


def pytest_generate_tests(metafunc):
    if "case" in metafunc.fixturenames:
        prof = metafunc.config.getoption("--profile")
        cases = catalogue.cases(prof)
        metafunc.parametrize("case", cases, ids=[c.id for c in cases])
