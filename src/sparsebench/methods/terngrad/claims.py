"""TernGrad's claim comparisons (Method.claim_measures), read from its own records:
"exchange" (bench_dist), "ddp-train" (train_ddp) and the harness' encode rows."""

from __future__ import annotations

from statistics import median


def _latest(records, kind):
    return [r for r in records if r.get("kind") == kind and (r.get("case") or {}).get("suite") == "terngrad"]


def bytes_on_the_wire(claim, records):
    """fp32 bytes / TernGrad bytes one rank sends per gradient, from the exchange runs (catalogue
    layer sizes and an 11M gradient) or else the harness' encode rows. Reproduced when every
    gradient's payload is exactly its 2-bit codes plus the one 4-byte scaler (and its all_reduce
    flag) that the paper's 1/16 counts as negligible."""
    from ...claims.evaluate import _finish, _not_measured

    rows = _latest(records, "exchange")
    if rows:
        min_ranks = min(r["case"]["ranks"] for r in rows)
        per = {r["case"]["layer"]: r["metrics"]["bytes_ratio_fp32"] for r in rows if r["case"]["ranks"] == min_ranks}
        exact = all(r["metrics"]["payload_bytes"] == (r["metrics"]["numel"] + 3) // 4 + 8 for r in rows)
        wire = {r["case"]["ranks"]: r["metrics"]["ring_wire_bytes_fp32"] / r["metrics"]["ring_wire_bytes"]
                for r in rows if r["case"]["layer"] == "resnet18-grad"}
        basis = f"payload each rank hands to gloo collectives, {len(per)} gradient sizes, {min_ranks} ranks"
    else:
        enc = [r for r in records if r.get("kind") == "stage" and r["case"].get("suite") == "terngrad"
               and r["case"].get("stage") == "encode" and r["case"].get("impl") == "sparsebench"]
        if not enc:
            return _not_measured(claim, "no terngrad exchange or encode records (python -m "
                                        "sparsebench.methods.terngrad.bench_dist, sparsebench run --suite terngrad)")
        per = {r["case"]["layer"]: r["metrics"]["bytes_ratio_fp32"] for r in enc}
        exact, wire = True, {}
        basis = f"packed bytes of the encode rows, {len(per)} layers (one rank, no exchange measured)"
    measured = median(per.values())
    verdict = "reproduced" if exact and measured >= 15.9 else "partly"
    why = ("every payload is ceil(n / 4) bytes of 2-bit codes + one float scaler (+ a 4-byte non-finite flag): "
           "the 1/16 of 2 bits vs 32, up to those 8 bytes per gradient") if exact else "payload above the 2-bit count"
    extra = []
    if wire:
        extra.append("ring-model wire bytes per rank, fp32 all_reduce / TernGrad all_gather (11M gradient): " +
                     ", ".join(f"{k} ranks {v:.1f}x" for k, v in sorted(wire.items())) +
                     " (an all_gather sends R - 1 copies, so the saving on the wire falls as 32 / R)")
    return _finish(claim, measured, per, basis, verdict, why, extra)


def accuracy_delta(claim, records):
    """TernGrad test accuracy minus the dense run's (percentage points) on MNIST-5k, same seeds,
    per (ranks, clipping); the median over them is the measured value."""
    from ...claims.evaluate import _finish, _judge, _not_measured

    acc = {}
    for r in _latest(records, "ddp-train"):
        c = r["case"]
        acc[(c["ranks"], c.get("lr"), c["scheme"])] = r["metrics"]["accuracy"]  # the latest wins
    per = {f"{ranks} ranks/lr {lr}/{scheme}": 100 * (a - acc[(ranks, lr, "dense")])
           for (ranks, lr, scheme), a in sorted(acc.items(), key=str)
           if scheme != "dense" and (ranks, lr, "dense") in acc}
    if not per:
        return _not_measured(claim, "no data-parallel MNIST runs (torchrun ... -m sparsebench.methods.terngrad.train_ddp)")
    measured = median(per.values())
    verdict, why = _judge(claim, measured, list(per.values()))
    dense = ", ".join(f"{k[0]} ranks lr {k[1]} dense {100 * v:.2f}%" for k, v in sorted(acc.items(), key=str)
                      if k[2] == "dense")
    return _finish(claim, measured, per, f"MNIST-5k CNN, {len(per)} TernGrad runs vs dense ({dense})",
                   verdict, why, [])


MEASURES = {"terngrad_bytes": bytes_on_the_wire, "terngrad_accuracy": accuracy_delta}
