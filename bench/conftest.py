import pytest

from sparsebench import catalogue, methods


def pytest_addoption(parser):
    parser.addoption("--profile", default=None,
                     help=f"catalogue profile: {', '.join(catalogue.PROFILES)} (default ${catalogue.PROFILE_ENV} or quick)")


def pytest_generate_tests(metafunc):
    if "case" in metafunc.fixturenames and "impl" in metafunc.fixturenames:
        # every method's cases in the profile, each with the implementations it times
        pairs = [(c, i) for c in methods.cases(metafunc.config.getoption("--profile")) for i in methods.impl_names(c)]
        metafunc.parametrize(("case", "impl"), pairs, ids=[f"{c.id}/{i}" for c, i in pairs])
