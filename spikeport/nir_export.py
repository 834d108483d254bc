"""A netx network as a NIR graph (``spikeport nir export``).

NIR (the Neuromorphic Intermediate Representation, PyPI ``nir``) describes neurons in
continuous time and carries no timestep; spikeport writes each layer in snnTorch's
convention at a stated step ``dt`` (seconds), so that frameworks reading NIR rebuild
the same discrete network, and adds the exact netx integers in the node metadata so
that ``spikeport nir import`` reproduces the file bit for bit.

Loihi's CUBA neuron (:func:`spikeport.fixed_point.cuba_step`), in units where the
threshold mantissa and the weights are divided by 64 (``WEIGHT_SCALE``) and the
24-bit state by 4096, runs per step ``t``::

    u[t] = (1 - iDecay/4096) u[t-1] + sum_j W[i,j] s_j[t]        (rounded toward zero)
    v[t] = (1 - vDecay/4096) v[t-1] + u[t] + bias                (rounded toward zero)
    spike where v[t] > vThMant / 64, then v[t] = 0

snnTorch's ``Synaptic`` is the same recurrence in floats (``syn = alpha syn + x``,
``mem = beta mem + syn``), and its ``export_to_nir`` writes, for a step ``dt``::

    tau_syn = dt / (1 - alpha)   tau_mem = dt / (1 - beta)
    w_in = tau_syn / dt          r = tau_mem / dt               v_leak = 0, v_reset = 0

which is what a forward-Euler step of NIR's CubaLIF equations
(``tau_syn I' = -I + w_in S``, ``tau_mem v' = (v_leak - v) + r I``) gives back:
``I += dt/tau_syn (w_in S - I)`` is ``alpha I + S`` and ``v += dt/tau_mem (v_leak - v + r I)``
is ``beta v + I + v_leak dt/tau_mem``. So every CUBA layer becomes a CubaLIF with
``tau_syn = 4096 dt / iDecay``, ``tau_mem = 4096 dt / vDecay`` (``inf`` for a decay of
0), ``w_in = tau_syn/dt``, ``r = tau_mem/dt``, ``v_threshold = vThMant/64`` and the
synapse weights ``W 2**weight_exp / 64`` (what Lava's Dense runs after netx's weight
optimisation). The bias, a constant voltage input per step, goes to the synapse's
``Affine``/``Conv2d`` bias when the current does not decay across steps
(``iDecay = 4096``: ``I = W S + b``, exact), else to ``v_leak = bias tau_mem / dt``;
a bias on a non-leaky voltage (``vDecay = 0``) with a decaying current has no
continuous form and is refused.

Graph: ``Input`` -> per netx layer ``Flatten``, ``Affine``/``Linear``/``Conv2d`` (pool
layers as ``SumPool2d`` with their shared weight folded into ``w_in``, or as the grouped
``Conv2d`` Loihi runs when they have a bias or dilation), ``Delay`` nodes for
axonal delays (delay ``d dt`` seconds; per-input delays before the synapse,
per-output after it, a general matrix as one ``Delay -> Linear`` branch per delay
value, all summed into the neuron), ``CubaLIF`` (a ``dense_rec`` layer as a NIR
subgraph ``input -> lif <-> w_rec``, ``lif -> output`` as snnTorch writes recurrent
layers) -> ``Output``. Sigma-delta and resonate-and-fire layers and ``average``
readouts have no NIR node and are refused, naming the layer.

Metadata: the graph's ``metadata["spikeport"]`` holds the format, ``dt`` and the
convention; each layer's neuron node (the subgraph for ``dense_rec``, ``Flatten``
and ``Input`` nodes for those layers) holds ``metadata["spikeport"]["netx"]``, the
layer as :func:`spikeport.sim.synthetic.write_network` takes it (integer weights,
delays, bias, decays, threshold, geometry).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from spikeport.errors import SpikeportError
from spikeport.fixed_point import DECAY_UNITY, STATE_SCALE, WEIGHT_SCALE
from spikeport.sim.synthetic import POOL_GEOMETRY

FORMAT = "spikeport-nir/1"
CONVENTION = "snntorch"
DEFAULT_DT = 1e-3
NEURON_FIELDS = ("type", "iDecay", "vDecay", "vThMant")     # what netx reads of a CUBA neuron


# ------------------------------------------------------------------ continuous parameters --

def time_constant(decay: int, dt: float) -> float:
    """Time constant (s) of a 12-bit decay at step ``dt`` (s), snnTorch's
    ``dt / (1 - factor)``: ``inf`` for a decay of 0 (no leak)."""
    return float("inf") if decay == 0 else dt * DECAY_UNITY / decay


def cuba_node(idecay: int, vdecay: int, vth: int, shape: tuple, dt: float, v_leak=None, w_in_scale=None):
    """The CubaLIF of a CUBA layer with neurons ``shape`` (NIR order): snnTorch's
    convention at ``dt``. ``v_leak``: per-neuron array (v units) or None;
    ``w_in_scale``: an extra input gain (a pool layer's shared weight)."""
    import nir

    tau_syn, tau_mem = time_constant(idecay, dt), time_constant(vdecay, dt)
    full = lambda v: np.full(shape, v, np.float64)  # noqa: E731
    w_in = full(tau_syn / dt) * (1.0 if w_in_scale is None else w_in_scale)
    leak = full(0.0) if v_leak is None else np.asarray(v_leak, np.float64).reshape(shape)
    return nir.CubaLIF(tau_syn=full(tau_syn), tau_mem=full(tau_mem), r=full(tau_mem / dt), v_leak=leak,
                       v_threshold=full(vth / WEIGHT_SCALE), v_reset=full(0.0), w_in=w_in)


def nir_neurons(a: np.ndarray) -> np.ndarray:
    """A per-neuron array in netx order ``(x, y, c)`` -> NIR's ``(C, H, W)``; 1-D as is."""
    a = np.asarray(a)
    return a.transpose(2, 1, 0) if a.ndim == 3 else a


def bias_placement(layer, where: str) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(synapse_bias, v_leak)`` for a layer's bias (v units, NIR order): the synapse's
    bias when the current does not decay across steps and the bias fits the synapse
    (per channel for a conv), else ``v_leak = bias tau_mem / dt``."""
    n = layer.neuron
    bias = nir_neurons(np.broadcast_to(n.bias, n.shape)).astype(np.float64) / STATE_SCALE
    if not bias.any():
        return None, None
    if n.du + 1 == DECAY_UNITY:
        if bias.ndim == 1:
            return bias, None
        per_channel = bias.reshape(bias.shape[0], -1)
        if (per_channel == per_channel[:, :1]).all():
            return per_channel[:, 0].copy(), None
    if n.dv == 0:
        raise SpikeportError(f"{where}: a bias on neurons without voltage leak (vDecay 0) whose current decays "
                             f"(iDecay {n.du + 1}) has no NIR form (v_leak dt/tau_mem needs a finite tau_mem)")
    return None, bias * DECAY_UNITY / n.dv


def delay_paths(w: np.ndarray, d: np.ndarray | None) -> list[tuple]:
    """Split a dense synapse ``w`` ``(out, in)`` with axonal delays ``d`` (steps) into
    NIR branches ``(pre_delay (in,) | None, weight, post_delay (out,) | None)``."""
    if d is None or not d[w != 0].any():
        return [(None, w, None)]
    on = w != 0
    rows = [np.unique(d[i][on[i]]) for i in range(w.shape[0])]
    if all(r.size <= 1 for r in rows):
        return [(None, w, np.array([r[0] if r.size else 0 for r in rows]))]
    cols = [np.unique(d[:, j][on[:, j]]) for j in range(w.shape[1])]
    if all(c.size <= 1 for c in cols):
        return [(np.array([c[0] if c.size else 0 for c in cols]), w, None)]
    return [(np.full(w.shape[1], v), np.where(on & (d == v), w, 0.0), None) for v in np.unique(d[on])]


# ------------------------------------------------------------------ netx integers (metadata) --

def _ints(v) -> np.ndarray:
    return np.asarray(v).astype(np.int64)


def netx_layer(f) -> dict:
    """One file layer (a :class:`spikeport.sim.netx_validate.Layer`) as the dict
    :func:`~spikeport.sim.synthetic.write_network` writes: the integers netx reads
    (a ``pool`` layer's geometry in :data:`POOL_GEOMETRY` keys, which
    :func:`spikeport.nir_import.write_netx` adds)."""
    from spikeport.sim.netx_validate import text

    fields = dict(f.fields)
    kind = text(fields["type"])
    d: dict = {"type": kind}
    if kind in ("input", "pool"):
        d["shape"] = _ints(fields["shape"]).reshape(-1)
    if kind == "pool":
        d["weight"] = _ints(fields["weight"])
        d.update({k: _ints(fields[k]) for k in POOL_GEOMETRY if k in fields})
    if kind in ("dense", "dense_rec"):
        out = int(np.prod(fields["shape"]))
        d["weight"] = _ints(fields["weight"]).reshape(out, -1)
        if "weight_rec" in fields:
            d["weight_rec"] = _ints(fields["weight_rec"]).reshape(out, -1)
    if kind == "conv":
        w = _ints(fields["weight"])
        d["weight"] = w.reshape(w.shape[:4])
        for key in ("stride", "padding", "dilation"):
            d[key] = np.broadcast_to(_ints(fields[key]).reshape(-1), 2).copy()
        d["groups"] = int(_ints(fields["groups"]).reshape(-1)[0])
    for key in ("bias", "delay"):
        if key in fields and kind != "input":
            d[key] = _ints(fields[key])
    if isinstance(fields.get("neuron"), dict):
        n = fields["neuron"]
        d["neuron"] = {k: (text(n[k]) if k == "type" else int(np.asarray(n[k]).reshape(-1)[0]))
                       for k in NEURON_FIELDS if k in n}
    return d


# ------------------------------------------------------------------ graph --

class GraphBuilder:
    """Nodes and edges of the graph being built."""

    def __init__(self):
        self.nodes: dict = {}
        self.edges: list[tuple[str, str]] = []

    def add(self, name: str, node, sources: list[str]) -> list[str]:
        self.nodes[name] = node
        self.edges += [(s, name) for s in sources]
        return [name]


def recurrent_subgraph(lif, w_rec: np.ndarray):
    """snnTorch's form of a recurrent layer: ``input -> lif``, ``lif <-> w_rec``, ``lif -> output``."""
    import nir

    n = np.array([w_rec.shape[0]])
    nodes = {"input": nir.Input(input_type={"input": n}), "lif": lif, "w_rec": nir.Linear(weight=w_rec),
             "output": nir.Output(output_type={"output": n})}
    edges = [("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def _dense_nodes(g: GraphBuilder, name: str, syn, bias, tail: list[str], dt: float) -> list[str]:
    """A dense synapse (with its delays) as NIR branches; returns the branch ends."""
    import nir

    w = syn.weight.astype(np.float64) * 2.0 ** syn.weight_exp / WEIGHT_SCALE
    paths = delay_paths(w, syn.delays)
    ends = []
    for k, (pre, part, post) in enumerate(paths):
        tag = f"{name}.synapse" + (str(k) if len(paths) > 1 else "")
        src = tail
        if pre is not None:
            src = g.add(f"{tag}.delay_in", nir.Delay(delay=pre * dt), src)
        node = nir.Affine(weight=part, bias=bias) if bias is not None and k == 0 else nir.Linear(weight=part)
        src = g.add(tag, node, src)
        if post is not None:
            src = g.add(f"{tag}.delay", nir.Delay(delay=post * dt), src)
        ends += src
    return ends


def _conv_nodes(g: GraphBuilder, name: str, syn, bias, pool: bool, tail: list[str], shape: tuple):
    """A conv synapse as ``Conv2d`` (or a pool as ``SumPool2d``); returns the ends and
    the input gain to fold into ``w_in`` (a pool's shared weight)."""
    import nir

    kernel = syn.torch_kernel().astype(np.float64) / WEIGHT_SCALE
    hw = lambda p: np.array(p[::-1])  # noqa: E731  (Lava's (x, y) -> NIR's (H, W))
    if pool and bias is None and syn.dilation == (1, 1):
        node = nir.SumPool2d(kernel_size=np.array(kernel.shape[2:]), stride=hw(syn.stride), padding=hw(syn.padding))
        return g.add(f"{name}.synapse", node, tail), float(kernel.reshape(-1)[0])
    node = nir.Conv2d(input_shape=tuple(int(s) for s in shape[1:]), weight=kernel, stride=hw(syn.stride),
                      padding=hw(syn.padding), dilation=hw(syn.dilation), groups=int(syn.groups),
                      bias=np.zeros(kernel.shape[0]) if bias is None else bias)
    return g.add(f"{name}.synapse", node, tail), None


def add_layer(g: GraphBuilder, f, layer, index: int, tail: list[str], shape: tuple, dt: float, where: str):
    """Add a netx layer with neurons; returns ``(tail, shape)`` after it (NIR order)."""
    from spikeport.sim.netx_validate import text

    n, name = layer.neuron, f"layer{index}"
    nshape = nir_neurons(np.zeros(n.shape, np.int8)).shape
    meta = {"spikeport": {"layer": index, "netx": netx_layer(f)}}
    syn, gain, v_leak = layer.synapse, None, None
    if syn is not None:
        bias, v_leak = bias_placement(layer, where)
        if syn.kind == "conv":
            tail, gain = _conv_nodes(g, name, syn, bias, text(f.fields["type"]) == "pool", tail, shape)
        else:
            tail = _dense_nodes(g, name, syn, bias, tail, dt)
    node = cuba_node(n.du + 1, n.dv, n.vth, nshape, dt, v_leak, gain)
    if layer.recurrent is not None:
        w_rec = layer.recurrent.weight.astype(np.float64) * 2.0 ** layer.recurrent.weight_exp / WEIGHT_SCALE
        node = recurrent_subgraph(node, w_rec)
    node.metadata = meta
    return g.add(name, node, tail), nshape


def _refuse_inexpressible(path, raw: list, kinds: list[str]) -> None:
    for i, k in enumerate(kinds):
        if k == "average":
            hint = f"; --num-layers {i} exports the layers before it" if i else ""
            raise SpikeportError(f"{path}: layer {i} (average): a host-side readout (population average) has no "
                                 f"NIR node{hint}")
        n = raw[i].fields.get("neuron")
        if isinstance(n, dict) and "type" in n:
            from spikeport.sim.netx_validate import text

            t = text(n["type"])
            if t in ("SDNN", "RF_PHASE", "RF_IZ"):
                what = {"SDNN": "sigma-delta", "RF_PHASE": "resonate-and-fire", "RF_IZ": "resonate-and-fire"}[t]
                raise SpikeportError(f"{path}: layer {i} ({k}, {t} neurons): {what} neurons have no NIR node "
                                     f"(NIR's spiking neurons are IF, LIF and CubaLIF); not exported")



def _input_shape(raw: list, kinds: list[str], net) -> tuple:
    """The NIR ``Input`` shape: the file's input layer shape (``(C, H, W)`` or ``(n,)``),
    else the first synapse's input in NIR order."""
    if kinds and kinds[0] == "input":
        return tuple(int(s) for s in np.asarray(raw[0].fields["shape"]).reshape(-1))
    return tuple(int(s) for s in net.input_shape[::-1])


def export_graph(path: str | os.PathLike, dt: float = DEFAULT_DT, num_layers: int | None = None):
    """The netx network at ``path`` (its first ``num_layers`` layers) as a
    :class:`nir.NIRGraph` in snnTorch's convention at step ``dt`` (s), with the netx
    integers in the node metadata (see the module doc). Raises
    :class:`SpikeportError` for a file that fails validation or a layer NIR cannot express."""
    import nir

    from spikeport.sim.netx_reader import read_network
    from spikeport.sim.netx_validate import read_layers, text, validate

    if not (np.isfinite(dt) and dt > 0):
        raise SpikeportError(f"--dt {dt}: the timestep must be a positive number of seconds")
    validate(path, num_layers)
    raw = read_layers(path, num_layers)
    kinds = [text(f.fields["type"]) for f in raw]
    _refuse_inexpressible(path, raw, kinds)
    net = read_network(path, **({} if num_layers is None else {"num_layers": num_layers}))
    layers = {layer.name: layer for layer in net}
    g = GraphBuilder()
    shape = _input_shape(raw, kinds, net)
    tail = g.add("input", nir.Input(input_type={"input": np.array(shape)}), [])
    for i, (f, kind) in enumerate(zip(raw, kinds)):
        if kind == "flatten":
            node = nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1)
            node.metadata = {"spikeport": {"layer": i, "netx": {"type": "flatten"}}}
            tail, shape = g.add(f"layer{i}", node, tail), (int(np.prod(shape)),)
        elif kind == "input" and f"layer{i}" not in layers:
            g.nodes["input"].metadata = {"spikeport": {"layer": i, "netx": netx_layer(f)}}
        else:
            tail, shape = add_layer(g, f, layers[f"layer{i}"], i, tail, shape, dt, f"{path}: layer {i} ({kind})")
    g.add("output", nir.Output(output_type={"output": np.array(shape)}), tail)
    meta = {"spikeport": {"format": FORMAT, "dt": float(dt), "convention": CONVENTION, "source": Path(path).name,
                          "layers": len(raw)}}
    return nir.NIRGraph(nodes=g.nodes, edges=g.edges, metadata=meta, type_check=False)


def export_nir(path: str | os.PathLike, out: str | os.PathLike, dt: float = DEFAULT_DT,
               num_layers: int | None = None):
    """Write :func:`export_graph` of ``path`` to ``out`` (``nir.write``, atomic; never
    over an input). Returns the graph."""
    import nir

    from spikeport.atomic import atomic_path, check_output

    check_output(out, [path], what="output (-o)")
    graph = export_graph(path, dt, num_layers)
    with atomic_path(out) as tmp:
        nir.write(tmp, graph)
    return graph
