"""Every field of a netx HDF5 network checked against what netx 0.6, Lava's fixed_pt
models and the chip accept, before any simulator runs.

:func:`problems` lists every problem of a file, each one line naming the file, the
layer, the field, its value and what is allowed; :func:`validate` raises the first
as a :class:`SpikeportError` (what ``sim``, ``eval``, ``hw map``, ``report`` and
``export`` do), ``spikeport check`` prints them all.

The rules are small named functions over one layer's fields: presence (the fields
netx reads without a default), type (numbers where numbers belong, finite,
integer-valued where netx casts with ``int``), range (weights netx represents
without clipping, 12-bit decays, 17-bit thresholds, 13-bit bias mantissas, delays
0..62, conv geometry in Lava's int8, groups dividing the channels), shape (kernels
matching their channels, biases and delays that broadcast, layers that chain) and
unknown fields (netx would ignore them silently: a typo such as ``vThmant`` would
lose the threshold).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from spikeport.errors import SpikeportError
from spikeport.fixed_point import (BIAS_BITS, DECAY_UNITY, MAX_DELAY, NETX_MIXED_MAX, NETX_WEIGHT_RANGE, VTH_MAX,
                                   netx_keeps)

BUILT = ("input", "dense", "dense_rec", "dense_comp", "conv", "pool", "flatten", "average")
NOT_BUILT = ("convT", "unpool", "concat")
NEURONS = ("CUBA", "LOIHI", "SDNN", "RF_PHASE", "RF_IZ")
DECAY_MAX = DECAY_UNITY
BIAS_RANGE = (-(1 << (BIAS_BITS - 1)), (1 << (BIAS_BITS - 1)) - 1)   # Lava's LIF bias mantissa
INT8_MAX = 127                     # Lava's Conv model holds stride, padding, dilation, groups in int8
RF_DECAY_MAX = DECAY_UNITY
# what lava-dl's exporters write, per layer type (netx reads the first set; it ignores the rest)
REQUIRED = {"input": ("shape",), "dense": ("shape",), "dense_rec": ("shape", "weight", "weight_rec"),
            "dense_comp": ("shape", "weight"), "conv": ("shape", "weight", "stride", "padding", "dilation", "groups",
                                                        "neuron"),
            "pool": ("shape", "weight", "neuron"), "flatten": (), "average": ("shape",)}
OPTIONAL = {"input": ("neuron", "weight", "bias"),
            "dense": ("weight", "neuron", "bias", "delay", "inFeatures", "outFeatures"),
            "dense_rec": ("neuron", "bias", "inFeatures", "outFeatures"),
            "dense_comp": ("neuron", "bias", "inFeatures", "outFeatures"),
            "conv": ("bias", "inChannels", "outChannels", "kernelSize"),
            "pool": ("kernelSize", "stride", "padding", "dilation"), "flatten": ("shape",), "average": ()}
# fields lava-dl's exporters write that netx reads as array keys but the fixed_pt models ignore
IGNORED_NEURON = ("refDelay", "gradedSpike", "scaleRho", "tauRho", "theta", "wgtExp", "refDecay", "thDecay",
                  "vThStep", "activation")
NEURON_FIELDS = {"CUBA": (("iDecay", "vDecay", "vThMant"), IGNORED_NEURON),
                 "LOIHI": (("iDecay", "vDecay", "vThMant"), IGNORED_NEURON),
                 "SDNN": (("vThMant",), ("sigma_output",) + IGNORED_NEURON),
                 "RF_PHASE": (("sinDecay", "cosDecay", "vThMant"), IGNORED_NEURON),
                 "RF_IZ": (("sinDecay", "cosDecay", "vThMant"), IGNORED_NEURON)}


def _show(v) -> str:
    a = np.asarray(v) if not isinstance(v, (bytes, str)) else v
    if isinstance(a, np.ndarray) and a.size > 6:
        return f"an array of shape {a.shape}"
    text = repr(a.tolist() if isinstance(a, np.ndarray) else a)
    return text if len(text) <= 60 else text[:57] + "..."


class Layer:
    """One layer group's fields, read defensively, and the problems found in it."""

    def __init__(self, path: str, index: int, group):
        self.path, self.index, self.kind = path, index, "?"
        self.fields: dict = {}
        self.found: list[str] = []
        for key in group:
            try:
                item = group[key]
                self.fields[key] = {k: item[k][()] for k in item} if hasattr(item, "keys") else item[()]
            except Exception as e:  # unreadable data inside a valid HDF5 container
                self.fields[key] = None
                self.add(key, f"cannot be read ({type(e).__name__})", "a readable dataset")

    @property
    def where(self) -> str:
        return f"{self.path}: layer {self.index} ({self.kind})"

    def add(self, field: str, problem: str, allowed: str) -> None:
        self.found.append(f"{self.where}: '{field}' {problem}; allowed: {allowed}")

    def get(self, field: str):
        """``weight/real`` style paths into sub-groups."""
        if "/" in field:
            a, b = field.split("/", 1)
            sub = self.fields.get(a)
            return sub.get(b) if isinstance(sub, dict) else None
        return self.fields.get(field)

    def has(self, field: str) -> bool:
        return self.get(field) is not None


# ------------------------------------------------------------------ value rules --

def numbers(layer: Layer, field: str, value, integer: bool = True, lo=None, hi=None, allowed: str = "") -> np.ndarray | None:
    """``value`` as a finite numeric array within ``[lo, hi]`` (integer-valued when
    ``integer``), or None after recording why not."""
    what = allowed or ("integers" if integer else "finite numbers") + (
        f" in [{lo}, {hi}]" if lo is not None and hi is not None else f" >= {lo}" if lo is not None else "")
    if isinstance(value, dict):
        layer.add(field, "is a group", what)
        return None
    a = np.asarray(value)
    if a.dtype.kind not in "biuf":
        layer.add(field, f"is {_show(value)} (dtype {a.dtype}), not a number", what)
        return None
    if a.size == 0:
        layer.add(field, "is empty", what)
        return None
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        bad = a[~np.isfinite(a)].reshape(-1)[0]
        layer.add(field, f"holds {bad} (not finite)", what)
        return None
    if integer and a.dtype.kind == "f" and not np.array_equal(a, np.round(a)):
        bad = a[a != np.round(a)].reshape(-1)[0]
        layer.add(field, f"holds {bad}, not an integer (netx would truncate it)", what)
        return None
    if (lo is not None and a.min() < lo) or (hi is not None and a.max() > hi):
        bad = a.min() if lo is not None and a.min() < lo else a.max()
        layer.add(field, f"holds {bad:g}", what)
        return None
    return a.astype(np.int64) if integer else a


def scalar(layer: Layer, field: str, lo=None, hi=None, allowed: str = "") -> int | None:
    v = layer.get(field)
    a = numbers(layer, field, v, True, lo, hi, allowed)
    if a is None:
        return None
    if a.size != 1:
        layer.add(field, f"is {_show(v)}", "one number")
        return None
    return int(a.reshape(-1)[0])


# ------------------------------------------------------------------ layer rules --

def check_fields(layer: Layer) -> None:
    """Required fields present, no unknown ones."""
    known = set(REQUIRED[layer.kind]) | set(OPTIONAL[layer.kind]) | {"type"}
    for f in REQUIRED[layer.kind]:
        if f == "weight" and layer.kind == "dense_comp":
            continue
        if f not in layer.fields:
            layer.add(f, "is missing", "netx reads it without a default")
    if layer.kind in ("dense", "dense_comp"):
        w = layer.fields.get("weight")
        if w is None and "weight" not in layer.fields:
            layer.add("weight", "is missing", "a weight matrix, or weight/real and weight/imag")
        elif isinstance(w, dict) and set(w) != {"real", "imag"}:
            layer.add("weight", f"is a group of {sorted(w)}", "weight/real and weight/imag")
    for f in layer.fields:
        if f not in known:
            layer.add(f, "is not a field netx reads", f"{', '.join(sorted(known))} (netx would ignore it)")


def check_neuron(layer: Layer) -> str | None:
    """The neuron group's type and fields; returns the neuron type."""
    n = layer.fields.get("neuron")
    if n is None:
        return None
    if not isinstance(n, dict):
        layer.add("neuron", "is a dataset", "a group")
        return None
    raw = n.get("type")
    kind = text(raw) if raw is not None else None
    if kind not in NEURONS:
        layer.add("neuron/type", "is missing" if raw is None else f"is {_show(raw)}", ", ".join(NEURONS))
        return None
    required, optional = NEURON_FIELDS[kind]
    for f in n:
        if f not in required + optional + ("type",):
            why = ("netx 0.6 cannot read it (it is not among its array keys)" if f == "messageBits"
                   else "netx would ignore it")
            layer.add(f"neuron/{f}", "is not a field netx reads", f"{', '.join(required + optional)} ({why})")
    for f in required:
        if f not in n:
            layer.add(f"neuron/{f}", "is missing", f"netx reads it for {kind} neurons")
    rules = {"iDecay": (0, DECAY_MAX), "vDecay": (0, DECAY_MAX), "sinDecay": (-RF_DECAY_MAX, RF_DECAY_MAX),
             "cosDecay": (-RF_DECAY_MAX, RF_DECAY_MAX),
             "vThMant": (0, VTH_MAX)}       # 0: fires at any positive voltage (a relay)
    for f, (lo, hi) in rules.items():
        if f in n:
            scalar(layer, f"neuron/{f}", lo, hi)
    return kind


def text(v) -> str:
    """An HDF5 string field as netx decodes it (the first element of an array)."""
    a = np.asarray(v)
    x = a.reshape(-1)[0] if a.size else b""
    return x.decode("ascii", errors="replace") if isinstance(x, bytes) else str(x)


def dense_weights(layer: Layer, field: str, rows: int | None) -> np.ndarray | None:
    """A dense weight matrix netx represents without clipping, as ``(out, in)``."""
    lo, hi = NETX_WEIGHT_RANGE
    a = numbers(layer, field, layer.get(field), True, lo, hi,
                f"integers in [{lo}, {hi}] ({lo}..{NETX_MIXED_MAX} with mixed signs): what netx's 8-bit weights "
                "hold (beyond it netx clips or zeroes them)")
    if a is None:
        return None
    if a.ndim == 1 and rows and a.size % rows == 0:
        a = a.reshape(rows, -1)
    if a.ndim != 2 or (rows is not None and a.shape[0] != rows):
        layer.add(field, f"has shape {a.shape}", f"(outputs, inputs) with {rows} outputs (the layer's shape)")
        return None
    if np.max(a) == 0 and np.signbit(np.max(a)) and a.min() < 0:
        layer.add(field, "has -0.0 as its largest weight", "0.0 (netx's weight optimiser fails on a negative zero)")
    if a.min() < 0 < a.max() and a.max() > NETX_MIXED_MAX:
        layer.add(field, f"holds {a.max()} beside negative weights",
                  f"at most {NETX_MIXED_MAX} with mixed signs (netx clips)")
    return a


def check_bias(layer: Layer, neurons: tuple, neuron: str | None) -> None:
    if "bias" not in layer.fields:
        return
    lo, hi = BIAS_RANGE if neuron in ("CUBA", "LOIHI") else (-(1 << 19), (1 << 19) - 1)
    b = numbers(layer, "bias", layer.get("bias"), True, lo, hi)
    if b is None:
        return
    if not neurons:
        return                          # the layer's shape is at fault, and said so
    n = int(np.prod(neurons))
    if not (b.size == 1 or b.size == n or (len(neurons) == 3 and b.size == neurons[0])):
        layer.add("bias", f"has {b.size} values", f"1, one per channel ({neurons[0]}) or one per neuron ({n})")


def check_delay(layer: Layer, w: np.ndarray | None) -> None:
    if "delay" not in layer.fields:
        return
    d = numbers(layer, "delay", layer.get("delay"), True, 0, MAX_DELAY,
                f"integers in [0, {MAX_DELAY}] (netx clamps larger ones, Loihi 2 holds 6 bits)")
    if d is None or w is None:
        return
    if not (d.size == 1 or d.shape in ((w.shape[0],), (w.shape[1],), w.shape)):
        layer.add("delay", f"has shape {d.shape}", f"one value, ({w.shape[0]},), ({w.shape[1]},) or {w.shape}")


def shape_of(layer: Layer) -> tuple | None:
    if "shape" not in layer.fields:
        return None
    a = numbers(layer, "shape", layer.get("shape"), True, 1, 1 << 24, "positive integers")
    return None if a is None else tuple(int(s) for s in a.reshape(-1))


def pair(layer: Layer, field: str, lo: int, default) -> tuple[int, int] | None:
    if field not in layer.fields:
        return default
    a = numbers(layer, field, layer.get(field), True, lo, INT8_MAX)
    if a is None:
        return None
    a = a.reshape(-1)
    if a.size not in (1, 2):
        layer.add(field, f"has {a.size} values", "one or two (H, W)")
        return None
    return (int(a[0]), int(a[-1]))


class Chain:
    """What the next layer's synapse receives: the file shape ``(C, H, W)`` of a conv
    input, the neuron count, whether a flatten came between."""

    def __init__(self):
        self.shape: tuple | None = None
        self.flatten = False
        self.broken = False          # a layer before had problems: its shape is not trusted


def check_conv(layer: Layer, chain: Chain, shape: tuple | None) -> None:
    from spikeport.geometry import conv_out

    w = numbers(layer, "weight", layer.get("weight"), True, -(1 << 23), (1 << 23) - 1)
    stride, padding, dilation = (pair(layer, "stride", 1, (1, 1)), pair(layer, "padding", 0, (0, 0)),
                                 pair(layer, "dilation", 1, (1, 1)))
    groups = scalar(layer, "groups", 1, INT8_MAX) if "groups" in layer.fields else 1
    if chain.broken:
        return
    if chain.shape is None or len(chain.shape) != 3:
        layer.add("weight", f"follows a layer of shape {chain.shape}", "a (C, H, W) input: an input layer or a conv")
        return
    if w is None or None in (stride, padding, dilation, groups) or shape is None:
        return
    if w.ndim == 5 and w.shape[-1] == 1:
        w = w[..., 0]
    c = chain.shape[0]
    if w.ndim != 4 or c % groups or w.shape[0] % groups or w.shape[1] != c // groups:
        layer.add("weight", f"has shape {w.shape} with groups {groups}",
                  f"(out, {c} // groups, kH, kW), groups dividing {c} input and the output channels")
        return
    out = (int(w.shape[0]),) + tuple(conv_out(chain.shape[a + 1], w.shape[a + 2], stride[a], padding[a], dilation[a])
                                     for a in (0, 1))
    if min(out) < 1 or out != tuple(shape):
        layer.add("shape", f"is {list(shape)}", f"{list(out)}: the conv of its input {list(chain.shape)}")


def check_dense(layer: Layer, chain: Chain, shape: tuple | None, neuron: str | None) -> np.ndarray | None:
    rows = int(np.prod(shape)) if shape else None
    complex_ = isinstance(layer.fields.get("weight"), dict)
    if complex_ != (neuron in ("RF_PHASE", "RF_IZ")) and neuron is not None:
        layer.add("weight", "is real" if not complex_ else "is complex",
                  "weight/real and weight/imag exactly for RF_PHASE / RF_IZ neurons")
    fields = ("weight/real", "weight/imag") if complex_ else ("weight",) + (
        ("weight_rec",) if layer.kind == "dense_rec" else ())
    mats = [dense_weights(layer, f, rows) for f in fields]
    w = mats[0]
    for m, f in zip(mats, fields):      # netx optimises weight bits per matrix (weight_rec with weight)
        if m is not None and m.size and not np.any(m) and f != "weight_rec":
            layer.add(f, "is all zero", "at least one nonzero weight (netx's weight optimiser divides by it)")
    check_kept(layer, mats, fields, complex_)
    if layer.kind == "dense_rec" and len(mats) > 1 and mats[1] is not None and rows and mats[1].shape != (rows, rows):
        layer.add("weight_rec", f"has shape {mats[1].shape}", f"({rows}, {rows})")
    if layer.kind == "dense_rec" and "delay" in layer.fields:
        layer.add("delay", "is given", "no delays on a dense_rec layer (netx 0.6 builds its recurrent synapse wrongly)")
    n_in = int(np.prod(chain.shape)) if chain.shape and not chain.broken else None
    if n_in is not None and len(chain.shape) > 1 and chain.shape[0] > 1 and not chain.flatten:
        layer.add("weight", f"follows a layer of shape {list(chain.shape)} without a flatten layer",
                  "a flatten layer between a conv and a dense layer")
    for m, f in zip(mats, fields):
        if m is not None and n_in is not None and m.shape[1] != n_in and f != "weight_rec":
            layer.add(f, f"has {m.shape[1]} inputs", f"{n_in}: the neurons of the layer before")
    return w


def check_kept(layer: Layer, mats: list, fields: tuple, complex_: bool) -> None:
    """Weights netx and Lava would run otherwise than written (:func:`netx_keeps`)."""
    if any(m is None for m in mats) or not any(np.any(m) for m in mats) or len({m.shape[0] for m in mats}) != 1:
        return
    groups = [[m] for m in mats] if complex_ else [mats]     # a dense_rec layer's matrices share one exponent
    names = [[f] for f in fields] if complex_ else [list(fields)]
    for group, name in zip(groups, names):
        ints_ = [m.astype(np.int64) for m in group]
        if not netx_keeps(ints_):
            layer.add(" and ".join(name), "would not load as written (netx's weight optimiser counts a sign bit "
                      "these weights lack, and Lava then drops their lowest bit)",
                      "weights of one sign without zeros, or even weights")


def check_layer(layer: Layer, chain: Chain) -> None:
    """Every rule for one layer; advances ``chain``."""
    check_fields(layer)
    neuron = check_neuron(layer)
    shape = shape_of(layer)
    if layer.kind == "input":
        for f in ("weight", "bias"):
            if f in layer.fields and numbers(layer, f, layer.get(f)) is not None and np.asarray(layer.get(f)).size != 1:
                layer.add(f, f"is {_show(layer.get(f))}", "one number (netx reads it with int())")
        chain.shape, chain.flatten = shape, False
    elif layer.kind == "flatten":
        chain.flatten = True
    elif layer.kind in ("conv", "pool"):
        if layer.kind == "conv":
            check_conv(layer, chain, shape)
        else:
            numbers(layer, "weight", layer.get("weight"), True, *NETX_WEIGHT_RANGE)
        check_bias(layer, shape or (), neuron)
        chain.shape, chain.flatten = shape, False
    elif layer.kind in ("dense", "dense_rec", "dense_comp"):
        w = check_dense(layer, chain, shape, neuron)
        check_bias(layer, (int(np.prod(shape)),) if shape else (), neuron)
        check_delay(layer, w)
        chain.shape, chain.flatten = ((int(np.prod(shape)),) if shape else None), False


def _open(path: Path):
    import h5py

    if not path.exists():
        raise SpikeportError(f"{path}: no such network file")
    if not path.is_file():
        raise SpikeportError(f"{path}: not a regular file")
    if path.stat().st_size == 0:
        raise SpikeportError(f"{path}: empty file, not an HDF5 network")
    try:
        if not h5py.is_hdf5(str(path)):
            raise SpikeportError(f"{path}: not an HDF5 file (netx networks are HDF5)")
        return h5py.File(path, "r")
    except SpikeportError:
        raise
    except (OSError, ValueError, RuntimeError) as e:
        msg = " ".join(str(e).split())
        hint = " (truncated file?)" if "truncat" in msg.lower() or "eof" in msg.lower() else ""
        raise SpikeportError(f"{path}: cannot read as an HDF5 network{hint}: {msg}") from None


def read_layers(path: str | os.PathLike, num_layers: int | None = None) -> list[Layer]:
    """The layer groups of ``path`` (the first ``num_layers``), read defensively; raises
    :class:`SpikeportError` for a file that is not a netx network at all."""
    path = Path(path)
    with _open(path) as h:
        g = h.get("layer")
        if g is None or not hasattr(g, "keys"):
            raise SpikeportError(f"{path}: not a netx network (no 'layer' group)")
        keys = sorted(g.keys(), key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))
        if not keys or keys != [str(i) for i in range(len(keys))]:
            raise SpikeportError(f"{path}: netx layer groups must be layer/0 ... layer/N-1, found "
                                 f"{', '.join(keys[:8]) or 'none'}")
        count = len(keys) if num_layers is None else min(len(keys), int(num_layers))
        layers = []
        for i in range(count):
            if not hasattr(g[str(i)], "keys"):
                raise SpikeportError(f"{path}: layer {i} is a dataset, not a group")
            layers.append(Layer(str(path), i, g[str(i)]))
    return layers


def problems(path: str | os.PathLike, num_layers: int | None = None) -> list[str]:
    """Every problem of the netx file at ``path`` (the first ``num_layers`` layers),
    one line each; [] for a network netx and the fast backend run as written."""
    layers = read_layers(path, num_layers)
    chain, found = Chain(), []
    for k, layer in enumerate(layers):
        raw = layer.fields.get("type")
        layer.kind = text(raw) if raw is not None else "?"
        if raw is None:
            layer.add("type", "is missing", ", ".join(BUILT))
        elif layer.kind in NOT_BUILT:
            tail = f"; --num-layers {k} runs the layers before it" if k > 0 else ""
            layer.add("type", f"is '{layer.kind}'", f"{', '.join(BUILT)} (netx 0.6 does not build {layer.kind}{tail})")
        elif layer.kind not in BUILT:
            layer.add("type", f"is '{layer.kind}'", ", ".join(BUILT))
        elif layer.kind == "average" and k != len(layers) - 1:
            layer.add("type", "is 'average' but not the last layer", "an average readout as the final layer only")
        else:
            check_layer(layer, chain)
        found += layer.found
        chain.broken = chain.broken or bool(layer.found)
    if not any(l.kind in ("conv", "pool", "dense", "dense_rec", "dense_comp") or
               (l.kind == "input" and "neuron" in l.fields) for l in layers):
        found.append(f"{path}: no layer with neurons among the {len(layers)} layer(s)")
    return found


def validate(path: str | os.PathLike, num_layers: int | None = None) -> None:
    """Raise :class:`SpikeportError` with the first problem of ``path`` (and how many more)."""
    found = problems(path, num_layers)
    if found:
        more = f" (and {len(found) - 1} more problem{'s' if len(found) > 2 else ''}: spikeport check " \
               f"{path})" if len(found) > 1 else ""
        raise SpikeportError(found[0] + more)
