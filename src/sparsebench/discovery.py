"""Finding the packages that make up sparsebench's registries (formats, methods, peers) by
walking a package's folders, so adding one never needs a registration line."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import Any, Callable, Iterable


def declaring(package: str, path: Iterable[str], attr: str, accept: Callable[[Any], bool],
              packages_only: bool = True) -> list[ModuleType]:
    """Every direct subpackage (or submodule) of ``package`` found on ``path`` whose ``attr``
    ``accept`` takes, in name order."""
    found = []
    for info in sorted(pkgutil.iter_modules(list(path)), key=lambda m: m.name):
        if info.ispkg or not packages_only:
            module = importlib.import_module(f"{package}.{info.name}")
            if accept(getattr(module, attr, None)):
                found.append(module)
    return found
