"""Read a netx HDF5 network with h5py and NumPy alone, deriving every parameter the
way lava-dl 0.6's ``netx.hdf5.Network`` and Lava 0.10's fixed_pt process models do
(sim/LAVA_FIXED_PT.md has the rules with line numbers), without importing Lava.

What netx derives, layer by layer (``read_network``):

* values: ``weight``, ``weight_rec``, ``weight/real``, ``weight/imag`` and ``bias``
  are read as ``astype(int)`` (truncation toward zero); shapes, strides, decays and
  thresholds raw; ``shape`` and conv geometry reversed from the file's ``(C, H, W)``
  to Lava's ``(x, y, c)``;
* dense weights: netx's ``optimize_weight_bits`` (shift, weight bits, exponent),
  then the Dense model's clipping and truncation in its own sign mode; delays
  clipped to 0..62 when any exceeds 62, broadcast to ``(out, in)``; a recurrent
  layer's two matrices share one exponent;
* conv weights flipped and transposed to ``(out, x, y, in/groups)``; geometry cast
  to int8 as the Conv model holds it;
* neurons: CUBA/LOIHI as LIF (``du = iDecay - 1``, ``bias_mant`` int16 ``<< 6``, the
  non-leaky default when a dense layer has none), SDNN as Delta / SigmaDelta / Sigma
  with thresholds and biases scaled by ``2**12``, RF / RF_IZ through netx's float
  round trip of ``sinDecay``/``cosDecay``;
* message bits: a block's output bits (CUBA and RF 0, SDNN 16) decide whether the
  next synapse reads graded values; ``reset_interval`` offsets per block.

``pool`` layers are read as the grouped convolutions they are on Loihi
(:mod:`spikeport.sim.lowering`); ``dense_comp`` (which netx 0.6 names but cannot
build: its ``create_complex_dense`` is missing) as the complex dense layer netx builds
from a ``dense`` layer with ``weight/real`` and ``weight/imag``.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from spikeport import fixed_point as fx
from spikeport.errors import SpikeportError
from spikeport.sim.network import Layer, Network, Neuron, Synapse, layer_kind
from spikeport.sim.netx_validate import text

DEFAULT_DENSE_NEURON = {"type": "CUBA", "iDecay": 0, "vDecay": 4096, "vThMant": 1 << 18 - 1}
OPTIONS = ("num_layers", "skip_layers", "input_message_bits", "input_shape", "reset_interval", "reset_offset",
           "spike_exp")


def ints(value) -> np.ndarray:
    """``astype(int)``: how netx reads weights and biases."""
    return np.asarray(value).astype(int)


def cast(value, shape: tuple, dtype) -> np.ndarray:
    """A Lava ndarray Var's value: ``np.ndarray(shape, dtype)[:] = value`` (C casts,
    integer wrap-around)."""
    arr = np.ndarray(tuple(shape), dtype)
    with np.errstate(all="ignore"):
        arr[:] = value
    return arr


def scalar(value) -> int:
    """The first element of a raw field as an int (Lava's scalar int Vars)."""
    return int(np.asarray(value).reshape(-1)[0])


class Fields:
    """One HDF5 group's fields as plain values (``group[key][()]``, nested groups as
    dicts), read once; ``where`` names the layer in errors."""

    def __init__(self, group, where: str):
        self.where = where
        self.data: dict[str, Any] = {}
        for key in group:
            item = group[key]
            self.data[key] = {k: item[k][()] for k in item} if hasattr(item, "keys") else item[()]

    def __contains__(self, key: str) -> bool:
        if "/" in key:
            a, b = key.split("/", 1)
            return isinstance(self.data.get(a), dict) and b in self.data[a]
        return key in self.data

    def __getitem__(self, key: str):
        if key not in self:
            raise SpikeportError(f"{self.where}: no '{key}' field")
        if "/" in key:
            a, b = key.split("/", 1)
            return self.data[a][b]
        return self.data[key]

    def get(self, key: str, default=None):
        return self[key] if key in self else default


def _neuron_fields(f: Fields, dense: bool) -> dict:
    if "neuron" in f and isinstance(f.data["neuron"], dict):
        n = dict(f.data["neuron"])
        n["type"] = text(n.get("type", b""))
        return n
    if dense:
        return dict(DEFAULT_DENSE_NEURON)
    raise SpikeportError(f"{f.where}: no 'neuron' group (netx needs one for this layer type)")


def _rf_params(n: dict, shape: tuple, where: str) -> dict:
    """netx's RF round trip: sinDecay/cosDecay -> decay, period (slayer's
    ``neuron_params``) -> Lava's ``RF`` process's 12-bit sin/cos decay."""
    with np.errstate(all="ignore"):
        sin_d = np.asarray(n["sinDecay"]) / (1 << 12)
        cos_d = np.asarray(n["cosDecay"]) / (1 << 12)
        alpha = 1 - np.sqrt(sin_d ** 2 + cos_d ** 2)
        frequency = np.arctan2(sin_d, cos_d) / 2 / np.pi
        period = 1 / frequency
        sin_decay = (1 - alpha) * np.sin(np.pi * 2 * 1 / period)
        cos_decay = (1 - alpha) * np.cos(np.pi * 2 * 1 / period)
        vth = int(np.asarray(n["vThMant"]) * (1 << fx.RF_STATE_EXP))
        sin_i = np.int32(sin_decay * (1 << fx.RF_DECAY_BITS))
        cos_i = np.int32(cos_decay * (1 << fx.RF_DECAY_BITS))
    return {"sin_decay": scalar(sin_i), "cos_decay": scalar(cos_i), "vth": vth}


def _bias_mant(bias, shape: tuple, where: str) -> np.ndarray | None:
    """netx's broadcast of a layer bias onto its neurons (``AbstractBlock._neuron``)."""
    if bias is None:
        return None
    bias = np.asarray(bias)
    if len(shape) == 1 or list(bias.shape) == list(shape):
        return bias.astype(np.int32)
    if bias.ndim >= 1 and shape[-1] == bias.shape[0]:
        out = np.zeros(shape)
        out[:, :] = bias
        return out.astype(np.int32)
    raise SpikeportError(f"{where}: bias of shape {bias.shape} cannot be broadcast to neurons of shape {shape}")


def make_neuron(n: dict, shape: tuple, bias, is_input: bool, opts: dict, block: int, where: str) -> Neuron:
    """The neuron process netx builds for neuron fields ``n`` (see the module doc)."""
    kind = n["type"]
    bits = n.get("messageBits")
    if bits is not None:
        raise SpikeportError(f"{where}: neuron/messageBits is a field netx 0.6 cannot read (it is not among "
                             f"its array keys); remove it")
    bias_mant = _bias_mant(bias, shape, where)
    if kind in ("CUBA", "LOIHI"):
        mant = cast(0 if bias_mant is None else bias_mant, shape, np.int16).astype(np.int32)
        neu = Neuron("cuba", shape, du=scalar(n["iDecay"]) - 1, dv=scalar(n["vDecay"]), vth=scalar(n["vThMant"]),
                     bias=np.left_shift(mant, 6).astype(np.int32))
        if opts.get("reset_interval") is not None:
            neu.reset_interval = int(opts["reset_interval"])
            neu.reset_offset = (int(opts.get("reset_offset", 0)) + 1 + block) % neu.reset_interval
        return neu
    if kind == "SDNN":
        spike_exp, state_exp = int(opts.get("spike_exp", 6)), 6
        scale = 1 << (spike_exp + state_exp)
        if is_input:
            return Neuron("delta", shape, vth=int(cast(np.asarray(n["vThMant"]) * scale, (1,), np.int32)[0]),
                          spike_exp=spike_exp, state_exp=state_exp, message_bits=16)
        if "sigma_output" in n:
            return Neuron("sigma", shape, message_bits=16)
        b = 0 if bias_mant is None else bias_mant
        return Neuron("sigma_delta", shape, vth=int(cast(np.asarray(n["vThMant"]) * scale, (1,), np.int32)[0]),
                      bias=cast(np.asarray(b) * scale, shape, np.int32), spike_exp=spike_exp, state_exp=state_exp,
                      message_bits=16)
    if "RF" in kind:
        return Neuron("rf" if "PHASE" in kind else "rf_iz", shape, **_rf_params(n, shape, where))
    raise SpikeportError(f"{where}: neuron type '{kind}' is not one netx 0.6 builds "
                         f"(CUBA, LOIHI, SDNN, RF_PHASE, RF_IZ)")


def dense_weights(w: np.ndarray, shape0: int, where: str) -> np.ndarray:
    w = ints(w)
    if w.ndim == 1:
        w = w.reshape(shape0, -1)
    if not np.any(w):
        raise SpikeportError(f"{where}: every weight is zero (netx's weight-bit optimiser divides by zero)")
    return w


def _dense_synapse(w: np.ndarray, bits: int, exp: int, graded: bool, out_shape: tuple, delays=None) -> Synapse:
    w = fx.lava_weights(w, bits)
    kind = "dense"
    if delays is not None:
        kind = "delay_dense"
        d = delays.astype(int)
        # the model only sums delay buckets 0..fx.MAX_DELAY: other weights never arrive
        w = np.where((d >= 0) & (d <= fx.MAX_DELAY), w, 0)
        delays = np.where(w != 0, d, 0).astype(np.int64)
    return Synapse(kind, w, exp, delays, in_shape=(int(w.shape[1]),), out_shape=out_shape, graded=graded,
                   num_weight_bits=bits)


def _delays(f: Fields, weight: np.ndarray, where: str) -> np.ndarray | None:
    if "delay" not in f:
        return None
    d = np.asarray(f["delay"])
    if d.max(initial=0) > fx.MAX_DELAY:
        d = np.clip(d, 0, fx.MAX_DELAY)
    if np.isscalar(f["delay"]) or d.ndim == 0:
        return d * np.ones_like(weight)
    if d.ndim == 1:
        if d.size == weight.shape[0]:
            return np.repeat(d.reshape(-1, 1), weight.shape[1], axis=1)
        if d.size == weight.shape[1]:
            return np.repeat(d.reshape(1, -1), weight.shape[0], axis=0)
    if d.shape == weight.shape:
        return d
    raise SpikeportError(f"{where}: delay of shape {d.shape} fits neither the {weight.shape[0]} outputs nor the "
                         f"{weight.shape[1]} inputs of weight {weight.shape}")


def read_dense(f: Fields, graded: bool, opts: dict, block: int, recurrent: bool) -> Layer:
    """A ``dense`` / ``dense_rec`` layer (complex weights: resonate-and-fire)."""
    shape = (int(np.prod(f["shape"])),)
    neuron = make_neuron(_neuron_fields(f, dense=True), shape, f.get("bias") if "bias" in f else None, False,
                         opts, block, f.where)
    if "weight/real" in f or "weight/imag" in f:
        if neuron.kind not in ("rf", "rf_iz"):
            raise SpikeportError(f"{f.where}: complex weights need resonate-and-fire neurons, not {neuron.kind}")
        syn = []
        for part in ("real", "imag"):
            w, bits, exp = fx.netx_weight_bits(dense_weights(f[f"weight/{part}"], shape[0], f"{f.where} {part}"))
            syn.append(_dense_synapse(w, bits, exp, graded, shape))
        return Layer("", neuron, syn[0], imag=syn[1])
    if neuron.kind in ("rf", "rf_iz"):
        raise SpikeportError(f"{f.where}: resonate-and-fire neurons need complex weights (weight/real, weight/imag)")
    w = dense_weights(f["weight"], shape[0], f.where)
    if recurrent:
        wr = ints(f["weight_rec"])
        wr = wr.reshape(shape[0], -1) if wr.ndim == 1 else wr
        if "delay" in f:
            raise SpikeportError(f"{f.where}: a dense_rec layer with delays: netx 0.6 then builds its recurrent "
                                 f"synapse with the feed-forward delays' shape and no weight exponent; not supported")
        both, bits, exp = fx.netx_weight_bits(np.hstack((w, wr)))
        return Layer("", neuron, _dense_synapse(both[:, :w.shape[1]], bits, exp, graded, shape),
                     recurrent=_dense_synapse(both[:, w.shape[1]:], bits, exp, False, shape))
    w, bits, exp = fx.netx_weight_bits(w)
    return Layer("", neuron, _dense_synapse(w, bits, exp, graded, shape, _delays(f, w, f.where)))


def _pair(v) -> tuple[int, int]:
    v = np.asarray(v)
    return (scalar(v), scalar(v)) if v.ndim == 0 or v.size == 1 else tuple(int(x) for x in v.reshape(-1)[:2][::-1])


def read_conv(f: Fields, in_shape: tuple, graded: bool, opts: dict, block: int) -> Layer:
    """A ``conv`` layer (and a ``pool`` layer, lowered to one)."""
    from spikeport.geometry import conv_out

    shape = tuple(int(s) for s in np.asarray(f["shape"]).reshape(-1)[::-1])
    neuron = make_neuron(_neuron_fields(f, dense=False), shape, f.get("bias") if "bias" in f else None, False,
                         opts, block, f.where)
    w = ints(f["weight"])[:, :, ::-1, ::-1]
    w = w.reshape(w.shape[:4]).transpose((0, 3, 2, 1)).astype(np.int64)
    geo = {k: tuple(int(x) for x in cast(np.asarray(_pair(f[k])), (2,), np.int8)) for k in ("stride", "padding",
                                                                                               "dilation")}
    groups = int(cast(np.asarray(f["groups"]).reshape(-1)[:1], (1,), np.int8)[0])
    x, y, c = in_shape
    o, kx, ky, cg = w.shape
    if groups < 1 or c % groups or o % groups or c // groups != cg:
        raise SpikeportError(f"{f.where}: conv weight {tuple(w.shape)} with groups {groups} does not fit "
                             f"{c} input channels")
    out = (conv_out(x, kx, geo["stride"][0], geo["padding"][0], geo["dilation"][0]),
           conv_out(y, ky, geo["stride"][1], geo["padding"][1], geo["dilation"][1]), o)
    if out != shape:
        raise SpikeportError(f"{f.where}: a conv of input (x, y, c) = {in_shape} gives {out}, the file says {shape}")
    syn = Synapse("conv", w, in_shape=tuple(in_shape), out_shape=shape, graded=graded, groups=groups, **geo)
    return Layer("", neuron, syn)


def read_input(f: Fields, opts: dict, block: int) -> Layer:
    shape = tuple(int(s) for s in np.asarray(f["shape"]).reshape(-1)[::-1])
    for key in ("weight", "bias"):
        if key in f and np.asarray(f[key]).size != 1:
            raise SpikeportError(f"{f.where}: input '{key}' must be one number (netx reads it with int())")
    return Layer("", make_neuron(_neuron_fields(f, dense=False), shape, None, True, opts, block, f.where))


def _layer_groups(h, path) -> list:
    if "layer" not in h or not hasattr(h["layer"], "keys"):
        raise SpikeportError(f"{path}: not a netx network (no 'layer' group)")
    g = h["layer"]
    keys = sorted(g.keys(), key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))
    if keys != [str(i) for i in range(len(keys))] or not keys:
        raise SpikeportError(f"{path}: netx layer groups must be layer/0 ... layer/N-1, found {', '.join(keys[:8])}")
    return [g[k] for k in keys]


def _fields(group, path: str, i: int) -> Fields:
    from spikeport.sim.lowering import pool_as_conv

    f = Fields(group, f"{path}: layer {i}")
    if "type" not in f:
        raise SpikeportError(f"{f.where} has no 'type' field")
    kind = text(f["type"])
    f.where = f"{path}: layer {i} ({kind})"
    if kind == "pool":       # the grouped convolution it is on Loihi (sim/lowering.py)
        f.data.update({k: np.asarray(v) for k, v in pool_as_conv(group, f"{path}: layer {i}").items()})
    return f


def read_network(path: str | os.PathLike, **options) -> "Network":
    """The netx network at ``path`` as Lava runs it (see the module doc). ``options``:
    netx's ``Network`` arguments (:data:`OPTIONS`). Raises :class:`SpikeportError`
    naming the file, layer and field for anything netx would fail on or that the
    fast backend does not run."""
    import h5py

    unknown = set(options) - set(OPTIONS)
    if unknown:
        raise SpikeportError(f"unknown netx option(s) {', '.join(sorted(unknown))} (known: {', '.join(OPTIONS)})")
    opts = {k: v for k, v in options.items() if v is not None}
    with h5py.File(path, "r") as h:
        groups = _layer_groups(h, path)
        count = len(groups) if opts.get("num_layers") is None else min(len(groups), int(opts["num_layers"]))
        return _build(path, [(i, _fields(groups[i], str(path), i)) for i in range(count)], opts)


def _build(path, fields: list[tuple[int, Fields]], opts: dict) -> Network:
    """netx's ``Network._create`` loop over the read layers."""
    skip = int(opts.get("skip_layers", 0) or 0)
    bits = int(opts.get("input_message_bits", 0) or 0)
    in_shape = tuple(opts["input_shape"]) if opts.get("input_shape") else None
    flatten_next, layers = False, []
    for i, f in fields:
        kind = text(f["type"])
        if kind == "flatten":
            flatten_next = True
            continue
        if kind == "input" and "neuron" not in f:
            in_shape = tuple(int(s) for s in np.asarray(f["shape"]).reshape(-1)[::-1])
            continue
        if kind == "input":
            layer = read_input(f, opts, len(layers))
        elif kind in ("conv", "pool"):
            src = layers[-1].neuron.shape if layers else in_shape
            if src is None or len(src) != 3:
                raise SpikeportError(f"{f.where}: input shape unknown (a conv needs an (x, y, c) input: "
                                     f"an input layer or a previous conv)")
            layer = read_conv(f, tuple(src), bits > 0, opts, len(layers))
        elif kind in ("dense", "dense_rec", "dense_comp"):
            layer = read_dense(f, bits > 0, opts, len(layers), recurrent=kind == "dense_rec")
            prev = layers[-1].neuron.shape if layers else None
            if prev is not None and len(prev) > 1 and not flatten_next:
                raise SpikeportError(f"{f.where}: follows a layer of shape {prev} without a flatten layer")
            n_in = int(np.prod(prev)) if prev is not None else None
            if n_in is not None and layer.synapse.weight.shape[1] != n_in:
                raise SpikeportError(f"{f.where}: weight has {layer.synapse.weight.shape[1]} inputs, the layer "
                                     f"before has {n_in} neurons")
            flatten_next = False
        else:
            raise SpikeportError(f"{f.where}: layer type '{kind}' is not one the fast backend runs")
        bits = layer.neuron.message_bits
        if i < skip:
            in_shape = layer.neuron.shape
            continue
        layer.name, layer.index = f"layer{i}", len(layers)
        layer.kind = layer_kind(layer.neuron, layer.synapse, layer.recurrent is not None)
        layers.append(layer)
    if not layers:
        raise SpikeportError(f"{path}: no layer with neurons among the {len(fields)} layer(s) read")
    first = layers[0]
    return Network(str(path), layers, first.neuron.shape if first.synapse is None else first.synapse.in_shape,
                   dict(opts))
