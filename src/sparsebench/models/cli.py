"""`sparsebench shapes`: a model's conv / linear layer shapes, to feed to `sparsebench run`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _cmd_shapes(args: argparse.Namespace) -> int:
    from .. import models
    from ..measure.records import atomic_write_text
    from .layer_shapes import layer_shapes, to_text, to_toml

    try:
        net = models.network(args.model, args.input_shape)
        model = models.build(args.model)
        layers = layer_shapes(model, net.input, args.batch or net.batch)
    except ValueError as exc:
        print(f"shapes: {exc}", file=sys.stderr)
        return 2
    if args.out:
        atomic_write_text(Path(args.out), to_toml(args.model, layers))
        print(f"shapes file: {args.out}  (sparsebench run --shapes-file {args.out})", file=sys.stderr)
    print(to_toml(args.model, layers) if args.format == "toml" else to_text(layers), end="" if args.format == "toml" else "\n")
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("shapes", help="a model's conv / linear layer shapes with their share of the FLOPs")
    p.add_argument("--model", required=True, metavar="NAME|package.module:factory",
                   help="a zoo model or your own zero-argument factory (then --input-shape is required)")
    p.add_argument("--input-shape", metavar="C,H,W", help="one sample's shape, for a user model")
    p.add_argument("--batch", type=int, help="batch the shapes carry (default: the model's, 32 for a user model)")
    p.add_argument("--format", choices=("text", "toml"), default="text")
    p.add_argument("--out", metavar="TOML", help="also write the distinct runnable shapes as a --shapes-file")
    p.set_defaults(func=_cmd_shapes)
