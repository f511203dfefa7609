"""Where each scheme's format class and mask generator live (imported lazily on first use)."""

from __future__ import annotations

from . import Scheme


def unstructured() -> Scheme:
    from .csr import CSRWeight
    from .masks import unstructured_mask

    return Scheme("unstructured", make_mask=unstructured_mask, from_dense=CSRWeight.from_dense,
                  doc="CSR over (Cout, Cin*kh*kw), int32 indices; direct sparse convolution")


FACTORIES = {"unstructured": unstructured}
