"""Data-free neuron merging, two forms (no data, no fine-tuning):

- FC network surgery (Srinivas & Babu, BMVC 2015, "Data-free parameter pruning for deep neural
  networks"): for a hidden layer with incoming weight sets w_i (row i of W1 and its bias) and
  outgoing weights a_j (column j of W2), the saliency of removing j in favour of i is
      s_ij = <a_j^2> * ||w_i - w_j||^2        (<.> the mean over a_j's entries);
  repeatedly remove the least salient j and add its outgoing weights to i (a_i += a_j). If
  w_i = w_j the network's function is unchanged.
- Filter merging (Kim et al., NeurIPS 2020, "Neuron Merging"; L1-ranked pruning as in Li et al.):
  the filters with the smallest L1 norms are pruned; each is matched to the kept filter of
  highest cosine similarity, and its contribution is folded into the next layer with the scale
  z = ||w_j|| / ||w_i||: next[:, i] += z * next[:, j]. Exact when w_j = z * w_i and the
  nonlinearity is ReLU (positively homogeneous) with bias_j = z * bias_i.
Plain pruning of the same units (drop them, nothing folded) is the comparison.
"""

from __future__ import annotations

import torch


def _check_pair(n: int, i: int, j: int, alive: torch.Tensor | None = None) -> None:
    for name, v in (("target", i), ("source", j)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"merge {name} must be an int index, got {type(v).__name__}")
        if not 0 <= v < n:
            raise ValueError(f"merge {name} {v} does not exist (layer has {n} units)")
        if alive is not None and not bool(alive[v]):
            raise ValueError(f"merge {name} {v} does not exist any more (already merged away)")
    if i == j:
        raise ValueError(f"merge target and source are the same unit ({i})")


def saliency(w_in: torch.Tensor, a_out: torch.Tensor) -> torch.Tensor:
    """s[i, j] = <a_j^2> * ||w_i - w_j||^2 (diagonal = +inf). w_in (h, d): incoming weight sets
    (bias appended by the caller); a_out (o, h): outgoing weights."""
    d2 = torch.cdist(w_in.double(), w_in.double()) ** 2
    s = a_out.double().pow(2).mean(dim=0).reshape(1, -1) * d2
    s.fill_diagonal_(float("inf"))
    return s


def merge_pair(w_in: torch.Tensor, a_out: torch.Tensor, i: int, j: int, alive: torch.Tensor | None = None) -> None:
    """In place: neuron j's outgoing weights added to neuron i's; j's removed (alive[j] = False)."""
    _check_pair(w_in.shape[0], i, j, alive)
    a_out[:, i] += a_out[:, j]
    a_out[:, j] = 0.0
    if alive is not None:
        alive[j] = False


def surgery(w1: torch.Tensor, b1: torch.Tensor | None, w2: torch.Tensor, keep: int):
    """FC surgery down to ``keep`` hidden neurons: (w1', b1', w2') with the kept neurons only."""
    h = w1.shape[0]
    if not 1 <= keep <= h:
        raise ValueError(f"keep must be in [1, {h}], got {keep}")
    w_in = torch.cat([w1, b1.reshape(-1, 1)], dim=1) if b1 is not None else w1.clone()
    a = w2.clone().double()
    alive = torch.ones(h, dtype=torch.bool)
    s = saliency(w_in, a)
    for _ in range(h - keep):
        flat = int(torch.argmin(s))
        i, j = divmod(flat, h)
        merge_pair(w_in, a, i, j, alive)
        s[j, :] = float("inf")  # j neither keeps nor receives any more
        s[:, j] = float("inf")
        # a_i changed: the column of pairs that would remove i
        col = a[:, i].pow(2).mean() * (torch.cdist(w_in.double(), w_in[i:i + 1].double()).reshape(-1) ** 2)
        col[~alive] = float("inf")
        col[i] = float("inf")
        s[:, i] = col
    idx = torch.nonzero(alive).reshape(-1)
    return w1[idx].clone(), (b1[idx].clone() if b1 is not None else None), a[:, idx].to(w2.dtype)


def l1_order(w: torch.Tensor) -> torch.Tensor:
    return torch.argsort(w.detach().abs().reshape(w.shape[0], -1).sum(1), descending=True, stable=True)


def filter_merge(w: torch.Tensor, b: torch.Tensor | None, w_next: torch.Tensor, keep: int, *,
                 fold: bool = True, group: int = 1):
    """Keep the ``keep`` filters of largest L1 norm of a layer (w: (C, ...)); with ``fold``, each
    pruned filter j is folded into its most cosine-similar kept filter i via the next layer:
    next[:, i] += z * next[:, j], z = ||w_j|| / ||w_i||. ``group``: input positions of the next
    layer per filter (a conv feeding a linear layer through a flatten: Ho * Wo).
    Returns (kept idx, w', b', w_next') with w_next' over the kept inputs only."""
    c = w.shape[0]
    if not 1 <= keep <= c:
        raise ValueError(f"keep must be in [1, {c}], got {keep}")
    order = l1_order(w)
    kept = torch.sort(order[:keep]).values
    pruned = order[keep:]
    nxt = w_next.detach().clone()
    shape = nxt.shape
    nxt = nxt.reshape(shape[0], c, group, -1)  # (out, filters, group, rest)
    if fold and pruned.numel():
        flat = w.detach().reshape(c, -1)
        if b is not None:
            flat = torch.cat([flat, b.detach().reshape(-1, 1)], dim=1)
        norms = flat.norm(dim=1)
        unit = flat / norms.clamp_min(1e-12).reshape(-1, 1)
        cos = unit[pruned] @ unit[kept].T
        for row, j in enumerate(pruned.tolist()):
            i = int(kept[int(torch.argmax(cos[row]))])
            z = float(norms[j] / norms[i].clamp_min(1e-12))
            nxt[:, i] += z * nxt[:, j]
    nxt = nxt[:, kept].reshape(shape[0], keep * group, *shape[2:]) if len(shape) == 4 else \
        nxt[:, kept].reshape(shape[0], -1)
    return kept, w.detach()[kept].clone(), (b.detach()[kept].clone() if b is not None else None), nxt
