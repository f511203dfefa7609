"""TernGrad's text tables for `sparsebench run` / `sparsebench table`: encode / decode throughput
vs a torch clone, the exchange across ranks (measured on loopback, modelled per link speed), and
the data-parallel MNIST runs."""

from __future__ import annotations


def _mine(records, kind):
    return [r for r in records if r.get("kind") == kind and (r.get("case") or {}).get("suite") == "terngrad"]


def codec_table(records) -> str | None:
    rows = {}
    for r in _mine(records, "stage"):
        c = r["case"]
        rows[(c["layer"], c["scheme"], c["stage"], c["threads"], c["impl"])] = r["metrics"]
    keys = sorted({k[:4] for k in rows})
    if not keys:
        return None
    out = ["terngrad: encode / decode of one layer's gradient, fp32 GB/s processed vs a torch copy_ of the same bytes (resident buffer)",
           f"  {'layer':18s} {'scheme':14s} {'stage':7s} {'thr':>3s} {'values':>9s} {'ours GB/s':>9s} "
           f"{'copy GB/s':>10s} {'ours/copy':>10s} {'bytes 1/x':>9s}"]
    for k in keys:
        ours, clone = rows.get((*k, "sparsebench")), rows.get((*k, "torch-copy"))
        if not ours or not clone:
            continue
        out.append(f"  {k[0]:18s} {k[1]:14s} {k[2]:7s} {k[3]:3d} {ours['grad_numel']:9d} {ours['gbytes_per_s']:9.2f} "
                   f"{clone['gbytes_per_s']:10.2f} {ours['gbytes_per_s'] / clone['gbytes_per_s']:10.2f} "
                   f"{ours['bytes_ratio_fp32']:9.2f}")
    return "\n".join(out)


def exchange_table(records) -> str | None:
    rows = _mine(records, "exchange")
    if not rows:
        return None
    out = ["terngrad: one gradient exchange, fp32 all_reduce vs TernGrad (encode + all_reduce MAX + all_gather + "
           "decode); measured on loopback (gloo), and modelled at 1 / 10 Gbit/s from ring-model bytes",
           f"  {'ranks':>5s} {'gradient':16s} {'values':>9s} {'fp32 ms':>8s} {'tern ms':>8s} {'x':>6s} "
           f"{'bytes 1/x':>9s} {'1G fp32/tern ms (modelled)':>27s} {'10G fp32/tern ms (modelled)':>28s}"]
    for r in sorted(rows, key=lambda r: (r["case"]["ranks"], r["metrics"]["numel"])):
        m, c = r["metrics"], r["case"]
        g1, g10 = m["modelled"]["1Gbit"], m["modelled"]["10Gbit"]
        out.append(f"  {c['ranks']:5d} {c['layer']:16s} {m['numel']:9d} {1e3 * m['fp32_s']:8.2f} {1e3 * m['terngrad_s']:8.2f}"
                   f" {m['speedup_vs_fp32']:6.2f} {m['bytes_ratio_fp32']:9.2f} "
                   f"{1e3 * g1['fp32_s']:13.2f} / {1e3 * g1['terngrad_s']:8.2f}   "
                   f"{1e3 * g10['fp32_s']:13.2f} / {1e3 * g10['terngrad_s']:8.2f}")
    return "\n".join(out)


def train_table(records) -> str | None:
    rows = _mine(records, "ddp-train")
    if not rows:
        return None
    out = ["terngrad: data-parallel MNIST-5k CNN (DDP over gloo, loopback), test accuracy and step times; "
           "modelled steps replace the measured exchange by ring-model bytes at the link speed",
           f"  {'ranks':>5s} {'lr':>5s} {'config':14s} {'acc %':>6s} {'step ms':>8s} {'exch ms':>8s} {'enc+dec ms':>10s} "
           f"{'bytes/step':>10s} {'1/x':>6s} {'1G step ms':>10s} {'10G step ms':>11s}"]
    for r in sorted(rows, key=lambda r: (r["case"]["ranks"], str(r["case"].get("lr")), r["case"]["scheme"])):
        m, c = r["metrics"], r["case"]
        codec = m["encode_s_per_step"] + m["decode_s_per_step"]
        compute = m["step_median_s"] - m["exchange_s_per_step"] - codec
        model = {g: compute + codec + m["ring_wire_bytes_per_step"] * 8 / (g * 1e9) for g in (1, 10)}
        out.append(f"  {c['ranks']:5d} {str(c.get('lr', '-')):>5s} {c['scheme']:14s} {100 * m['accuracy']:6.2f} {1e3 * m['step_median_s']:8.2f} "
                   f"{1e3 * m['exchange_s_per_step']:8.2f} {1e3 * codec:10.2f} {m['payload_bytes_per_step']:10.0f} "
                   f"{m['bytes_ratio_fp32']:6.2f} {1e3 * model[1]:10.2f} {1e3 * model[10]:11.2f}")
    return "\n".join(out)


def tables(records) -> list[str]:
    return [t for t in (codec_table(records), exchange_table(records), train_table(records)) if t]
