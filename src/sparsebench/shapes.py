"""A user's own layer shapes, beside the catalogue's: ``conv:cin=64,cout=64,k=3,stride=1,pad=1,
hw=56,batch=8`` or ``linear:in=1024,out=4096,batch=256``, one per ``--shape``, or a TOML file
of them. A parsed shape becomes a catalogue Layer whose name is its canonical spec, so it runs
through every method, scheme, stage and baseline exactly like a catalogue layer (a child
process rebuilds it from the name) and every record carries its full geometry.
"""

from __future__ import annotations

from pathlib import Path

from .measure import Conv2dShape, LinearShape

PREFIXES = ("conv:", "linear:")
# key -> (meaning, default); "k" sets kh = kw, "hw" sets h = w
CONV_KEYS = {"cin": ("input channels", None), "cout": ("output channels", None), "k": ("kernel size", None),
             "kh": ("kernel height", None), "kw": ("kernel width", None), "stride": ("stride", 1),
             "pad": ("padding", 0), "hw": ("input height = width", None), "h": ("input height", None),
             "w": ("input width", None), "batch": ("batch", 1), "groups": ("groups", 1), "dilation": ("dilation", 1)}
LINEAR_KEYS = {"in": ("input features", None), "out": ("output features", None), "batch": ("batch", 1)}
NET = "user"


class ShapeError(ValueError):
    """A malformed or unsupported --shape (the message names the key or the limit)."""


def is_spec(name: str) -> bool:
    return isinstance(name, str) and name.startswith(PREFIXES)


def _fields(spec: str, kind: str, keys: dict) -> dict[str, int]:
    body = spec[len(kind) + 1:]
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in body.split(","))):
        key, eq, value = part.partition("=")
        key = key.strip()
        if not eq:
            raise ShapeError(f"--shape {spec!r}: {part!r} is not key=value")
        if key not in keys:
            raise ShapeError(f"--shape {spec!r}: unknown key {key!r} for {kind} (known: {', '.join(keys)})")
        if key in out:
            raise ShapeError(f"--shape {spec!r}: key {key!r} given twice")
        try:
            v = int(value)
        except ValueError:
            raise ShapeError(f"--shape {spec!r}: {key} must be an integer, got {value!r}") from None
        if v < (0 if key == "pad" else 1):
            raise ShapeError(f"--shape {spec!r}: {key} ({keys[key][0]}) must be {'>= 0' if key == 'pad' else '> 0'}, "
                             f"got {v}")
        out[key] = v
    return out


def _need(spec: str, f: dict, key: str, keys: dict) -> int:
    if key not in f:
        raise ShapeError(f"--shape {spec!r}: {key} ({keys[key][0]}) is required")
    return f[key]


def parse(spec: str):
    """The catalogue Layer of a shape spec (raises ShapeError naming what is wrong)."""
    from .catalogue import Layer

    if not isinstance(spec, str) or not is_spec(spec.strip()):
        raise ShapeError(f"--shape must start with 'conv:' or 'linear:', got {spec!r}")
    spec = spec.strip()
    if spec.startswith("linear:"):
        f = _fields(spec, "linear", LINEAR_KEYS)
        shape = LinearShape(batch=f.get("batch", 1), in_features=_need(spec, f, "in", LINEAR_KEYS),
                            out_features=_need(spec, f, "out", LINEAR_KEYS))
        return Layer(canonical(shape), NET, shape)
    f = _fields(spec, "conv", CONV_KEYS)
    if f.get("groups", 1) != 1:
        raise ShapeError(f"--shape {spec!r}: groups={f['groups']} is not supported by any scheme "
                         "(every format's kernels are groups=1 convolutions)")
    if f.get("dilation", 1) != 1:
        raise ShapeError(f"--shape {spec!r}: dilation={f['dilation']} is not supported by any scheme "
                         "(every format's kernels are dilation=1 convolutions)")
    kh = f.get("kh", f.get("k"))
    kw = f.get("kw", f.get("k"))
    if kh is None or kw is None:
        raise ShapeError(f"--shape {spec!r}: k (kernel size) is required")
    if kh != kw:
        raise ShapeError(f"--shape {spec!r}: a {kh}x{kw} kernel is not supported by any scheme (square kernels only)")
    h, w = f.get("h", f.get("hw")), f.get("w", f.get("hw"))
    if h is None or w is None:
        raise ShapeError(f"--shape {spec!r}: hw (input height = width) is required")
    try:
        shape = Conv2dShape(n=f.get("batch", 1), cin=_need(spec, f, "cin", CONV_KEYS),
                            cout=_need(spec, f, "cout", CONV_KEYS), h=h, w=w, kh=kh, kw=kw,
                            stride=f.get("stride", 1), padding=f.get("pad", 0))
    except ValueError as exc:
        raise ShapeError(f"--shape {spec!r}: {exc}") from None
    return Layer(canonical(shape), NET, shape)


def canonical(shape) -> str:
    """The one spelling of a shape: the name its records carry."""
    if isinstance(shape, LinearShape):
        return f"linear:in={shape.in_features},out={shape.out_features},batch={shape.batch}"
    hw = f"hw={shape.h}" if shape.h == shape.w else f"h={shape.h},w={shape.w}"
    return (f"conv:cin={shape.cin},cout={shape.cout},k={shape.kh},stride={shape.stride},pad={shape.padding},"
            f"{hw},batch={shape.n}")


def load_file(path) -> list:
    """Layers of a shapes file: TOML with ``shapes = ["conv:...", ...]`` and/or tables
    ``[[conv]]`` / ``[[linear]]`` holding the same keys as a --shape."""
    import tomllib

    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ShapeError(f"--shapes-file {p}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ShapeError(f"--shapes-file {p}: not valid TOML: {exc}") from None
    unknown = set(data) - {"shapes", "conv", "linear"}
    if unknown:
        raise ShapeError(f"--shapes-file {p}: unknown top-level keys {sorted(unknown)} (shapes, conv, linear)")
    specs = list(data.get("shapes", []))
    for kind in ("conv", "linear"):
        for table in data.get(kind, []):
            specs.append(f"{kind}:" + ",".join(f"{k}={v}" for k, v in table.items()))
    if not specs:
        raise ShapeError(f"--shapes-file {p}: no shapes in it")
    return [parse(s) for s in specs]
