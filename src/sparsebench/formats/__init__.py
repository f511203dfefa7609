"""Weight-sparsity formats: one package per format (``formats/<name>/``) holding the format, its
mask generator, its stage kernels' wrappers and its cross-validation ops (``ops.py``).

Formats sit below the methods: a method imports formats, never the other way round. A format
package declares ``FORMAT`` (a base.Format) in its ``__init__``; it is found by walking this
package, so adding a format touches only its own folder.
"""

from __future__ import annotations

from ..discovery import declaring
from .base import ConvGeometry, Format, Mask, SparseWeight

_FORMATS: dict[str, Format] = {}


def _discover() -> dict[str, Format]:
    if not _FORMATS:
        found = [m.FORMAT for m in declaring(__name__, __path__, "FORMAT", lambda v: isinstance(v, Format))]
        _FORMATS.update((f.name, f) for f in sorted(found, key=lambda f: (f.rank, f.name)))
    return _FORMATS


def get_format(name: str) -> Format:
    formats = _discover()
    if name not in formats:
        raise KeyError(f"unknown sparsity format {name!r}; known: {sorted(formats)}")
    return formats[name]


def available_formats() -> list[str]:
    return list(_discover())


__all__ = ["ConvGeometry", "Format", "Mask", "SparseWeight", "available_formats", "get_format"]
