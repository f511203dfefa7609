"""Training methods: one package per method (``methods/<name>/``), each declaring ``METHOD``
(a base.Method). Methods import formats; formats never import methods."""

from __future__ import annotations

from ..discovery import declaring
from .base import Method

_METHODS: dict[str, Method] = {}


def all_methods() -> dict[str, Method]:
    """name -> Method of every method package, in name order."""
    if not _METHODS:
        found = declaring(__name__, __path__, "METHOD", lambda v: isinstance(v, Method))
        _METHODS.update((p.METHOD.name, p.METHOD) for p in found)
    return _METHODS


def get_method(name: str) -> Method:
    methods = all_methods()
    if name not in methods:
        raise KeyError(f"unknown method {name!r}; known: {sorted(methods)}")
    return methods[name]


def method_for_suite(suite: str) -> Method:
    """The method whose benchmark cases carry this suite name."""
    for m in all_methods().values():
        if m.suite == suite:
            return m
    raise KeyError(f"no method has suite {suite!r}; known: {sorted(m.suite for m in all_methods().values())}")


def suites() -> list[str]:
    return [m.suite for m in all_methods().values() if m.suite]




def cases(profile_name=None, suites_: tuple[str, ...] | None = None) -> list:
    """Every method's benchmark cases in a catalogue profile, given by name or as a Profile
    (optionally only some suites)."""
    from ..catalogue import Profile, profile

    prof = profile_name if isinstance(profile_name, Profile) else profile(profile_name)
    out = []
    for m in all_methods().values():
        if m.suite and (suites_ is None or m.suite in suites_):
            out.extend(m.cases(prof))
    return out


def build(case):
    """What the harness times for a case: its method's stage builder (cases.Unavailable when the
    suite has no method here)."""
    from ..cases import Unavailable

    try:
        method = method_for_suite(case.suite)
    except KeyError as exc:
        raise Unavailable(str(exc)) from exc
    return method.build(case)


def impl_names(case) -> tuple[str, ...]:
    """The implementations build(case) times, known without building anything (asv skips the rest
    cheaply). Peers are separate (sparsebench.peers)."""
    try:
        return method_for_suite(case.suite).impl_names(case)
    except KeyError:
        return ()


__all__ = ["Method", "all_methods", "build", "cases", "get_method", "impl_names", "method_for_suite", "suites"]
