"""The fast backend's parameters read out of the Lava processes netx itself builds.

This is the reference that :mod:`spikeport.sim.netx_reader` (h5py + NumPy, no Lava)
must equal field by field; the tests build every network of the suite both ways.
Each value is cast as Lava's builder casts it into its process model
(``np.ndarray(shape, dtype)[:] = init``), and the Dense model's first-step weight
clipping and truncation are applied with Lava's own functions.
"""
from __future__ import annotations

import os

import numpy as np

from spikeport.errors import SpikeportError
from spikeport.sim.network import Layer, Network, Neuron, Synapse, layer_kind


def _init(var, dtype) -> np.ndarray:
    arr = np.ndarray(tuple(var.shape), dtype)
    arr[:] = var.init
    return arr


def _scalar(var) -> int:
    return int(np.asarray(var.init).reshape(-1)[0])


def _cuba(proc, shape) -> Neuron:
    mant = _init(proc.bias_mant, np.int16).astype(np.int32)
    exp = _init(proc.bias_exp, np.int16).astype(np.int32)
    bias = np.where(exp >= 0, np.left_shift(mant, np.maximum(exp, 0)),
                    np.right_shift(mant, np.maximum(-exp, 0))).astype(np.int32)
    n = Neuron("cuba", shape, du=_scalar(proc.du), dv=_scalar(proc.dv), vth=_scalar(proc.vth), bias=bias)
    if type(proc).__name__ == "LIFReset":
        n.reset_interval = int(proc.proc_params["reset_interval"])
        n.reset_offset = int(proc.proc_params["reset_offset"]) % n.reset_interval
    return n


def neuron(proc, shape: tuple, message_bits: int) -> Neuron:
    """The :class:`Neuron` of a Lava neuron process (LIF, LIFReset, Delta, SigmaDelta,
    Sigma, RF, RF_IZ)."""
    name = type(proc).__name__
    if name in ("LIF", "LIFReset"):
        n = _cuba(proc, shape)
    elif name in ("Delta", "SigmaDelta"):
        n = Neuron("delta" if name == "Delta" else "sigma_delta", shape, vth=int(_init(proc.vth, np.int32)[0]),
                   spike_exp=_scalar(proc.spike_exp), state_exp=_scalar(proc.state_exp))
        if name == "SigmaDelta":
            n.bias = _init(proc.bias, np.int32)
            n.relu = getattr(proc.proc_params["act_mode"], "name", "") == "RELU"
    elif name == "Sigma":
        n = Neuron("sigma", shape)
    elif name in ("RF", "RF_IZ"):
        n = Neuron("rf" if name == "RF" else "rf_iz", shape, vth=int(_init(proc.vth, np.int32)[0]),
                   sin_decay=_scalar(proc.sin_decay), cos_decay=_scalar(proc.cos_decay))
    else:
        raise SpikeportError(f"neuron process {name} has no fast-backend counterpart")
    n.message_bits = int(message_bits)
    return n


def synapse(proc, in_shape: tuple, out_shape: tuple) -> Synapse:
    """The :class:`Synapse` of a Lava Dense, DelayDense or Conv process."""
    from lava.utils.weightutils import clip_weights, determine_sign_mode, truncate_weights

    name = type(proc).__name__
    params = proc.proc_params
    graded = int(np.asarray(proc.num_message_bits.init).reshape(-1)[0]) > 0
    if name in ("Dense", "DelayDense"):
        w = _init(proc.weights, np.int32)
        mode = params.get("sign_mode") or determine_sign_mode(w)
        bits = params.get("num_weight_bits", 8)
        w = truncate_weights(clip_weights(w, mode, num_bits=8), mode, bits).astype(np.int64)
        delays = None
        if name == "DelayDense":
            delays = np.broadcast_to(_init(proc.delays, np.int32), w.shape).astype(np.int64)
            max_delay = int(proc.a_buff.shape[-1]) - 1
            w = np.where((delays >= 0) & (delays <= max_delay), w, 0)
            delays = np.where(w != 0, delays, 0)
        return Synapse("delay_dense" if name == "DelayDense" else "dense", w, int(params.get("weight_exp", 0)),
                       delays, in_shape=in_shape, out_shape=out_shape, graded=graded, num_weight_bits=int(bits))
    if name == "Conv":
        return Synapse("conv", _init(proc.weight, np.int32).astype(np.int64),
                       stride=tuple(int(s) for s in _init(proc.stride, np.int8)),
                       padding=tuple(int(s) for s in _init(proc.padding, np.int8)),
                       dilation=tuple(int(s) for s in _init(proc.dilation, np.int8)),
                       groups=int(_init(proc.groups, np.int8).reshape(-1)[0]),
                       in_shape=in_shape, out_shape=out_shape, graded=graded)
    raise SpikeportError(f"synapse process {name} has no fast-backend counterpart")


def _block_groups(path, num_layers, skip_layers) -> list[int]:
    """HDF5 layer index of each block netx builds (flatten and neuron-less input
    layers build none; skipped layers are dropped)."""
    import h5py

    from spikeport.sim.netx_validate import text

    out = []
    with h5py.File(path, "r") as h:
        n = len(h["layer"]) if num_layers is None else min(len(h["layer"]), int(num_layers))
        for i in range(n):
            g = h[f"layer/{i}"]
            kind = text(g["type"][()])
            if kind in ("conv", "pool", "dense", "dense_rec", "dense_comp") or (kind == "input" and "neuron" in g):
                if i >= skip_layers:
                    out.append(i)
    return out


def _layer(block, index: int, h5: int) -> Layer:
    kind = type(block).__name__
    shape = tuple(int(s) for s in block.out.shape)
    bits = int(getattr(block, "output_message_bits", 0) or 0)
    n = neuron(block.neuron, shape, bits)
    if kind == "Input":
        layer = Layer(f"layer{h5}", n, None, index)
    elif kind == "ComplexDense":
        in_shape = tuple(int(s) for s in block.inp.shape)
        layer = Layer(f"layer{h5}", n, synapse(block.real_synapse, in_shape, shape), index,
                      imag=synapse(block.imag_synapse, in_shape, shape))
    else:
        in_shape = tuple(int(s) for s in block.inp.shape)
        layer = Layer(f"layer{h5}", n, synapse(block.synapse, in_shape, shape), index)
        if kind == "RecurrentDense":
            layer.recurrent = synapse(block.synapse_rec, shape, shape)
    layer.kind = layer_kind(n, layer.synapse, layer.recurrent is not None)
    return layer


def network_from_netx(net_path: str | os.PathLike, **netx_options) -> Network:
    """The :class:`Network` of the processes ``netx.hdf5.Network`` builds for
    ``net_path`` (imports Lava; pool layers lowered as for the Lava backend)."""
    from spikeport.sim.lava_backend import load_netx

    net = load_netx(net_path, **netx_options)
    groups = _block_groups(net_path, netx_options.get("num_layers"), int(netx_options.get("skip_layers", 0) or 0))
    layers = [_layer(b, i, groups[i]) for i, b in enumerate(net.layers)]
    first = layers[0]
    return Network(str(net_path), layers, first.neuron.shape if first.synapse is None else first.synapse.in_shape,
                   dict(netx_options))
