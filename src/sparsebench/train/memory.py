"""Peak memory of one training step, in a fresh child process per model, so the parent's
allocator cache and earlier runs do not hide or inflate it.

    python -m sparsebench.train.memory '<TrainConfig JSON>' dense|method
prints one JSON line {"peak_delta_bytes": ..., "method": ..., "rss_bytes": ...}.
"""

from __future__ import annotations

import json
import subprocess
import sys

TIMEOUT_S = 300


def peak_memory(cfg, which: str) -> dict:
    try:
        out = subprocess.run([sys.executable, "-m", __name__, json.dumps(cfg.to_dict()), which],
                             capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"peak_delta_bytes": None, "method": "unavailable", "error": f"timeout after {TIMEOUT_S} s"}
    line = next((ln for ln in out.stdout.splitlines()[::-1] if ln.startswith("{")), None)
    if out.returncode != 0 or line is None:
        return {"peak_delta_bytes": None, "method": "unavailable",
                "error": f"child exit {out.returncode}: {out.stderr.strip()[-300:]}"}
    return json.loads(line)


def _main(argv: list[str]) -> int:
    import torch

    from ..measure import measure_peak_delta, rss_bytes
    from .run import Trainer, TrainConfig, batches, build_pair

    cfg = TrainConfig(**json.loads(argv[0]))
    torch.set_num_threads(cfg.threads)
    dense, sparse, method, _, _ = build_pair(cfg)
    cfg.steps = 1
    data = batches(cfg)
    t = Trainer(dense, data) if argv[1] == "dense" else Trainer(sparse, data, method)
    if argv[1] == "dense":
        del sparse
    else:
        del dense
    # the first step of a fresh process: activations, gradients and the optimizer's momentum
    # (a warm-up step would leave freed pages resident in the allocator and hide them)
    peak = measure_peak_delta(t.step)
    print(json.dumps({**peak.to_dict(), "rss_bytes": rss_bytes()}))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
