"""The fast backend's synapses: one class per kind, behind :data:`SYNAPSES`.

A synapse holds no state but its delay buffer, so each class computes a whole chunk
of steps at once: ``drive(s)`` takes the chunk's input events ``(n_in, T, batch)``
and returns what the synapse sends at each of those steps ``(n_out, T, batch)``
(integers held in a float array where that is exact: float32 while every partial sum
is below 2**24, float64 below 2**53), with Lava's timing: at step ``t`` it sends
what it accumulated from its input at ``t - 1 - d`` (``d``: the axonal delay).
Wrap-around is applied exactly where Lava's int32 (dense) or 24-bit (conv)
accumulators wrap.
"""
from __future__ import annotations

import numpy as np

from spikeport import fixed_point as fx
from spikeport.errors import SpikeportError
from spikeport.geometry import conv_out
from spikeport.sim.network import Synapse

F32_EXACT = 1 << 24     # float32 holds every integer below this
F64_EXACT = 1 << 53
INT32_LIMIT = 1 << 31


def exact_dtype(bound: float):
    """The cheapest dtype in which a product with these partial-sum magnitudes is exact."""
    if bound < F32_EXACT:
        return np.float32
    if bound < F64_EXACT:
        return np.float64
    return np.int64


class SynapseRun:
    """A synapse's per-run state: the contributions still to be sent (``pending``,
    ``(n_out, depth, batch)``) and its weights prepared for products by dtype."""

    def __init__(self, syn: Synapse, batch: int):
        self.syn, self.batch = syn, batch
        self.n_out = int(np.prod(syn.out_shape))
        self.depth = syn.max_delay + 1                       # steps a contribution can land ahead
        self.pending = np.zeros((self.n_out, self.depth, batch), np.float32)
        self._w: dict = {}
        self.row_abs = float(np.abs(syn.weight).reshape(len(syn.weight), -1).sum(axis=1).max(initial=0))

    def events(self, s: np.ndarray) -> tuple[np.ndarray, float]:
        """The input as the synapse reads it (binary unless graded) and its largest magnitude."""
        if self.syn.graded:
            return s, float(np.abs(s).max(initial=0))
        return (s if s.dtype == np.bool_ else s != 0), 1.0

    def product(self, key, w: np.ndarray, s2: np.ndarray, dtype) -> np.ndarray:
        wd = self._w.get((key, dtype))
        if wd is None:
            wd = self._w[(key, dtype)] = np.ascontiguousarray(w.astype(dtype))
        return wd @ s2.astype(dtype, copy=False)

    def one_step(self, acc: np.ndarray) -> np.ndarray:
        """A synapse without delays: send the previous step's accumulator."""
        out = np.empty(acc.shape, np.result_type(self.pending.dtype, acc.dtype))
        out[:, :1] = self.pending
        out[:, 1:] = acc[:, :-1]
        self.pending = acc[:, -1:].copy()
        return out

    def drive(self, s: np.ndarray) -> np.ndarray:  # pragma: no cover - every kind defines it
        raise NotImplementedError


class DenseRun(SynapseRun):
    """Lava's bit-accurate Dense: ``shift(W @ s)`` sent one step later."""

    def drive(self, s: np.ndarray) -> np.ndarray:
        syn = self.syn
        steps, b = s.shape[1:]
        s, s_max = self.events(s)
        bound = self.row_abs * s_max
        acc = self.product("w", syn.weight, s.reshape(s.shape[0], steps * b), exact_dtype(bound))
        if syn.graded and bound >= INT32_LIMIT:
            acc = fx.wrap_signed(acc, fx.INT32_BITS)         # Lava: int32 dot product
        acc = fx.shift_exponent(acc, syn.weight_exp)
        out_bound = bound * 2.0 ** max(syn.weight_exp, 0)
        if out_bound >= INT32_LIMIT:
            acc = fx.wrap_signed(acc, fx.INT32_BITS)         # sent as int32
        elif out_bound >= F32_EXACT and acc.dtype == np.float32:
            acc = acc.astype(np.float64)
        return self.one_step(acc.reshape(-1, steps, b))


class DelayDenseRun(SynapseRun):
    """Lava's DelayDense: each weight's contribution lands ``1 + d`` steps later.

    One delay per output neuron (netx's axonal delays) is one product with the rows
    sorted by delay, each delay's rows one slice; the general case is one product
    per delay bucket over the inputs that use it."""

    def __init__(self, syn: Synapse, batch: int):
        super().__init__(syn, batch)
        w, d = syn.weight, syn.delays
        self.w_abs = float(np.abs(w).max(initial=0))
        live = w != 0
        lo = np.where(live, d, np.iinfo(np.int64).max).min(axis=1)
        hi = np.where(live, d, -1).max(axis=1)
        self.rows = self.groups = None
        if ((lo == hi) | ~live.any(axis=1)).all():
            dk = np.where(live.any(axis=1), hi, 0)
            self.perm = np.argsort(dk, kind="stable")
            self.unperm = np.argsort(self.perm)
            ks = dk[self.perm]
            starts = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
            ends = np.r_[starts[1:], len(ks)]
            self.rows = [(int(ks[a]), int(a), int(e)) for a, e in zip(starts, ends)]
            self.w_sorted = w[self.perm]
        else:
            self.groups = []
            for k in np.unique(d[live]):
                cols = np.flatnonzero(((d == k) & live).any(axis=0))
                self.groups.append((int(k), cols, np.where(d[:, cols] == k, w[:, cols], 0)))

    def drive(self, s: np.ndarray) -> np.ndarray:
        syn = self.syn
        steps, b = s.shape[1:]
        s, s_max = self.events(s)
        if syn.graded and self.w_abs * s_max >= INT32_LIMIT:
            raise SpikeportError(
                f"graded input up to {s_max:.0f} into a delayed synapse: Lava's int32 products "
                f"w*s overflow there, which the fast backend does not emulate (use --backend lava)")
        bound = self.row_abs * s_max
        dtype = exact_dtype(bound)
        s2 = s.reshape(s.shape[0], steps * b)
        total = bound * 2.0 ** max(syn.weight_exp, 0) * max(len(self.groups or ()), 1)
        # np.empty and explicit zeros: a calloc'd buffer would fault its pages in under the scattered adds
        ext = np.empty((self.n_out, steps + self.depth, b), np.float32 if total < F32_EXACT else np.float64)
        ext[:, :self.depth] = self.pending
        ext[:, self.depth:] = 0
        if self.rows is not None:
            acc = fx.shift_exponent(self.product("sorted", self.w_sorted, s2, dtype), syn.weight_exp)
            acc = acc.reshape(-1, steps, b)
            for k, lo, hi in self.rows:
                ext[lo:hi, 1 + k:1 + k + steps] += acc[lo:hi]
        else:
            for k, cols, wk in self.groups:
                acc = self.product(("k", k), wk, s2[cols], dtype)
                ext[:, 1 + k:1 + k + steps] += fx.shift_exponent(acc, syn.weight_exp).reshape(-1, steps, b)
        if total >= INT32_LIMIT:
            ext = fx.wrap_signed(ext, fx.INT32_BITS)         # the int32 delay buffer
        self.pending = ext[:, steps:].copy()
        if self.rows is not None:
            return np.take(ext[:, :steps], self.unperm, axis=0)
        return ext[:, :steps]


class ConvRun(SynapseRun):
    """Lava's Conv: a cross-correlation of the ``(C, H, W)`` input with the
    flipped kernel, as patches times kernel (one product per group), wrapped to
    24 bits, sent one step later."""

    def __init__(self, syn: Synapse, batch: int):
        super().__init__(syn, batch)
        self.kernel = syn.torch_kernel()
        self.row_abs = float(np.abs(self.kernel).reshape(len(self.kernel), -1).sum(axis=1).max(initial=0))

    def drive(self, s: np.ndarray) -> np.ndarray:
        s, s_max = self.events(s)
        bound = self.row_abs * s_max
        acc = self._conv(s, bound)
        if bound >= 1 << (fx.CONV_ACC_BITS - 1):
            acc = fx.wrap_signed(acc, fx.CONV_ACC_BITS)
        return self.one_step(acc)

    def _kernels(self, dtype) -> list[np.ndarray]:
        ks = self._w.get(("conv", dtype))
        if ks is None:
            o, groups = len(self.kernel), self.syn.groups
            og = o // groups
            ks = self._w[("conv", dtype)] = [
                np.ascontiguousarray(self.kernel[g * og:(g + 1) * og].reshape(og, -1).astype(dtype))
                for g in range(groups)]
        return ks

    def _conv(self, s: np.ndarray, bound: float) -> np.ndarray:
        syn = self.syn
        steps, b = s.shape[1:]
        n = steps * b
        x, y, c = syn.in_shape
        if bound >= F64_EXACT:
            raise SpikeportError(f"conv input up to {bound:.3g}: beyond exact float64 convolution")
        dtype = np.float32 if bound < F32_EXACT else np.float64
        o, cg, kh, kw = self.kernel.shape
        groups, og = syn.groups, o // syn.groups
        (sx, sy), (px, py), (dx, dy) = syn.stride, syn.padding, syn.dilation
        ho, wo = conv_out(y, kh, sy, py, dy), conv_out(x, kw, sx, px, dx)
        ks = self._kernels(dtype)
        xp = np.zeros((c, y + 2 * py, x + 2 * px, n), dtype)
        xp[:, py:py + y, px:px + x] = s.reshape(c, y, x, n)
        out = np.empty((o, ho, wo, n), dtype)
        piece = max(1, (1 << 23) // max(1, cg * kh * kw * ho * wo))    # patch matrix of about 2**23 values
        for n0 in range(0, n, piece):
            sub = xp[..., n0:n0 + piece]
            sc, sh, sw, sn = sub.strides
            patches = np.lib.stride_tricks.as_strided(
                sub, (c, kh, kw, ho, wo, sub.shape[-1]), (sc, dy * sh, dx * sw, sy * sh, sx * sw, sn))
            for g in range(groups):
                cols = patches[g * cg:(g + 1) * cg].reshape(cg * kh * kw, -1)
                out[g * og:(g + 1) * og, ..., n0:n0 + piece] = (ks[g] @ cols).reshape(og, ho, wo, -1)
        return out.reshape(o * ho * wo, steps, b)


SYNAPSES: dict[str, type[SynapseRun]] = {"dense": DenseRun, "delay_dense": DelayDenseRun, "conv": ConvRun}


def synapse_run(syn: Synapse, batch: int) -> SynapseRun:
    """The run-time object of ``syn`` for a batch of ``batch`` samples."""
    return SYNAPSES[syn.kind](syn, batch)
