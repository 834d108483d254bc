"""The structure of a netx HDF5 network, read through the validator's reader (any lava-dl export, CUBA or
sigma-delta, without building Lava processes).

Layers are listed as netx instantiates them: an ``input`` layer with neurons, ``dense``
and ``conv`` layers are compute layers (Lava blocks, in order: the activity counts of the
sim stage use the same order); ``flatten`` and an ``input`` layer without neurons only
shape what follows; a ``pool`` layer is the grouped convolution it runs as
(:func:`spikeport.sim.lowering.pool_as_conv`); other types (``average``, ``convT``, ...)
netx 0.6 cannot load.

Shapes are as stored in the file: channel-first ``(C, H, W)`` for conv layers, ``(n,)``
(or ``(n, 1, 1)``) for dense ones. Neuron order inside a layer does not matter here:
only counts and per-neuron extremes are derived.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from spikeport.errors import SpikeportError
from spikeport.geometry import conv_connections, conv_fan_in, conv_fan_out, conv_out
from spikeport.sim.lowering import pool_as_conv
from spikeport.sim.netx_validate import NOT_BUILT, read_layers, text, validate

DENSE_KINDS = ("dense", "delay_dense", "dense_rec", "complex_dense")


@dataclass
class LayerTopology:
    """One layer of a netx file.

    ``synapses``: nonzero weights (with the real conv geometry); ``weight_positions``:
    multiply-accumulates a dense ANN would do per timestep for this synapse
    (in·out, or out_C·out_H·out_W·in_C/groups·kh·kw); ``fan_in``: most nonzero synapses
    onto one neuron; ``fan_out``: most nonzero synapses from one source neuron into this
    layer; ``weight_bits``: bits of the weight mantissa after the shared power-of-two
    exponent is factored out, sign included for mixed-sign weights.
    """

    h5_index: int
    kind: str                          # input | dense | delay_dense | conv | flatten | <other file type>
    shape: tuple[int, ...]
    neurons: int
    compute: bool                      # a Lava block (has neurons)
    neuron_type: str | None = None     # CUBA | LOIHI | SDNN | ...
    in_shape: tuple[int, ...] | None = None
    in_neurons: int = 0
    synapses: int = 0
    weight_positions: int = 0
    weights: int = 0                   # stored weight parameters (a conv kernel counted once)
    fan_in: int = 0
    fan_out: int = 0
    weight_bits: int = 0
    max_delay: int = 0
    delay_bits: int = 0
    du: int | None = None              # file iDecay
    dv: int | None = None              # file vDecay
    vth: int | None = None             # file vThMant
    payload_bits: int = 0              # graded-spike message bits (0: binary)
    conv: dict | None = None           # kernel, stride, padding, dilation, groups (file (H, W) order)
    source_shape: tuple[int, ...] | None = None   # file shape of the layer whose outputs feed the synapse
    notes: list[str] = field(default_factory=list)
    connections: int = 0               # in-bounds connections (zeros included) per timestep: NeuroBench's Dense
    params: dict = field(default_factory=dict)   # stored tensors' elements: weights, zero_weights, delays, biases, decays
    dense_weight: np.ndarray | None = field(default=None, repr=False)   # (out, in) feed-forward synapses per pair
    synapse_matrix: np.ndarray | None = field(default=None, repr=False)  # (out, sources): + a dense_rec's own
    fanout: np.ndarray | None = field(default=None, repr=False)         # (in,) file (C, H, W) order

    @property
    def netx_shape(self) -> tuple[int, ...]:
        """The neuron shape as netx/Lava see it: ``(n,)`` for dense, reversed (``(x, y, c)``) otherwise."""
        if self.kind in DENSE_KINDS:
            return (self.neurons,)
        return tuple(reversed(self.shape))

    @property
    def name(self) -> str:
        return f"layer{self.h5_index}"

    def describe(self) -> str:
        """A short label such as ``dense 64->128`` or ``conv 3x33x100->24x16x49``."""
        shape = "x".join(str(s) for s in self.shape)
        if self.kind in DENSE_KINDS:
            shape = str(self.neurons)
        if self.kind == "input":
            return f"input {shape}"
        if self.in_shape is None:
            return f"{self.kind} {shape}"
        return f"{self.kind} {'x'.join(str(s) for s in self.in_shape)}->{shape}"

    def to_json(self) -> dict:
        return {"h5_index": self.h5_index, "name": self.name, "kind": self.kind, "shape": list(self.shape),
                "neurons": self.neurons, "neuron_type": self.neuron_type,
                "in_shape": None if self.in_shape is None else list(self.in_shape),
                "synapses": self.synapses, "weight_positions": self.weight_positions, "weights": self.weights,
                "fan_in": self.fan_in, "fan_out": self.fan_out, "weight_bits": self.weight_bits,
                "max_delay": self.max_delay, "payload_bits": self.payload_bits,
                "du": self.du, "dv": self.dv, "vth": self.vth, "conv": self.conv, "notes": self.notes}


def weight_bits(w: np.ndarray) -> int:
    """Bits of the integer weights' mantissa once their common power-of-two factor is
    taken out as a shared exponent (Loihi's weight format); sign bit included when
    the weights have both signs. 0 for an all-zero array."""
    w = np.asarray(w).astype(np.int64)
    nz = w[w != 0]
    if nz.size == 0:
        return 0
    shift = 0
    while shift < 62 and np.all(nz % (1 << (shift + 1)) == 0):
        shift += 1
    m = nz >> shift
    hi, lo = int(m.max()), int(m.min())
    if lo < 0 < hi:
        return max(hi.bit_length(), (-lo - 1).bit_length()) + 1
    return max(abs(hi), abs(lo)).bit_length()


def _scalar(v) -> int | float:
    return np.asarray(v).reshape(-1)[0].item()


def _neuron(group, layer: LayerTopology) -> None:
    if "neuron" not in group:
        layer.neuron_type = None
        layer.notes.append("no neuron group: netx's default non-leaky integrator")
        return
    n = group["neuron"]
    layer.neuron_type = text(n["type"])
    layer.params["decays"] = sum(int(np.asarray(n[k]).size) for k in ("iDecay", "vDecay") if k in n)
    for attr, key in (("du", "iDecay"), ("dv", "vDecay"), ("vth", "vThMant")):
        if key in n:
            setattr(layer, attr, int(_scalar(n[key])))
    if "messageBits" in n:
        layer.payload_bits = int(_scalar(n["messageBits"]))
    elif layer.neuron_type == "SDNN":
        layer.payload_bits = 16   # netx's default for sigma-delta neurons
    elif "gradedSpike" in n and bool(_scalar(n["gradedSpike"])):
        layer.notes.append("graded spikes without messageBits")


def _matrix(w, out: int) -> np.ndarray:
    w = np.asarray(w).astype(np.int64)   # netx casts to int the same way
    return w.reshape(out, -1) if w.ndim == 1 else w


def _dense(group, layer: LayerTopology, in_neurons: int) -> None:
    """A dense layer's synapses: real, complex (``weight/real`` and ``weight/imag``, two
    synapses per pair) or ``dense_rec`` (plus the recurrent ``weight_rec``)."""
    out = layer.neurons
    raw = group["weight"]
    mats = [_matrix(raw["real"], out), _matrix(raw["imag"], out)] if isinstance(raw, dict) else [_matrix(raw, out)]
    rec = _matrix(group["weight_rec"], out) if "weight_rec" in group else None
    w = mats[0]
    if w.shape[0] != out:
        raise SpikeportError(f"{layer.name}: weight rows {w.shape[0]} != {out} neurons")
    if in_neurons and w.shape[1] != in_neurons:
        raise SpikeportError(f"{layer.name}: weight has {w.shape[1]} inputs, the layer before has {in_neurons} neurons")
    count = sum((m != 0).astype(np.int64) for m in mats)       # synapses per (neuron, source)
    layer.in_neurons = int(w.shape[1])
    layer.in_shape = (layer.in_neurons,)
    layer.synapse_matrix = count if rec is None else np.hstack([count, (rec != 0).astype(np.int64)])
    layer.synapses = int(layer.synapse_matrix.sum())
    layer.weight_positions = layer.weights = layer.connections = int(sum(m.size for m in mats + [rec]
                                                                          if m is not None))
    layer.fan_in = int(layer.synapse_matrix.sum(axis=1).max(initial=0))
    layer.fanout = count.sum(axis=0)
    layer.fan_out = int(layer.fanout.max(initial=0))
    layer.weight_bits = max(weight_bits(m) for m in mats + [rec] if m is not None)
    layer.dense_weight = count
    if len(mats) > 1:
        layer.kind = "complex_dense"
    elif rec is not None:
        layer.kind = "dense_rec"
        layer.notes.append("recurrent synapses: the layer's own spikes return one step later")
    _stored(group, layer, np.concatenate([m.reshape(-1) for m in mats + [rec] if m is not None]))
    if "delay" in group:
        d = np.asarray(group["delay"], dtype=np.float64)
        layer.kind = "delay_dense"
        layer.max_delay = int(np.max(d)) if d.size else 0
        layer.delay_bits = max(1, int(np.ceil(np.log2(layer.max_delay + 1)))) if layer.max_delay > 0 else 0


def _stored(group, layer: LayerTopology, w: np.ndarray) -> None:
    """Element counts of the layer's stored tensors (NeuroBench's parameter counts):
    its weights as stored (a pool layer's one shared kernel, not its lowered copies),
    their zeros, its delays and biases."""
    stored = np.asarray(group.get("stored_weight", w))
    layer.params.update(weights=int(stored.size), zero_weights=int(np.count_nonzero(stored == 0)),
                        delays=int(np.asarray(group["delay"]).size) if "delay" in group else 0,
                        biases=int(np.asarray(group["bias"]).size) if "bias" in group else 0)


def _pair(v) -> tuple[int, int]:
    a = np.asarray(v).reshape(-1)
    return (int(a[0]), int(a[0])) if a.size == 1 else (int(a[0]), int(a[1]))


def _conv(group, layer: LayerTopology, in_shape: tuple[int, ...]) -> None:
    w = np.asarray(group["weight"])
    w = w.reshape(w.shape[:4]).astype(np.int64)          # (out, in/groups, kH, kW)
    if len(in_shape) != 3:
        raise SpikeportError(f"{layer.name}: conv input shape {in_shape} is not (C, H, W)")
    stride, padding, dilation = (_pair(group[k]) if k in group else (1, 1) if k != "padding" else (0, 0)
                                 for k in ("stride", "padding", "dilation"))
    groups = int(_scalar(group["groups"])) if "groups" in group else 1
    if groups < 1 or in_shape[0] % groups or in_shape[0] // groups != w.shape[1] or w.shape[0] % groups:
        raise SpikeportError(f"{layer.name}: conv weight {tuple(w.shape)} with groups {groups} does not fit "
                             f"its input {in_shape}")
    out = (w.shape[0],) + tuple(conv_out(in_shape[a + 1], w.shape[a + 2], stride[a], padding[a], dilation[a])
                                for a in (0, 1))
    if out != tuple(layer.shape):
        raise SpikeportError(f"{layer.name}: conv of input {in_shape} gives {out}, the file says {tuple(layer.shape)}")
    fan_in = conv_fan_in(w != 0, in_shape, stride, padding, dilation)
    out_c, _, kh, kw = w.shape
    layer.in_shape = tuple(int(s) for s in in_shape)
    layer.in_neurons = int(np.prod(in_shape))
    layer.synapses = int(fan_in.sum())
    layer.fan_in = int(fan_in.max(initial=0))
    layer.fanout = conv_fan_out(w != 0, in_shape, stride, padding, dilation, groups).reshape(-1)
    layer.fan_out = int(layer.fanout.max(initial=0))
    layer.weights = int(w.size)
    layer.weight_positions = int(np.prod(layer.shape)) * (in_shape[0] // groups) * kh * kw
    layer.connections = conv_connections(in_shape, out_c, (kh, kw), stride, padding, dilation, groups)
    _stored(group, layer, w)
    layer.weight_bits = weight_bits(w)
    layer.conv = {"kernel": [kh, kw], "stride": list(stride), "padding": list(padding),
                  "dilation": list(dilation), "groups": groups}
    if "delay" in group:
        layer.notes.append("conv delays are ignored by netx 0.6")


def read_topology(net_path: str | os.PathLike) -> list[LayerTopology]:
    """Every layer of the netx file ``net_path``, in file order (see module doc), after
    its validation (:func:`spikeport.sim.netx_validate.validate`)."""
    validate(net_path)
    layers: list[LayerTopology] = []
    flow = _Flow()
    for entry in read_layers(net_path):
        g, i = entry.fields, entry.index
        kind, shape = text(g["type"]), tuple(int(s) for s in np.asarray(g.get("shape", ())).reshape(-1))
        if kind == "input":
            layer = _input_layer(g, i, shape, flow)
        elif kind == "flatten":
            layer = LayerTopology(i, "flatten", shape, 0, False)
            if flow.shape is not None:
                flow.shape = (int(np.prod(flow.shape)),)
        elif kind in ("dense", "dense_rec", "dense_comp", "conv", "pool"):
            layer = _compute_layer(g, i, kind, shape, flow, f"{net_path}: layer {i}")
        else:
            layer = _other_layer(i, kind, shape)
        layers.append(layer)
    if not any(l.compute for l in layers):
        raise SpikeportError(f"{net_path}: no layer with neurons")
    return layers


@dataclass
class _Flow:
    """What the next synapse receives while walking the layers: ``shape`` its input
    (flattened by ``flatten``), ``source`` the file shape of the layer producing it."""

    shape: tuple[int, ...] | None = None
    source: tuple[int, ...] | None = None


def _input_layer(g: dict, i: int, shape: tuple, flow: _Flow) -> LayerTopology:
    has_neurons = "neuron" in g
    layer = LayerTopology(i, "input", shape, int(np.prod(shape)) if has_neurons else 0, has_neurons)
    if has_neurons:
        _neuron(g, layer)
        # SLAYER's input blocks may scale (and shift) their input by one learnt weight and bias
        layer.params["input_params"] = sum(int(np.asarray(g[k]).size) for k in ("weight", "bias") if k in g)
    else:
        layer.notes.append("input shape only (no neurons): input enters the next layer's synapse")
    flow.shape = flow.source = shape
    return layer


def _compute_layer(g: dict, i: int, kind: str, shape: tuple, flow: _Flow, where: str) -> LayerTopology:
    pooled = kind == "pool"
    if pooled:  # run (and mapped) as the grouped convolution it is on Loihi
        g = {**g, **pool_as_conv(g, where), "stored_weight": np.asarray(g["weight"]).astype(np.int64)}
        kind = "conv"
    layer = LayerTopology(i, kind, shape, int(np.prod(shape)), True, source_shape=flow.source)
    if pooled:
        layer.notes.append("pool layer: a grouped convolution with one shared weight")
    _neuron(g, layer)
    if kind in ("dense", "dense_rec", "dense_comp"):
        _dense(g, layer, int(np.prod(flow.shape)) if flow.shape is not None else 0)
        layer.shape = shape = (layer.neurons,)
    else:
        if flow.shape is None:
            raise SpikeportError(f"{where} (conv): input shape unknown")
        _conv(g, layer, flow.shape)
    flow.shape = flow.source = shape
    return layer


def _other_layer(i: int, kind: str, shape: tuple) -> LayerTopology:
    layer = LayerTopology(i, kind, shape, int(np.prod(shape)), False)
    if kind == "average":
        layer.notes.append("'average' readout: the host averages the previous layer's spikes "
                           "(spikeport sim does); not mapped")
    elif kind in NOT_BUILT:
        layer.notes.append(f"layer type '{kind}' is not loaded by netx 0.6: not mapped")
    else:
        layer.notes.append(f"layer type '{kind}' is not modelled by spikeport's mapping: not mapped")
    return layer


def compute_layers(layers: list[LayerTopology]) -> list[LayerTopology]:
    """The layers that become Lava blocks (the order of the sim stage's activity counts)."""
    return [l for l in layers if l.compute]
