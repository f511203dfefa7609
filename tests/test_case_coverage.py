"""Every cross-validation op is checked on the adversarial inputs the standards name: odd sizes,
an empty tensor, an all-zero input, and sparsity 0 and 1 wherever its scheme allows them. This
reads the inputs the op's cases actually build (not their ids), so a case that is only named
"zeros" but is not all-zero does not count. An op may exempt a kind in ``Op.extra["exempt"]``
with the reason (say, a weight format that cannot hold sparsity 0)."""

from __future__ import annotations

import pytest
import torch

from sparsebench.registry import all_ops

OPS = all_ops()
KINDS = ("odd", "empty", "all_zero", "sparsity_0", "sparsity_1")


def _dense_views(value):
    """The dense tensors an argument holds: a tensor, a sparse weight or compressed tensor (its
    to_dense()), or the items of a tuple / list."""
    if isinstance(value, torch.Tensor):
        yield value
    elif hasattr(value, "to_dense") and callable(value.to_dense):
        yield value.to_dense()
    elif isinstance(value, (tuple, list)):
        for v in value:
            if isinstance(v, torch.Tensor):
                yield v


def _is_weight(value) -> bool:
    return hasattr(value, "mask_object")  # a format's SparseWeight (formats.base)


def _density(value) -> float | None:
    """Kept fraction of a sparse weight or a compressed activation gradient (None otherwise)."""
    if hasattr(value, "mask") and callable(value.mask) and hasattr(value, "values"):
        m = value.mask()
        return float(m.float().mean()) if m.numel() else None
    return None


def features(kwargs) -> set[str]:
    out: set[str] = set()
    for name, value in kwargs.items():
        d = _density(value)
        for t in _dense_views(value):
            if t.numel() == 0:
                out.add("empty")
            if any(d >= 3 and d % 2 for d in t.shape):
                out.add("odd")
            # all-zero *input*: activations or gradients (a sparse weight at s = 1 is sparsity_1)
            if not _is_weight(value) and t.is_floating_point() and t.numel() and not t.any():
                out.add("all_zero")
        if d is not None:
            out.add("weight_sparse" if _is_weight(value) else "rated")
            out |= {"sparsity_0"} if d == 1.0 else set()
            out |= {"sparsity_1"} if d == 0.0 else set()
        if name in ("sparsity", "p", "rate") and isinstance(value, (int, float)):
            out.add("rated")
            out |= {"sparsity_0"} if value == 0 else set()
            out |= {"sparsity_1"} if value == 1 else set()
        if name == "mask" and isinstance(value, torch.Tensor) and value.dtype == torch.bool and value.numel():
            out.add("rated")
            out |= {"sparsity_0"} if value.all() else set()
            out |= {"sparsity_1"} if not value.any() else set()
    return out


@pytest.mark.parametrize("op", OPS, ids=[op.id for op in OPS])
def test_every_op_sees_the_adversarial_inputs(op):
    seen: set[str] = set()
    for case in op.cases():
        seen |= features(case.make())
    exempt = dict(op.extra.get("exempt", {}))
    need = ["odd", "empty", "all_zero"]
    if seen & {"weight_sparse", "rated"}:  # the op has a sparsity to take to its extremes
        need += ["sparsity_0", "sparsity_1"]
    missing = [k for k in need if k not in seen and k not in exempt]
    assert not missing, f"{op.id}: no case with {', '.join(missing)} input (saw {sorted(seen)})"
    for kind, why in exempt.items():
        assert kind in KINDS and why, f"{op.id}: exemption {kind!r} needs a known kind and a reason"
