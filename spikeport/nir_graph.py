"""Reading a NIR graph file and walking it into the chain of layers netx builds
(``spikeport nir import``, first half; :mod:`spikeport.nir_quantize` turns the layers
into Loihi integers and :mod:`spikeport.nir_import` writes them). The mapping from
NIR's continuous time to Loihi's steps is derived in :mod:`spikeport.nir_import`."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spikeport.errors import SpikeportError
from spikeport.fixed_point import BIAS_BITS, MAX_DELAY


CONVENTIONS = ("snntorch", "norse", "sinabs", "rockpool")
DEFAULT_DT = {"snntorch": 1e-4, "norse": 1e-3, "sinabs": 1.0, "rockpool": 1e-3}
NEURONS = ("CubaLIF", "LIF", "IF")
SYNAPSES = ("Affine", "Linear", "Conv2d", "SumPool2d")
SUPPORTED = NEURONS + SYNAPSES + ("Input", "Output", "Flatten", "Delay", "NIRGraph")
NO_SPIKES = "does not spike (Loihi's CUBA neurons do)"
UNSUPPORTED_WHY = {"LI": NO_SPIKES, "CubaLI": NO_SPIKES, "I": NO_SPIKES,
                   "AvgPool2d": "averages, and Loihi's synapses only sum (SumPool2d imports)",
                   "Conv1d": "is a 1-D convolution; netx has 2-D ones"}
BIAS_LIMIT = (1 << (BIAS_BITS - 1)) - 1
EXACT = 1e-6                    # quantization errors below this are float (float32) noise
STEP_TOLERANCE = 1e-6           # a delay within this many steps of an integer is that integer


# ------------------------------------------------------------------ reading --

def _required(kind: str) -> tuple[str, ...]:
    """The fields a serialized NIR node of type ``kind`` cannot do without."""
    import nir

    if kind in ("Input", "Output"):
        return ("shape",)
    if kind == "NIRGraph":
        return ("nodes", "edges")
    cls = getattr(nir, kind)
    return tuple(f.name for f in dataclasses.fields(cls) if f.init and f.name != "metadata"
                 and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)


def scan_nodes(group, where: str, prefix: str = "") -> None:
    """Check every serialized node under ``group`` (an h5py ``nodes`` group): a
    type spikeport knows and the fields it needs; one-line errors naming the node."""
    import nir

    known = set(nir.ir.__all__) - {"NIRNode", "str2NIRNode", "dict2NIRNode"}
    for name in group:
        node, label = group[name], prefix + name
        if not hasattr(node, "keys") or "type" not in node:
            raise SpikeportError(f"{where}: node '{label}' has no 'type' field")
        raw = node["type"][()]
        kind = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        if kind not in known:
            raise SpikeportError(f"{where}: node '{label}' has type '{kind}', not a NIR node type")
        if kind not in SUPPORTED:
            why = UNSUPPORTED_WHY.get(kind, "has no Loihi CUBA equivalent")
            raise SpikeportError(f"{where}: node '{label}' ({kind}) {why}; spikeport imports {', '.join(SUPPORTED)}")
        missing = [f for f in _required(kind) if f not in node]
        if missing:
            raise SpikeportError(f"{where}: node '{label}' ({kind}) has no '{missing[0]}' field")
        if kind == "NIRGraph":
            scan_nodes(node["nodes"], where, label + "/")


def read_graph(path: str | os.PathLike):
    """``nir.read`` of ``path`` after checking that it is a NIR file whose nodes
    spikeport can read; every failure is one :class:`SpikeportError` line."""
    import h5py
    import nir

    p = Path(path)
    if not p.is_file():
        raise SpikeportError(f"{p}: no such NIR file")
    if not h5py.is_hdf5(str(p)):
        raise SpikeportError(f"{p}: not a NIR file (NIR graphs are HDF5 files written by nir.write)")
    with h5py.File(p, "r") as h:
        if "node" not in h or not hasattr(h["node"], "keys") or "nodes" not in h["node"]:
            raise SpikeportError(f"{p}: not a NIR file (no 'node/nodes' group; a netx network? spikeport nir "
                                 f"export turns one into NIR)")
        scan_nodes(h["node"]["nodes"], str(p))
    try:
        return nir.read(p, type_check=False)
    except Exception as e:  # nir's own checks: a one-line reason
        raise SpikeportError(f"{p}: not a readable NIR graph ({type(e).__name__}: "
                             f"{' '.join(str(e).split())[:160]})") from None


# ------------------------------------------------------------------ structure --

@dataclass
class Spec:
    """One netx layer found in the graph, still in NIR's floats and ``(C, H, W)`` order.

    ``kind``: ``input`` (neurons fed by the graph's input), ``dense``, ``dense_rec`` or
    ``conv``; ``weight``: dense ``(out, in)`` or conv ``(O, C/groups, kH, kW)``;
    ``bias``: the synapse's bias per output (channel); ``delay``: ``(out, in)`` steps or
    None; ``geometry``: conv ``stride``, ``padding``, ``dilation`` ((H, W)) and
    ``groups``; ``neuron``: the NIR neuron node, ``label`` its name; ``nodes``: the
    graph nodes the layer came from; ``holder``: the node whose metadata would carry
    spikeport's netx integers."""

    kind: str
    in_shape: tuple
    out_shape: tuple = ()
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    delay: np.ndarray | None = None
    geometry: dict = field(default_factory=dict)
    weight_rec: np.ndarray | None = None
    neuron: Any = None
    label: str = ""
    nodes: list = field(default_factory=list)
    holder: Any = None


def _pair(v, what: str) -> tuple[int, int]:
    a = np.asarray(v).reshape(-1)
    if a.size not in (1, 2) or not np.all(a == np.round(a)):
        raise SpikeportError(f"{what} is {a.tolist()}, not one or two integers")
    return (int(a[0]), int(a[-1]))


def conv_padding(padding, kernel: tuple, dilation: tuple, stride: tuple, what: str) -> tuple[int, int]:
    """NIR's conv padding (integers, ``'valid'`` or ``'same'``) as two integers (H, W)."""
    if isinstance(padding, bytes):
        padding = padding.decode()
    if isinstance(padding, str) or np.asarray(padding).dtype.kind in "SUO":
        text = str(np.asarray(padding).reshape(-1)[0] if not isinstance(padding, str) else padding)
        if text == "valid":
            return (0, 0)
        if text == "same" and stride == (1, 1) and all(d * (k - 1) % 2 == 0 for k, d in zip(kernel, dilation)):
            return tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation))
        raise SpikeportError(f"{what} padding '{text}' has no symmetric integer form netx holds")
    return _pair(padding, f"{what} padding")


NEURON_PARAMS = {"CubaLIF": ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in"),
                 "LIF": ("tau", "r", "v_leak", "v_threshold", "v_reset"), "IF": ("r", "v_threshold", "v_reset")}


def neuron_params(node, shape: tuple, what: str) -> dict[str, np.ndarray]:
    """A neuron node's parameters as float64 arrays of the layer's ``shape`` (one value
    broadcast to all), or a one-line error naming the field that does not fit."""
    out = {}
    for key in NEURON_PARAMS[type(node).__name__]:
        a = np.asarray(getattr(node, key), np.float64)
        if a.size == 1:
            a = np.full(shape, a.reshape(-1)[0])
        elif a.shape != tuple(shape):
            if a.size != int(np.prod(shape)) or len(shape) != 1:
                raise SpikeportError(f"{what}: {key} has shape {a.shape}, its synapse feeds {tuple(shape)} neurons")
            a = a.reshape(shape)
        if np.isnan(a).any():
            raise SpikeportError(f"{what}: {key} holds NaN")
        out[key] = a
    return out


class Walk:
    """The graph's chain of netx layers, read from its Input to its Output."""

    def __init__(self, graph, where: str, dt: float, prefix: str = ""):
        self.g, self.where, self.dt, self.prefix = graph, where, dt, prefix
        self.succ = {k: [] for k in graph.nodes}
        self.pred = {k: [] for k in graph.nodes}
        for a, b in graph.edges:
            for end in (a, b):
                if end not in graph.nodes:
                    raise SpikeportError(f"{where}: edge ({a}, {b}) names no node '{prefix}{end}'")
            self.succ[a].append(b)
            self.pred[b].append(a)

    def at(self, n: str) -> str:
        return f"{self.where}: node '{self.prefix}{n}' ({self.kind(n)})"

    def kind(self, n: str) -> str:
        return type(self.g.nodes[n]).__name__

    def only_next(self, n: str) -> str:
        nxt = self.succ[n]
        if len(nxt) != 1:
            raise SpikeportError(f"{self.at(n)}: feeds {len(nxt)} nodes ({', '.join(nxt) or 'none'}); netx wires a "
                                 f"synapse into one neuron population")
        if len(self.pred[nxt[0]]) != 1 and self.kind(nxt[0]) not in NEURONS + ("NIRGraph",):
            raise SpikeportError(f"{self.at(nxt[0])}: sums {len(self.pred[nxt[0]])} inputs; netx sums synapses only "
                                 f"into neurons")
        return nxt[0]

    def recurrent_of(self, n: str) -> list[str]:
        """``Affine``/``Linear`` nodes forming a loop on neuron node ``n``."""
        if self.kind(n) not in NEURONS:
            return []
        return [r for r in self.succ[n] if self.kind(r) in ("Affine", "Linear") and self.succ[r] == [n]
                and self.pred[r] == [n]]

    def ends(self) -> tuple[str, str]:
        ins = [k for k in self.g.nodes if self.kind(k) == "Input"]
        outs = [k for k in self.g.nodes if self.kind(k) == "Output"]
        if len(ins) != 1 or len(outs) != 1:
            raise SpikeportError(f"{self.where}: {len(ins)} Input and {len(outs)} Output nodes; a netx network has "
                                 f"one of each")
        return ins[0], outs[0]

    def trace(self, n: str) -> tuple:
        """One branch ``[Delay] -> synapse -> [Delay] -> neurons`` from node ``n``."""
        pre = post = None
        if self.kind(n) == "Delay":
            pre, n = n, self.only_next(n)
        if self.kind(n) not in SYNAPSES:
            raise SpikeportError(f"{self.at(n)}: netx needs a synapse ({', '.join(SYNAPSES)}) between neuron "
                                 f"populations here")
        op = n
        n = self.only_next(op)
        if self.kind(n) == "Delay":
            post, n = n, self.only_next(n)
        if self.kind(n) not in NEURONS + ("NIRGraph",):
            raise SpikeportError(f"{self.at(op)}: feeds '{self.prefix}{n}' ({self.kind(n)}); netx runs a synapse "
                                 f"into neurons ({', '.join(NEURONS)})")
        return pre, op, post, n


def delay_steps(w: Walk, n: str, size: int) -> np.ndarray:
    """A ``Delay`` node's delays (s) as whole steps ``(size,)`` in 0..62."""
    d = np.asarray(w.g.nodes[n].delay, np.float64).reshape(-1)
    if d.size not in (1, size):
        raise SpikeportError(f"{w.at(n)}: {d.size} delays for a signal of {size}")
    steps = np.broadcast_to(d / w.dt, (size,))
    whole = np.round(steps)
    bad = np.abs(steps - whole) > STEP_TOLERANCE * np.maximum(1.0, np.abs(steps))
    if bad.any():
        k = int(np.argmax(bad))
        raise SpikeportError(f"{w.at(n)}: delay {d.reshape(-1)[k % d.size]:g} s is {steps[k]:g} steps at dt "
                             f"{w.dt:g} s, not a whole number (pass the graph's --dt)")
    if whole.min() < 0 or whole.max() > MAX_DELAY:
        raise SpikeportError(f"{w.at(n)}: delays of {whole.min():g}..{whole.max():g} steps; netx and Loihi hold "
                             f"0..{MAX_DELAY}")
    return whole.astype(np.int64)


def dense_inputs(w: Walk, src: str, op: str, shape: tuple, flat: bool) -> int:
    """How many inputs a dense synapse after ``src`` (output ``shape``) takes."""
    if len(shape) == 1 or flat or (w.kind(src) == "Input" and all(s == 1 for s in shape[:-1])):
        return int(np.prod(shape))
    raise SpikeportError(f"{w.at(op)}: follows a {tuple(shape)} signal without a Flatten node; netx feeds dense "
                         f"synapses flat inputs")


def dense_spec(w: Walk, src: str, paths: list, shape: tuple, flat: bool) -> Spec:
    """Parallel ``[Delay] -> Affine/Linear -> [Delay]`` branches merged into one
    delayed dense synapse (branches must not give one synapse two delays)."""
    n_in = dense_inputs(w, src, paths[0][1], shape, flat)
    weight = delay = bias = None
    for pre, op, post, _ in paths:
        node = w.g.nodes[op]
        part = np.asarray(node.weight, np.float64)
        if part.ndim != 2 or part.shape[1] != n_in or (weight is not None and part.shape != weight.shape):
            raise SpikeportError(f"{w.at(op)}: weight of shape {part.shape} does not take the {n_in} inputs its "
                                 f"source gives")
        if weight is None:
            weight, delay, bias = np.zeros_like(part), np.zeros(part.shape, np.int64), np.zeros(part.shape[0])
        d = np.zeros(part.shape, np.int64)
        if pre is not None:
            d += delay_steps(w, pre, n_in)[None, :]
        if post is not None:
            d += delay_steps(w, post, part.shape[0])[:, None]
        on = part != 0
        if (on & (weight != 0) & (delay != d)).any():
            raise SpikeportError(f"{w.at(op)}: a parallel branch delivers the same synapses with other delays; "
                                 f"netx holds one delay per synapse")
        delay, weight = np.where(on, d, delay), weight + part
        if type(node).__name__ == "Affine":
            bias = bias + np.broadcast_to(np.asarray(node.bias, np.float64).reshape(-1), bias.shape)
    has_delay = any(p[0] is not None or p[2] is not None for p in paths)
    return Spec("dense", (n_in,), (weight.shape[0],), weight, bias if bias.any() else None,
                delay if has_delay else None, nodes=[n for p in paths for n in p[:3] if n is not None])


def conv_spec(w: Walk, path: tuple, shape: tuple) -> Spec:
    """A ``Conv2d`` (or a ``SumPool2d``, as the grouped convolution Loihi runs)."""
    from spikeport.geometry import conv_out

    pre, op, post, _ = path
    if pre is not None or post is not None:
        raise SpikeportError(f"{w.at(pre or post)}: a delay on a convolution; netx conv layers have no axonal "
                             f"delays")
    if len(shape) != 3:
        raise SpikeportError(f"{w.at(op)}: needs a (C, H, W) input, its source gives {tuple(shape)}")
    node, c = w.g.nodes[op], int(shape[0])
    if w.kind(op) == "SumPool2d":
        kernel = _pair(node.kernel_size, f"{w.at(op)} kernel_size")
        weight, groups, bias, dilation = np.ones((c, 1) + kernel), c, None, (1, 1)
        padding = _pair(node.padding, f"{w.at(op)} padding")
    else:
        weight = np.asarray(node.weight, np.float64)
        groups = int(np.asarray(node.groups).reshape(-1)[0])
        if weight.ndim != 4 or groups < 1 or weight.shape[1] * groups != c or weight.shape[0] % groups:
            raise SpikeportError(f"{w.at(op)}: weight of shape {weight.shape} with groups {groups} does not take "
                                 f"{c} input channels")
        kernel, dilation = weight.shape[2:], _pair(node.dilation, f"{w.at(op)} dilation")
        bias = np.broadcast_to(np.asarray(node.bias, np.float64).reshape(-1), weight.shape[:1]).copy()
        padding = conv_padding(node.padding, kernel, dilation, _pair(node.stride, w.at(op)), w.at(op))
    stride = _pair(node.stride, f"{w.at(op)} stride")
    out = (weight.shape[0],) + tuple(conv_out(shape[a + 1], kernel[a], stride[a], padding[a], dilation[a])
                                     for a in (0, 1))
    if min(out) < 1:
        raise SpikeportError(f"{w.at(op)}: a {tuple(kernel)} kernel leaves no output of a {tuple(shape)} input")
    geo = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    return Spec("conv", tuple(shape), out, weight, bias if bias is not None and bias.any() else None,
                geometry=geo, nodes=[op])


def recurrent_subgraph(w: Walk, n: str) -> tuple[str, Any, Any]:
    """``(neuron name, neuron node, recurrent Affine/Linear)`` of a subgraph that is a
    recurrent layer (``input -> neuron <-> Affine/Linear``, ``neuron -> output``)."""
    sub = w.g.nodes[n]
    inner = Walk(sub, w.where, w.dt, f"{w.prefix}{n}/")
    kinds = {k: inner.kind(k) for k in sub.nodes}
    lifs = [k for k, t in kinds.items() if t in NEURONS]
    recs = inner.recurrent_of(lifs[0]) if len(lifs) == 1 else []
    shape_ok = len(sub.nodes) == 4 and len(recs) == 1 and sorted(kinds.values()).count("Input") == 1 \
        and sorted(kinds.values()).count("Output") == 1
    if shape_ok:
        i, o = inner.ends()
        shape_ok = set(sub.edges) == {(i, lifs[0]), (lifs[0], recs[0]), (recs[0], lifs[0]), (lifs[0], o)}
    if not shape_ok:
        raise SpikeportError(f"{w.at(n)}: spikeport reads a subgraph only as a recurrent layer (input -> neuron "
                             f"<-> Affine/Linear, neuron -> output)")
    return lifs[0], sub.nodes[lifs[0]], sub.nodes[recs[0]]


def attach_neurons(w: Walk, spec: Spec, n: str) -> Spec:
    """Give ``spec`` the neurons of node ``n`` (a neuron, or a recurrent subgraph),
    checking that their parameters fit the synapse's output."""
    rec, label, node = None, n, w.g.nodes[n]
    if w.kind(n) == "NIRGraph":
        inner, node, rec = recurrent_subgraph(w, n)
        label = f"{n}/{inner}"
    elif w.recurrent_of(n):
        rec = w.g.nodes[w.recurrent_of(n)[0]]
    where = f"{w.where}: node '{w.prefix}{label}' ({type(node).__name__})"
    if rec is not None:
        if spec.kind != "dense" or spec.delay is not None:
            raise SpikeportError(f"{where}: a recurrent loop on a {spec.kind} layer"
                                 f"{' with delays' if spec.delay is not None else ''}; netx builds recurrent "
                                 f"dense layers without delays only")
        wr = np.asarray(rec.weight, np.float64)
        if wr.shape != (spec.out_shape[0],) * 2:
            raise SpikeportError(f"{where}: recurrent weight of shape {wr.shape} for {spec.out_shape[0]} neurons")
        spec.kind, spec.weight_rec = "dense_rec", wr
        if type(rec).__name__ == "Affine" and np.any(rec.bias):
            spec.bias = (0 if spec.bias is None else spec.bias) + np.asarray(rec.bias, np.float64).reshape(-1)
    neuron_params(node, spec.out_shape, where)
    spec.neuron, spec.label, spec.holder = node, label, w.g.nodes[n]
    spec.nodes.append(n)
    return spec


def flatten_shape(w: Walk, n: str, shape: tuple) -> tuple:
    node = w.g.nodes[n]
    k = len(shape)
    start, end = int(node.start_dim) % k, int(node.end_dim) % k
    if (start, end) != (0, k - 1):
        raise SpikeportError(f"{w.at(n)}: flattens dimensions {start}..{end} of {tuple(shape)}; netx flattens a "
                             f"whole layer")
    return (int(np.prod(shape)),)


def walk_layers(w: Walk) -> tuple[tuple, list]:
    """The graph's input shape and its layers in order: :class:`Spec` items and
    ``("flatten", node)`` markers. Raises for anything netx cannot wire."""
    src, out = w.ends()
    shape = tuple(int(s) for s in np.asarray(w.g.nodes[src].input_type["input"]).reshape(-1))
    items, flat, seen = [], False, {src, out}
    while True:
        nxt = [n for n in w.succ[src] if n not in w.recurrent_of(src)]
        if not nxt:
            raise SpikeportError(f"{w.at(src)}: leads nowhere (no path to the Output node)")
        if out in nxt:
            if len(nxt) > 1:
                raise SpikeportError(f"{w.at(src)}: feeds the Output and {', '.join(x for x in nxt if x != out)}: "
                                     f"branches netx cannot wire (a netx network is one chain of layers)")
            break
        if len(nxt) == 1 and w.kind(nxt[0]) == "Flatten":
            if len(shape) > 1:
                items.append(("flatten", nxt[0]))
            src, shape, flat = nxt[0], flatten_shape(w, nxt[0], shape), True
        elif len(nxt) == 1 and w.kind(nxt[0]) in NEURONS and w.kind(src) == "Input":
            items.append(attach_neurons(w, Spec("input", shape, shape), nxt[0]))
            src = nxt[0]
        else:
            spec = next_layer(w, src, nxt, shape, flat)
            items.append(spec)
            src, shape, flat = spec.nodes[-1], spec.out_shape, False
        if src in seen:
            raise SpikeportError(f"{w.at(src)}: reached twice: a loop netx cannot wire")
        seen |= {src, *w.recurrent_of(src)} | set(items[-1].nodes if items and isinstance(items[-1], Spec) else [])
    stray = [k for k in w.g.nodes if k not in seen]
    if stray:
        raise SpikeportError(f"{w.at(stray[0])}: not on the chain from Input to Output; netx cannot wire branches")
    return tuple(int(s) for s in np.asarray(w.g.nodes[w.ends()[0]].input_type["input"]).reshape(-1)), items


def next_layer(w: Walk, src: str, nxt: list[str], shape: tuple, flat: bool) -> Spec:
    """The layer whose synapse branches ``nxt`` leave node ``src``."""
    paths = [w.trace(n) for n in nxt]
    targets = sorted({p[3] for p in paths})
    if len(targets) > 1:
        raise SpikeportError(f"{w.at(src)}: branches to {', '.join(targets)}; netx wires each layer to the next "
                             f"only")
    target = targets[0]
    ends = {p[2] or p[1] for p in paths}
    extra = [p for p in w.pred[target] if p not in ends and p not in w.recurrent_of(target)]
    if extra:
        raise SpikeportError(f"{w.at(target)}: also receives '{extra[0]}'; a netx layer takes one synapse from "
                             f"the layer before")
    if any(w.kind(p[1]) in ("Conv2d", "SumPool2d") for p in paths):
        if len(paths) > 1:
            raise SpikeportError(f"{w.at(target)}: {len(paths)} parallel convolutions; netx has one per layer")
        spec = conv_spec(w, paths[0], shape)
    else:
        spec = dense_spec(w, src, paths, shape, flat)
    return attach_neurons(w, spec, target)
