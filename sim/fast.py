"""The fast backend: Lava's fixed_pt process models re-done as batched, vectorized
integer arithmetic.

The network is loaded with netx itself (``lava.lib.dl.netx.hdf5.Network``) and its
processes' initial values and parameters are read out, so the fast backend runs the
very weights, exponents, decays and thresholds that Lava would run. Time is streamed:
only the current state of each layer is held, whatever ``T`` is.

Shapes follow netx: a layer's neurons are ``(x, y, c)`` for convolution layers and
``(n,)`` for dense ones; batched arrays put the batch first and time last,
``(batch, neurons..., T)``.

Per timestep, in layer order (the same as Lava's message passing): a synapse sends
what it accumulated in the previous step (one step of latency; an axonal delay ``d``
adds ``d`` more), accumulates the spikes its input layer emitted this step, and its
neurons integrate what was sent. An input layer (neurons without synapse) integrates
the external input of the same step.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from spikeport.errors import SpikeportError
from spikeport.export.fixed_point import cuba_step


@dataclass
class Synapse:
    kind: str                      # "dense", "delay_dense" or "conv"
    weight: np.ndarray             # dense: (out, in) int; conv: (out, kx, ky, in) int
    weight_exp: int = 0
    delays: np.ndarray | None = None   # (out, in) int timesteps, delay_dense only
    stride: tuple = (1, 1)
    padding: tuple = (0, 0)
    dilation: tuple = (1, 1)
    groups: int = 1
    in_shape: tuple = ()
    out_shape: tuple = ()

    @property
    def max_delay(self) -> int:
        return 0 if self.delays is None else int(self.delays.max())


@dataclass
class CubaNeuron:
    shape: tuple
    du: int
    dv: int
    vth: int
    bias: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int32))  # effective bias


@dataclass
class Layer:
    name: str
    neuron: CubaNeuron
    synapse: Synapse | None = None   # None: an input layer fed by the external input


def _var(v):
    return np.asarray(v.init)


def _neuron(proc, shape) -> CubaNeuron:
    name = type(proc).__name__
    if name not in ("LIF", "LIFReset"):
        raise SpikeportError(f"neuron process {name}: the fast backend supports CUBA (LIF) neurons only")
    bias_mant = np.broadcast_to(_var(proc.bias_mant), shape).astype(np.int32)
    bias_exp = np.broadcast_to(_var(proc.bias_exp), shape).astype(np.int32)
    bias = np.where(bias_exp >= 0, bias_mant << np.maximum(bias_exp, 0), bias_mant >> np.maximum(-bias_exp, 0))
    return CubaNeuron(shape=tuple(shape), du=int(_var(proc.du)), dv=int(_var(proc.dv)),
                      vth=int(_var(proc.vth)), bias=bias.astype(np.int32))


def _synapse(proc, in_shape, out_shape) -> Synapse:
    from lava.utils.weightutils import clip_weights, determine_sign_mode, truncate_weights

    name = type(proc).__name__
    params = proc.proc_params
    if name in ("Dense", "DelayDense"):
        w = _var(proc.weights)
        sign_mode = params.get("sign_mode") or determine_sign_mode(w)
        w = clip_weights(w, sign_mode, num_bits=8)
        w = truncate_weights(w, sign_mode, params.get("num_weight_bits", 8))
        delays = _var(proc.delays).astype(np.int64) if name == "DelayDense" else None
        if delays is not None:
            delays = np.broadcast_to(delays, w.shape)
        return Synapse("delay_dense" if delays is not None else "dense", np.asarray(w, np.int64),
                       int(params.get("weight_exp", 0)), delays, in_shape=in_shape, out_shape=out_shape)
    if name == "Conv":
        return Synapse("conv", _var(proc.weight).astype(np.int64),
                       stride=tuple(int(s) for s in _var(proc.stride)),
                       padding=tuple(int(s) for s in _var(proc.padding)),
                       dilation=tuple(int(s) for s in _var(proc.dilation)),
                       groups=int(np.ravel(_var(proc.groups))[0]),
                       in_shape=in_shape, out_shape=out_shape)
    raise SpikeportError(f"synapse process {name}: not supported by the fast backend")


def load_network(net_path: str | os.PathLike, **netx_options) -> list[Layer]:
    """Read a netx HDF5 network into :class:`Layer` records (via netx's own loader;
    ``netx_options`` such as ``num_layers`` go to ``netx.hdf5.Network``)."""
    from spikeport.sim.lava_backend import load_netx

    net = load_netx(net_path, **netx_options)
    layers = []
    for i, block in enumerate(net.layers):
        kind = type(block).__name__
        shape = tuple(int(s) for s in block.out.shape)
        neuron = _neuron(block.neuron, shape)
        if kind == "Input":
            layers.append(Layer(f"{i}:input", neuron))
        elif kind in ("Dense", "Conv"):
            in_shape = tuple(int(s) for s in block.inp.shape)
            layers.append(Layer(f"{i}:{kind.lower()}", neuron, _synapse(block.synapse, in_shape, shape)))
        else:
            raise SpikeportError(f"{net_path}: layer {i} ({kind}) is not supported by the fast backend")
    return layers


def _conv(syn: Synapse, s: np.ndarray) -> np.ndarray:
    """Convolution of spikes ``(batch, x, y, c)`` -> int64 ``(batch, x', y', c')``."""
    if not hasattr(syn, "_wt"):
        # Lava convolves (x, y, c) as NCHW with H=y, W=x and a flipped kernel.
        syn._wt = torch.from_numpy(
            np.ascontiguousarray(syn.weight[:, ::-1, ::-1].transpose(0, 3, 2, 1))).double()
    out = torch.nn.functional.conv2d(
        torch.from_numpy(s.astype(np.float64)).permute(0, 3, 2, 1), syn._wt, stride=syn.stride[::-1],
        padding=syn.padding[::-1], dilation=syn.dilation[::-1], groups=syn.groups,
    ).permute(0, 3, 2, 1)
    a = out.round().long().numpy()
    base = 1 << 24  # Lava wraps the conv accumulator to signed 24 bits
    return (a + base // 2) % base - base // 2


def _shift(a: np.ndarray, exp: int) -> np.ndarray:
    return np.left_shift(a, exp) if exp > 0 else np.right_shift(a, -exp)


class _Ring:
    """A synapse's output buffer: slot ``p`` is sent this step; a contribution
    with axonal delay ``k`` lands ``k + 1`` steps later."""

    def __init__(self, batch: int, syn: Synapse, shape: tuple):
        self.syn = syn
        self.len = syn.max_delay + 1
        self.buf = np.zeros((batch, int(np.prod(shape)), self.len), np.int64)
        self.p = 0
        self.shape = shape
        if syn.kind != "conv":
            self.w = syn.weight.astype(np.float64)

    def step(self, s_in: np.ndarray) -> np.ndarray:
        """Send this step's slot, then accumulate input spikes ``s_in`` (batch, in...)."""
        b = s_in.shape[0]
        sent = self.buf[:, :, self.p].copy()
        self.buf[:, :, self.p] = 0
        self.p = (self.p + 1) % self.len
        syn = self.syn
        if syn.kind == "conv":
            self.buf[:, :, self.p] += _conv(syn, s_in.reshape((b,) + syn.in_shape)).reshape(b, -1)
        else:
            # netx flattens an (x, y, c) layer in (c, y, x) order
            flat = (s_in.transpose(0, 3, 2, 1) if s_in.ndim == 4 else s_in).reshape(b, -1)
            if syn.kind == "dense":
                acc = np.rint(flat @ self.w.T).astype(np.int64)
                self.buf[:, :, self.p] += _shift(acc, syn.weight_exp)
            else:
                # Scatter each active input's weights into the slots its delays name.
                bi, ii = np.nonzero(flat)
                if len(bi):
                    contrib = _shift(self.w[:, ii].T.astype(np.int64) * flat[bi, ii, None].astype(np.int64),
                                     syn.weight_exp)                       # (events, out)
                    slots = (self.p + syn.delays[:, ii].T) % self.len      # (events, out)
                    outs = np.broadcast_to(np.arange(contrib.shape[1]), contrib.shape)
                    np.add.at(self.buf, (np.broadcast_to(bi[:, None], contrib.shape), outs, slots), contrib)
        return sent.reshape((b,) + self.shape)


def run_fast_batch(layers: list[Layer], x: np.ndarray, all_layers: bool = False):
    """Run a batch ``x`` ``(batch, inputs..., T)``; returns output spikes
    ``(batch, outputs..., T)`` (bool), or every layer's with ``all_layers``."""
    x = np.asarray(x)
    b, steps = x.shape[0], x.shape[-1]
    first = layers[0]
    in_shape = first.neuron.shape if first.synapse is None else first.synapse.in_shape
    if int(np.prod(x.shape[1:-1])) != int(np.prod(in_shape)):
        raise SpikeportError(f"input shape {tuple(x.shape[1:-1])} does not fit the network's input {tuple(in_shape)}")
    x = x.reshape((b,) + tuple(in_shape) + (steps,))
    u = [np.zeros((b,) + l.neuron.shape, np.int32) for l in layers]
    v = [np.zeros((b,) + l.neuron.shape, np.int32) for l in layers]
    rings = [None if l.synapse is None else _Ring(b, l.synapse, l.neuron.shape) for l in layers]
    record = [np.zeros((b,) + l.neuron.shape + (steps,), bool) for l in layers] if all_layers else None
    out = np.zeros((b,) + layers[-1].neuron.shape + (steps,), bool)
    for t in range(steps):
        s = x[..., t]
        for i, layer in enumerate(layers):
            n = layer.neuron
            # an input layer integrates the external input of the same step
            a_in = s.astype(np.int64) if rings[i] is None else rings[i].step(s)
            u[i], v[i], s = cuba_step(u[i], v[i], a_in, n.du, n.dv, n.vth, n.bias)
            if record is not None:
                record[i][..., t] = s
        out[..., t] = s
    return record if all_layers else out


def run_fast(net: str | os.PathLike | list, x: np.ndarray, all_layers: bool = False):
    """Run one input ``(inputs..., T)``; returns ``(outputs..., T)`` like
    :func:`spikeport.sim.run_lava` (or every layer's spikes with ``all_layers``)."""
    layers = load_network(net) if isinstance(net, (str, Path, os.PathLike)) else net
    res = run_fast_batch(layers, np.asarray(x)[None], all_layers=all_layers)
    return [r[0] for r in res] if all_layers else res[0]
