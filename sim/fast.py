"""The fast backend: Lava's fixed_pt process models as batched, vectorized integer
arithmetic (the arithmetic itself is :mod:`spikeport.export.fixed_point`).

The network is loaded with netx itself (``lava.lib.dl.netx.hdf5.Network``) and its
processes' initial values and parameters are read out, cast as Lava's builder casts
them, so the fast backend runs the very weights, exponents, delays, decays, biases
and thresholds that Lava would run.

Time is streamed in chunks of steps: per chunk, each synapse is one matrix product
(or convolution) over all the chunk's steps and samples at once, since a synapse
holds no state but its delay buffer; only the neuron recurrences step through time,
vectorized over samples and neurons. Memory is bounded by the chunk, whatever ``T``.

Shapes: a layer's neurons are in netx's order, ``(x, y, c)`` for convolution layers
and ``(n,)`` for dense ones; batched arrays are ``(batch, neurons..., T)``. Inside,
a chunk is neuron-major, ``(n, steps, batch)``, with neurons flattened in
``(c, y, x)`` order, which is what netx's flatten feeds a dense layer and what a
``(C, H, W)`` convolution reads; a dense synapse is then ``W @ S`` on a 2-D view.

Timing, as Lava's message passing: a synapse sends at step ``t`` what it
accumulated from its input at step ``t - 1 - d`` (``d``: axonal delay, 0 without),
and neurons integrate what arrives in the same step, so each synapse adds
``1 + d`` steps of latency; an input layer's neurons integrate the external input
of the same step.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from spikeport.errors import SpikeportError
from spikeport.export import fixed_point as fx

# Layer types the fast backend runs (see sim/netx_file.py).
FAST_TYPES = ("input", "dense", "conv", "pool", "flatten")
F32_EXACT = 1 << 24     # float32 holds every integer below this
F64_EXACT = 1 << 53
INT32_LIMIT = 1 << 31


@dataclass
class Synapse:
    """A layer's synapse as Lava's fixed_pt model runs it.

    ``weight``: dense ``(out, in)`` int64, the weights after Lava's clipping and
    truncation to ``num_weight_bits``; conv ``(out, kx, ky, in/groups)`` int64 in
    Lava's layout (netx flips the HDF5 kernel; see :meth:`torch_kernel`).
    ``weight_exp``: the accumulator's exponent (dense only). ``graded``: the input's
    values are used (``num_message_bits > 0``), else any nonzero input counts as 1.
    ``delays``: ``(out, in)`` axonal delays in steps (``delay_dense`` only).
    ``stride``, ``padding``, ``dilation``: ``(x, y)``, Lava's order. Shapes are
    netx's, ``in_shape`` the source layer's.
    """

    kind: str                      # "dense", "delay_dense" or "conv"
    weight: np.ndarray
    weight_exp: int = 0
    delays: np.ndarray | None = None
    stride: tuple = (1, 1)
    padding: tuple = (0, 0)
    dilation: tuple = (1, 1)
    groups: int = 1
    in_shape: tuple = ()
    out_shape: tuple = ()
    graded: bool = False

    @property
    def max_delay(self) -> int:
        return 0 if self.delays is None else int(self.delays[self.weight != 0].max(initial=0))

    @property
    def min_delay(self) -> int:
        return 0 if self.delays is None else int(self.delays[self.weight != 0].min(initial=0))

    def torch_kernel(self) -> np.ndarray:
        """Conv kernel ``(out, in/groups, kH, kW)`` for ``torch.nn.functional.conv2d``
        on ``(C, H=y, W=x)`` input: what Lava's flipped-kernel convolution computes."""
        return np.array(self.weight[:, ::-1, ::-1].transpose(0, 3, 2, 1), order="C", copy=True)


@dataclass
class Neuron:
    """A layer's neurons. ``kind``: ``cuba`` (Lava ``LIF``/``LIFReset``), ``delta``
    (sigma-delta input), ``sigma_delta`` or ``sigma`` (sigma-delta readout).

    CUBA: ``du`` (netx ``iDecay - 1``), ``dv``, ``vth`` (mantissa), ``bias`` the
    effective bias ``bias_mant << bias_exp`` (int32, broadcastable to ``shape``),
    ``reset_interval``/``reset_offset`` for ``LIFReset``. Sigma-delta: ``vth`` and
    ``bias`` as the process holds them (scaled by ``2**(spike_exp + state_exp)``),
    ``relu`` for the ReLU activation.
    """

    kind: str
    shape: tuple
    du: int = 0
    dv: int = 0
    vth: int = 0
    bias: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int32))
    reset_interval: int | None = None
    reset_offset: int = 0
    spike_exp: int = 6
    state_exp: int = 6
    relu: bool = True

    @property
    def graded(self) -> bool:
        """Whether the neurons send integer payloads (sigma-delta) rather than 0/1."""
        return self.kind != "cuba"

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclass
class Layer:
    """One netx block: ``index`` in netx's layer list, ``name`` its HDF5 group
    (``layer<i>``), ``kind`` the activity-count kind (``input``, ``dense``,
    ``delay_dense``, ``conv``, ``sdnn_input``, ``sdnn_dense``, ``sigma_dense`` ...)."""

    name: str
    neuron: Neuron
    synapse: Synapse | None = None   # None: an input layer fed by the external input
    index: int = 0
    kind: str = ""


@dataclass
class Network:
    """A netx network as the fast backend runs it (indexable like its layer list).

    ``input_shape``: the shape (netx order) of the port external input enters: an
    input layer's neurons, or the first synapse's input.
    """

    path: str
    layers: list[Layer]
    input_shape: tuple
    options: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    @property
    def output_shape(self) -> tuple:
        return self.layers[-1].neuron.shape

    @property
    def latency(self) -> int:
        """Steps from an input to its earliest possible effect at the output:
        ``1 + d_min`` per synapse (``d_min``: its smallest axonal delay)."""
        return sum(1 + l.synapse.min_delay for l in self.layers if l.synapse is not None)


# ----------------------------------------------------------------------------- loading

def _lava_init(var, dtype) -> np.ndarray:
    """A Lava Var's initial value cast as Lava's builder casts it into the model
    (``np.ndarray(shape, dtype)[:] = init``: truncation toward zero, int wrap)."""
    arr = np.ndarray(tuple(var.shape), dtype)
    arr[:] = var.init
    return arr


def _scalar(var) -> int:
    return int(np.asarray(var.init).reshape(-1)[0])


def _neuron(proc, shape: tuple, where: str) -> Neuron:
    name = type(proc).__name__
    if name in ("LIF", "LIFReset"):
        bias_mant = _lava_init(proc.bias_mant, np.int16).astype(np.int32)
        bias_exp = _lava_init(proc.bias_exp, np.int16).astype(np.int32)
        bias = np.where(bias_exp >= 0, np.left_shift(bias_mant, np.maximum(bias_exp, 0)),
                        np.right_shift(bias_mant, np.maximum(-bias_exp, 0))).astype(np.int32)
        if np.any(_lava_init(proc.u, np.int32)) or np.any(_lava_init(proc.v, np.int32)):
            raise SpikeportError(f"{where}: nonzero initial neuron state is not supported by the fast backend")
        n = Neuron("cuba", shape, du=_scalar(proc.du), dv=_scalar(proc.dv), vth=_scalar(proc.vth), bias=bias)
        if name == "LIFReset":
            n.reset_interval = int(proc.proc_params["reset_interval"])
            n.reset_offset = int(proc.proc_params["reset_offset"]) % n.reset_interval
        return n
    if name in ("Delta", "SigmaDelta"):
        if bool(np.asarray(proc.cum_error.init).reshape(-1)[0]):
            raise SpikeportError(f"{where}: sigma-delta with cumulative error is not supported by the fast backend")
        n = Neuron("delta" if name == "Delta" else "sigma_delta", shape,
                   vth=int(_lava_init(proc.vth, np.int32)[0]), spike_exp=_scalar(proc.spike_exp),
                   state_exp=_scalar(proc.state_exp))
        if name == "SigmaDelta":
            n.bias = _lava_init(proc.bias, np.int32)
            mode = proc.proc_params["act_mode"]
            if getattr(mode, "name", str(mode)) not in ("RELU", "UNIT"):
                raise SpikeportError(f"{where}: sigma-delta activation {mode} is not supported by the fast backend")
            n.relu = getattr(mode, "name", str(mode)) == "RELU"
        return n
    if name == "Sigma":
        return Neuron("sigma", shape)
    raise SpikeportError(f"{where}: neuron process {name} is not supported by the fast backend")


def _synapse(proc, in_shape: tuple, out_shape: tuple, where: str) -> Synapse:
    from lava.utils.weightutils import clip_weights, determine_sign_mode, truncate_weights

    name = type(proc).__name__
    params = proc.proc_params
    graded = int(np.asarray(proc.num_message_bits.init).reshape(-1)[0]) > 0
    if name in ("Dense", "DelayDense"):
        # the model's first run_spk: clip to 8 bits, truncate to num_weight_bits
        w = _lava_init(proc.weights, np.int32)
        sign_mode = params.get("sign_mode") or determine_sign_mode(w)
        w = clip_weights(w, sign_mode, num_bits=8)
        w = truncate_weights(w, sign_mode, params.get("num_weight_bits", 8)).astype(np.int64)
        delays = None
        if name == "DelayDense":
            delays = np.broadcast_to(_lava_init(proc.delays, np.int32), w.shape).astype(np.int64)
            max_delay = int(proc.a_buff.shape[-1]) - 1
            # the model only sums delay buckets 0..max_delay: other weights never arrive
            w = np.where((delays >= 0) & (delays <= max_delay), w, 0)
            delays = np.where(w != 0, delays, 0)
        return Synapse("delay_dense" if name == "DelayDense" else "dense", w, int(params.get("weight_exp", 0)),
                       delays, in_shape=in_shape, out_shape=out_shape, graded=graded)
    if name == "Conv":
        return Synapse("conv", _lava_init(proc.weight, np.int32).astype(np.int64),
                       stride=tuple(int(s) for s in _lava_init(proc.stride, np.int8)),
                       padding=tuple(int(s) for s in _lava_init(proc.padding, np.int8)),
                       dilation=tuple(int(s) for s in _lava_init(proc.dilation, np.int8)),
                       groups=int(_lava_init(proc.groups, np.int8).reshape(-1)[0]),
                       in_shape=in_shape, out_shape=out_shape, graded=graded)
    raise SpikeportError(f"{where}: synapse process {name} is not supported by the fast backend")


def _kind(neuron: Neuron, synapse: Synapse | None) -> str:
    base = "input" if synapse is None else synapse.kind
    return {"cuba": base, "delta": "sdnn_" + base, "sigma_delta": "sdnn_" + base,
            "sigma": "sigma_" + base}[neuron.kind]


def _block_groups(entries, num_layers, skip_layers) -> list[int]:
    """HDF5 layer index of each block netx builds (flatten and neuron-less input
    layers build none; skipped layers are dropped)."""
    out = []
    n = len(entries) if num_layers is None else min(len(entries), int(num_layers))
    for e in entries[:n]:
        if e.type in ("conv", "pool", "dense", "dense_rec", "dense_comp") or (e.type == "input" and e.neuron):
            if e.index >= skip_layers:
                out.append(e.index)
    return out


def load_network(net_path: str | os.PathLike, **netx_options) -> Network:
    """Read a netx HDF5 network for the fast backend, through netx's own loader
    (``netx_options``, e.g. ``num_layers``, go to ``netx.hdf5.Network``).

    Raises :class:`SpikeportError` for a bad file or a layer the fast backend does
    not run, naming the file and the layer.
    """
    from spikeport.sim.lava_backend import load_netx
    from spikeport.sim.netx_file import scan_network

    entries = scan_network(net_path, backend="fast", num_layers=netx_options.get("num_layers"),
                           supported=FAST_TYPES)
    net = load_netx(net_path, **netx_options)
    groups = _block_groups(entries, netx_options.get("num_layers"), int(netx_options.get("skip_layers", 0) or 0))
    layers = []
    for i, block in enumerate(net.layers):
        kind = type(block).__name__
        h5 = groups[i] if i < len(groups) else i
        where = f"{net_path}: layer {h5} ({kind})"
        shape = tuple(int(s) for s in block.out.shape)
        neuron = _neuron(block.neuron, shape, where)
        if kind == "Input":
            layer = Layer(f"layer{h5}", neuron, None, i)
        elif kind in ("Dense", "Conv"):
            in_shape = tuple(int(s) for s in block.inp.shape)
            layer = Layer(f"layer{h5}", neuron, _synapse(block.synapse, in_shape, shape, where), i)
        else:
            raise SpikeportError(f"{where}: not supported by the fast backend")
        layer.kind = _kind(neuron, layer.synapse)
        layers.append(layer)
    first = layers[0]
    in_shape = first.neuron.shape if first.synapse is None else first.synapse.in_shape
    return Network(str(net_path), layers, in_shape, dict(netx_options))


# ---------------------------------------------------------------------------- layouts

def to_internal(x: np.ndarray) -> np.ndarray:
    """``(batch, neurons..., T)`` in netx order -> ``(n, T, batch)``, neurons
    flattened in reversed-axis order (``(c, y, x)`` for ``(x, y, c)``)."""
    k = x.ndim - 2
    axes = tuple(range(k, 0, -1)) + (k + 1, 0)
    return x.transpose(axes).reshape(-1, x.shape[-1], x.shape[0])


def to_netx(s: np.ndarray, shape: tuple) -> np.ndarray:
    """Inverse of :func:`to_internal`: ``(n, T, batch)`` -> ``(batch, *shape, T)``."""
    steps, b = s.shape[1:]
    k = len(shape)
    r = s.reshape(tuple(shape[::-1]) + (steps, b))
    return r.transpose((k + 1,) + tuple(range(k - 1, -1, -1)) + (k,))


def flat_internal(a, shape: tuple) -> np.ndarray:
    """A per-neuron array broadcastable to netx ``shape`` -> flat internal order."""
    a = np.broadcast_to(np.asarray(a), shape)
    return np.ascontiguousarray(a.transpose(tuple(range(len(shape) - 1, -1, -1)))).reshape(-1)


# ---------------------------------------------------------------------------- engine

def _exact_dtype(bound: float):
    """The cheapest dtype in which a product with these partial-sum magnitudes is exact."""
    if bound < F32_EXACT:
        return np.float32
    if bound < F64_EXACT:
        return np.float64
    return np.int64


class _SynapseRun:
    """A synapse's per-run state: its delay buffer, plus weights prepared for products.

    Arrays are neuron-major, ``(n, T, batch)``: a dense synapse is then one product
    ``W @ S`` over a chunk, and an axonal delay a shift along time of whole rows.
    """

    def __init__(self, syn: Synapse, batch: int):
        self.syn = syn
        self.batch = batch
        w = syn.weight
        self.n_out = int(np.prod(syn.out_shape))
        self.depth = syn.max_delay + 1                       # steps a contribution can land ahead
        self.pending = np.zeros((self.n_out, self.depth, batch), np.float32)
        self._w = {}
        self.rows = None
        self.groups = None
        if syn.kind == "conv":
            self.kernel = syn.torch_kernel()
            self.row_abs = float(np.abs(self.kernel).reshape(len(self.kernel), -1).sum(axis=1).max(initial=0))
            self.w_abs = float(np.abs(w).max(initial=0))
            return
        self.row_abs = float(np.abs(w).sum(axis=1).max(initial=0))
        self.w_abs = float(np.abs(w).max(initial=0))
        if syn.kind == "delay_dense":
            d = syn.delays
            live = w != 0
            lo = np.where(live, d, np.iinfo(np.int64).max).min(axis=1)
            hi = np.where(live, d, -1).max(axis=1)
            if ((lo == hi) | ~live.any(axis=1)).all():
                # One delay per output neuron (netx's per-neuron axonal delay): one
                # product with the rows sorted by delay, each delay's rows one slice,
                # sent back in the neurons' order.
                dk = np.where(live.any(axis=1), hi, 0)
                self.perm = np.argsort(dk, kind="stable")
                self.unperm = np.argsort(self.perm)
                ks = dk[self.perm]
                starts = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
                ends = np.r_[starts[1:], len(ks)]
                self.rows = [(int(ks[a]), int(a), int(e)) for a, e in zip(starts, ends)]
                self.w_sorted = w[self.perm]
            else:
                # general: one product per delay bucket, over the inputs that use it
                self.groups = []
                for k in np.unique(d[w != 0]):
                    cols = np.flatnonzero(((d == k) & (w != 0)).any(axis=0))
                    wk = np.where(d[:, cols] == k, w[:, cols], 0)
                    self.groups.append((int(k), cols, wk))

    def _product(self, key, w: np.ndarray, s2: np.ndarray, dtype) -> np.ndarray:
        wd = self._w.get((key, dtype))
        if wd is None:
            wd = self._w[(key, dtype)] = np.ascontiguousarray(w.astype(dtype))
        return wd @ s2.astype(dtype, copy=False)

    def drive(self, s: np.ndarray) -> np.ndarray:
        """Input events of a chunk ``(n_in, T, batch)`` -> what the synapse sends at
        each of those steps, ``(n_out, T, batch)`` (integers in a float array)."""
        syn = self.syn
        steps, b = s.shape[1:]
        if syn.graded:
            s_max = float(np.abs(s).max(initial=0))
        else:
            if s.dtype != np.bool_:
                s = s != 0
            s_max = 1.0
        bound = self.row_abs * s_max
        if syn.kind == "conv":
            acc = self._conv(s, bound)
            if bound >= 1 << (fx.CONV_ACC_BITS - 1):
                acc = fx.wrap_signed(acc, fx.CONV_ACC_BITS)
            return self._one_step(acc)
        dtype = _exact_dtype(bound)
        s2 = s.reshape(s.shape[0], steps * b)
        out_bound = bound * 2.0 ** max(syn.weight_exp, 0)
        if syn.kind == "dense":
            acc = self._product("w", syn.weight, s2, dtype)
            if syn.graded and bound >= INT32_LIMIT:
                acc = fx.wrap_signed(acc, fx.INT32_BITS)     # Lava: int32 dot product
            acc = fx.shift_exponent(acc, syn.weight_exp)
            if out_bound >= INT32_LIMIT:
                acc = fx.wrap_signed(acc, fx.INT32_BITS)     # sent as int32
            elif out_bound >= F32_EXACT and acc.dtype == np.float32:
                acc = acc.astype(np.float64)
            return self._one_step(acc.reshape(-1, steps, b))
        if syn.graded and self.w_abs * s_max >= INT32_LIMIT:
            raise SpikeportError(
                f"graded input up to {s_max:.0f} into a delayed synapse: Lava's int32 products "
                f"w*s overflow there, which the fast backend does not emulate (use --backend lava)")
        ext = np.empty((self.n_out, steps + self.depth, b))
        ext[:, :self.depth] = self.pending
        ext[:, self.depth:] = 0
        if self.rows is not None:
            acc = fx.shift_exponent(self._product("sorted", self.w_sorted, s2, dtype), syn.weight_exp)
            acc = acc.reshape(-1, steps, b)
            for k, lo, hi in self.rows:
                ext[lo:hi, 1 + k:1 + k + steps] += acc[lo:hi]
        else:
            for k, cols, wk in self.groups:
                acc = self._product(("k", k), wk, s2[cols], dtype)
                ext[:, 1 + k:1 + k + steps] += fx.shift_exponent(acc, syn.weight_exp).reshape(-1, steps, b)
        if out_bound * max(len(self.groups or ()), 1) >= INT32_LIMIT:
            ext = fx.wrap_signed(ext, fx.INT32_BITS)         # the int32 delay buffer
        self.pending = ext[:, steps:].copy()
        if self.rows is not None:
            return np.take(ext[:, :steps], self.unperm, axis=0)
        return ext[:, :steps]

    def _one_step(self, acc: np.ndarray) -> np.ndarray:
        """A synapse without delays: send the previous step's accumulator."""
        out = np.empty(acc.shape, np.result_type(self.pending.dtype, acc.dtype))
        out[:, :1] = self.pending
        out[:, 1:] = acc[:, :-1]
        self.pending = acc[:, -1:].copy()
        return out

    def _conv(self, s: np.ndarray, bound: float) -> np.ndarray:
        """Lava's convolution of a chunk ``(n_in, T, batch)`` -> ``(n_out, T, batch)``,
        as patches times kernel (one matrix product per group). float32 when every
        partial sum is an integer below 2**24, float64 below 2**53 (Lava convolves
        in float64 too, with scipy)."""
        syn = self.syn
        steps, b = s.shape[1:]
        n = steps * b
        x, y, c = syn.in_shape
        if bound >= F64_EXACT:
            raise SpikeportError(f"conv input up to {bound:.3g}: beyond exact float64 convolution")
        dtype = np.float32 if bound < F32_EXACT else np.float64
        o, cg, kh, kw = self.kernel.shape
        groups = syn.groups
        og = o // groups
        (sx, sy), (px, py), (dx, dy) = syn.stride, syn.padding, syn.dilation
        ho = (y + 2 * py - dy * (kh - 1) - 1) // sy + 1
        wo = (x + 2 * px - dx * (kw - 1) - 1) // sx + 1
        ks = self._w.get(("conv", dtype))
        if ks is None:
            ks = self._w[("conv", dtype)] = [
                np.ascontiguousarray(self.kernel[g * og:(g + 1) * og].reshape(og, -1).astype(dtype))
                for g in range(groups)]
        xp = np.zeros((c, y + 2 * py, x + 2 * px, n), dtype)
        xp[:, py:py + y, px:px + x] = s.reshape(c, y, x, n)
        out = np.empty((o, ho, wo, n), dtype)
        # bound the patch matrix to about 2**23 values by splitting the samples
        piece = max(1, (1 << 23) // max(1, cg * kh * kw * ho * wo))
        for n0 in range(0, n, piece):
            sub = xp[..., n0:n0 + piece]
            sc, sh, sw, sn = sub.strides
            patches = np.lib.stride_tricks.as_strided(
                sub, (c, kh, kw, ho, wo, sub.shape[-1]), (sc, dy * sh, dx * sw, sy * sh, sx * sw, sn))
            for g in range(groups):
                cols = patches[g * cg:(g + 1) * cg].reshape(cg * kh * kw, -1)
                out[g * og:(g + 1) * og, ..., n0:n0 + piece] = (ks[g] @ cols).reshape(og, ho, wo, -1)
        return out.reshape(o * ho * wo, steps, b)


class _NeuronRun:
    """A layer's neuron state for one run, ``(n, batch)``."""

    def __init__(self, n: Neuron, batch: int):
        self.n = n
        size = n.size
        if n.kind == "cuba":
            self.u = np.zeros((size, batch), np.int32)
            self.v = np.zeros((size, batch), np.int32)
            self.bias = flat_internal(n.bias, n.shape).astype(np.int32)
        else:
            z = lambda: np.zeros((size, batch), np.int32)  # noqa: E731
            self.sigma, self.act, self.residue = z(), z(), z()
            self.vth = np.array([n.vth], np.int32)
            self.bias = flat_internal(n.bias, n.shape).astype(np.int32)[:, None] if n.kind == "sigma_delta" else None
            self.spike_exp = np.array([n.spike_exp], np.int32)
            self.state_exp = np.array([n.state_exp], np.int32)

    def state(self) -> np.ndarray:
        """The state NeuroBench calls the membrane: CUBA's voltage, a sigma-delta
        neuron's accumulated input ``sigma``, a delta input neuron's activation."""
        return self.v if self.n.kind == "cuba" else self.act if self.n.kind == "delta" else self.sigma

    def run(self, a: np.ndarray, t0: int) -> tuple[np.ndarray, np.ndarray]:
        """Integrate input ``(n, T, batch)`` arriving at global steps ``t0 ...``;
        returns the layer's output (bool spikes, or int32 graded spikes) and, per
        step and sample ``(T, batch)``, how many neurons' membrane (:meth:`state`)
        changed in that step."""
        n = self.n
        steps = a.shape[1]
        changed = np.zeros((steps, a.shape[2]), np.int64)
        if n.kind == "cuba":
            out = np.empty(a.shape, np.bool_)
            resets = ()
            if n.reset_interval:
                # LIFReset zeroes its state when the 1-based time_step % R == offset
                resets = [t for t in range(steps) if (t0 + t + 1) % n.reset_interval == n.reset_offset]
            fx.cuba_run(self.u, self.v, a, n.du, n.dv, n.vth, self.bias, out, resets, changed=changed)
            return out, changed
        a = a.astype(np.int32) if a.dtype != np.int32 else a
        out = np.empty(a.shape, np.int32)
        for t in range(steps):
            at = np.ascontiguousarray(a[:, t])
            before = self.state()
            if n.kind == "delta":
                self.act, self.residue, out[:, t] = fx.delta_step(self.act, self.residue, at, self.vth,
                                                                  self.spike_exp, self.state_exp)
            elif n.kind == "sigma_delta":
                self.sigma, self.act, self.residue, out[:, t] = fx.sigma_delta_step(
                    self.sigma, self.act, self.residue, at, self.vth, self.bias, self.state_exp, n.relu)
            else:
                self.sigma, out[:, t] = fx.sigma_step(self.sigma, at)
            changed[t] = np.count_nonzero(self.state() != before, axis=0)
        return out, changed


def chunk_steps(batch: int, net: Network, budget: int = 1 << 22) -> int:
    """Steps per chunk so that one chunk of the widest layer holds about ``budget``
    values (memory stays bounded whatever ``T``)."""
    widest = max([l.neuron.size for l in net.layers] + [int(np.prod(net.input_shape))])
    return max(1, budget // max(1, batch * widest))


def stream(net: Network, x: np.ndarray, steps: int, chunk: int | None = None
           ) -> Iterator[tuple[int, list[np.ndarray], list[np.ndarray]]]:
    """Run a batch through ``net`` and yield, per chunk of steps, ``(t0, trains,
    changed)``: ``trains[0]`` the external input, ``trains[i + 1]`` layer ``i``'s
    output, each ``(n, T_chunk, batch)`` in internal order; ``changed[i]`` ``(T_chunk,
    batch)`` the number of layer ``i``'s neurons whose membrane changed in each
    step (at step 0, every neuron: NeuroBench counts the first update of each).

    ``x``: int32 ``(batch, inputs..., T_in)`` in netx order, already checked; step
    ``t`` reads ``x[..., t % T_in]`` as a RingBuffer source does.
    """
    b, t_in = x.shape[0], x.shape[-1]
    chunk = chunk or chunk_steps(b, net)
    syn = [None if l.synapse is None else _SynapseRun(l.synapse, b) for l in net.layers]
    neu = [_NeuronRun(l.neuron, b) for l in net.layers]
    for t0 in range(0, steps, chunk):
        t1 = min(steps, t0 + chunk)
        xc = to_internal(x if (t0 == 0 and t1 == t_in) else x[..., np.arange(t0, t1) % t_in])
        s = xc
        trains, changed = [xc], []
        for i, layer in enumerate(net.layers):
            a = s if syn[i] is None else syn[i].drive(s)
            s, ch = neu[i].run(a, t0)
            if t0 == 0:
                ch[0] = layer.neuron.size
            trains.append(s)
            changed.append(ch)
        yield t0, trains, changed


def run_fast_batch(net: str | os.PathLike | Network | list, x: np.ndarray, all_layers: bool = False):
    """Run a batch ``x`` ``(batch, inputs..., T)``; returns the output layer's spikes
    ``(batch, outputs..., T)`` (int32), or with ``all_layers`` every layer's."""
    from spikeport.sim.simulate import simulate

    res = simulate(net, x, backend="fast", record="all" if all_layers else "output")
    return res.layers if all_layers else res.output


def run_fast(net: str | os.PathLike | Network | list, x: np.ndarray, all_layers: bool = False):
    """Run one input ``(inputs..., T)``; returns ``(outputs..., T)`` like
    :func:`spikeport.sim.run_lava` (or every layer's spikes with ``all_layers``)."""
    res = run_fast_batch(net, np.asarray(x)[None], all_layers=all_layers)
    return [r[0] for r in res] if all_layers else res[0]
