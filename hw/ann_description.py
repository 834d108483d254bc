"""The ``spikeport-ann/1`` description of an ANN: validation and exact operation counts.

A description lists the layers of one evaluation (a frame for a per-frame network,
the whole input otherwise) and how often each runs per inference::

    {"format": "spikeport-ann/1", "name": "...", "frames": F, "input_shape": [...],
     "layers": [
       {"name", "kind": "conv", "in_shape": [C, H, W], "out_shape": [O, H', W'], "kernel": [kh, kw],
        "stride", "padding", "dilation", "groups", "bias": bool, "per_frame": bool},
       {"name", "kind": "dense", "in_features", "out_features", "bias", "per_frame"},
       {"name", "kind": "pool", "in_shape", "out_shape", "kernel", "per_frame"},     # average pooling
       {"name", "kind": "flatten", "in_shape", "out_features", "per_frame"}],
     "measured": {...}}                                                            # optional

``per_frame`` layers run ``frames`` times per inference, the others once. A
depthwise convolution is a ``conv`` with ``groups`` = channels, a pointwise one a
1 x 1 ``conv``; batch norm is folded into the layer before it. ``measured``
(written by :mod:`spikeport.train.baselines`) holds, per precision (``fp32``,
``int8``), the accuracy and NeuroBench workload counts measured on a split.

Counts per layer (:func:`ann_layers`): ``macs`` = NeuroBench's ``Dense`` synaptic
operations: every connection whose kernel tap lies inside the input (padding taps
are not MACs), per inference; ``adds`` (pooling windows, one bias addition per output); ``weights``,
``biases``; ``in_acts``, ``out_acts`` per evaluation; ``evaluations``.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from spikeport.errors import SpikeportError
from spikeport.geometry import conv_connections, conv_out

FORMAT = "spikeport-ann/1"
PRECISIONS = ("fp32", "int8")
KINDS = ("conv", "dense", "pool", "flatten")
# fields each kind must have (besides name, kind)
REQUIRED = {"conv": ("in_shape", "out_shape", "kernel"), "dense": ("in_features", "out_features"),
            "pool": ("in_shape", "out_shape", "kernel"), "flatten": ("in_shape",)}


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _ints(layer: dict, key: str, n: int | None, where: str, default=None, minimum: int = 0) -> list[int]:
    v = layer.get(key, default)
    if v is None:
        raise SpikeportError(f"{where}: missing field '{key}'")
    if _is_int(v) and n is not None:
        v = [v] * n
    if (not isinstance(v, list) or (n is not None and len(v) != n)
            or not all(_is_int(x) and x >= minimum for x in v)):
        what = f"a list of {n}" if n is not None else "a list of"
        raise SpikeportError(f"{where}: '{key}' must be {what} integers >= {minimum} (got {v!r})")
    return v


def _conv(l: dict, lw: str) -> dict:
    cin, *ins = _ints(l, "in_shape", 3, lw, minimum=1)
    cout, *outs = _ints(l, "out_shape", 3, lw, minimum=1)
    k = _ints(l, "kernel", 2, lw, minimum=1)
    s = _ints(l, "stride", 2, lw, 1, minimum=1)
    p = _ints(l, "padding", 2, lw, 0)
    d = _ints(l, "dilation", 2, lw, 1, minimum=1)
    g = l.get("groups", 1)
    if not _is_int(g) or g < 1 or cin % g or cout % g:
        raise SpikeportError(f"{lw}: 'groups' {g!r} does not divide the channels {cin} -> {cout}")
    expect = [conv_out(ins[a], k[a], s[a], p[a], d[a]) for a in (0, 1)]
    if expect != outs:
        raise SpikeportError(f"{lw}: a {k} convolution (stride {s}, padding {p}, dilation {d}) of {ins} gives "
                             f"{expect}, not out_shape {outs}")
    return {"macs_per_eval": conv_connections([cin] + ins, cout, k, s, p, d, g),
            "weights": cout * (cin // g) * k[0] * k[1], "biases": cout if l.get("bias", False) else 0,
            "in_acts": cin * math.prod(ins), "out_acts": cout * math.prod(outs), "adds_per_eval": 0}


def _dense(l: dict, lw: str) -> dict:
    fin = _ints(l, "in_features", 1, lw, minimum=1)[0]
    fout = _ints(l, "out_features", 1, lw, minimum=1)[0]
    return {"macs_per_eval": fin * fout, "weights": fin * fout, "biases": fout if l.get("bias", False) else 0,
            "in_acts": fin, "out_acts": fout, "adds_per_eval": 0}


def _pool(l: dict, lw: str) -> dict:
    cin, *ins = _ints(l, "in_shape", 3, lw, minimum=1)
    cout, *outs = _ints(l, "out_shape", 3, lw, minimum=1)
    k = _ints(l, "kernel", 2, lw, minimum=1)
    if cin != cout:
        raise SpikeportError(f"{lw}: pooling keeps the channels, not {cin} -> {cout}")
    # each output sums its window: kh * kw additions (the scaling by 1/(kh kw) is not counted)
    return {"macs_per_eval": 0, "weights": 0, "biases": 0, "in_acts": cin * math.prod(ins),
            "out_acts": cout * math.prod(outs), "adds_per_eval": cout * math.prod(outs) * k[0] * k[1]}


def _flatten(l: dict, lw: str) -> dict:
    n = math.prod(_ints(l, "in_shape", None, lw, minimum=1))
    return {"macs_per_eval": 0, "weights": 0, "biases": 0, "in_acts": n, "out_acts": n, "adds_per_eval": 0}


COUNTERS = {"conv": _conv, "dense": _dense, "pool": _pool, "flatten": _flatten}


def _header(ann: Any, where: str) -> tuple[int, list]:
    if not isinstance(ann, dict):
        raise SpikeportError(f"{where}: not a JSON object")
    if ann.get("format") != FORMAT:
        raise SpikeportError(f"{where}: format is {ann.get('format')!r}, expected '{FORMAT}'")
    frames = ann.get("frames")
    if not _is_int(frames) or frames < 1:
        raise SpikeportError(f"{where}: 'frames' must be a positive integer")
    layers = ann.get("layers")
    if not isinstance(layers, list) or not layers:
        raise SpikeportError(f"{where}: 'layers' must be a non-empty list")
    return frames, layers


def ann_layers(ann: Any, where: str = "ann") -> list[dict]:
    """Validate a description and count each layer (see the module doc). Raises
    :class:`SpikeportError` naming the layer and field for an unknown kind, a
    missing or malformed field, or shapes that do not fit."""
    frames, layers = _header(ann, where)
    out = []
    for i, l in enumerate(layers):
        if not isinstance(l, dict):
            raise SpikeportError(f"{where}: layers[{i}] is not an object")
        name = str(l.get("name", f"layer{i}"))
        lw = f"{where}: layer '{name}'"
        kind = l.get("kind")
        if kind is None:
            raise SpikeportError(f"{lw}: missing field 'kind'")
        if kind not in COUNTERS:
            raise SpikeportError(f"{lw}: unknown layer kind {kind!r} (known: {', '.join(KINDS)})")
        per_frame = l.get("per_frame", True)
        if not isinstance(per_frame, bool):
            raise SpikeportError(f"{lw}: 'per_frame' must be true or false")
        c = COUNTERS[kind](l, lw)
        ev = frames if per_frame else 1
        out.append({"name": name, "kind": kind, "evaluations": ev, "macs": c["macs_per_eval"] * ev,
                    "macs_per_evaluation": c["macs_per_eval"],
                    "adds": (c["adds_per_eval"] + (c["out_acts"] if c["biases"] else 0)) * ev,
                    "weights": c["weights"],
                    "biases": c["biases"], "in_acts": c["in_acts"], "out_acts": c["out_acts"]})
    return out


def measured(ann: dict, precision: str, where: str = "ann") -> dict | None:
    """The validated ``measured[precision]`` entry of ``ann`` (None when absent):
    ``accuracy``, per-synapse-layer ``effective_macs``, ``effective_acs``, ``dense``,
    ``zero_weights`` (lists in the order of the conv and dense layers), ReLU outputs
    ``activations_nonzero`` and ``activations_total`` per inference, ``clips``."""
    m = (ann.get("measured") or {}).get(precision)
    if m is None:
        return None
    mw = f"{where}: measured.{precision}"
    n = sum(1 for l in ann["layers"] if l.get("kind") in ("conv", "dense"))
    if not isinstance(m, dict):
        raise SpikeportError(f"{mw} is not an object")
    for key in ("effective_macs", "effective_acs", "dense", "zero_weights"):
        v = m.get(key)
        if (not isinstance(v, list) or len(v) != n
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and x >= 0 for x in v)):
            raise SpikeportError(f"{mw}.{key} must be a list of {n} non-negative numbers (one per conv/dense layer)")
    for key in ("accuracy", "activations_nonzero", "activations_total", "clips"):
        v = m.get(key)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0 or not math.isfinite(v):
            raise SpikeportError(f"{mw}.{key} must be a non-negative number")
    if m["accuracy"] > 1:
        raise SpikeportError(f"{mw}.accuracy {m['accuracy']} is not a fraction in [0, 1]")
    return m


ANN_FILES = ("ann.json", "reference_ann.json")


def _read_ann(p: Path) -> dict:
    try:
        with open(p) as f:
            return json.load(f)
    except OSError as e:
        raise SpikeportError(f"{p}: cannot read the ANN description ({e.strerror})") from None
    except json.JSONDecodeError as e:
        raise SpikeportError(f"{p}: not valid JSON ({e})") from None


def load_anns(paths: list[str]) -> list[tuple[str, dict]]:
    """(label, description) of every ``--ann``: a ``spikeport-ann/1`` JSON file, or a
    run folder (its ``ann.json`` and ``reference_ann.json``); each is validated."""
    found = []
    for raw in paths or []:
        p = Path(raw)
        files = [p / n for n in ANN_FILES if (p / n).is_file()] if p.is_dir() else [p]
        if not files:
            raise SpikeportError(f"{p}: a folder without {' or '.join(ANN_FILES)}")
        for f in files:
            desc = _read_ann(f)
            ann_layers(desc, str(f))   # a bad description fails before any simulation
            label = desc.get("name") if isinstance(desc.get("name"), str) and desc["name"] else f.stem
            found.append((label, desc))
    return found
