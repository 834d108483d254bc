"""The fast backend's neurons: one class per kind, behind :data:`NEURONS`.

Each integrates the input of a chunk of steps ``(n, T, batch)`` (two inputs,
real and imaginary, for resonate-and-fire neurons), and returns the events the layer
sends ``(n, T, batch)`` (bool spikes, or int32 graded values) and, per step and
sample ``(T, batch)``, how many neurons' membrane changed (NeuroBench's membrane
updates). :meth:`NeuronRun.step` runs one step, for layers whose own spikes feed
back (``dense_rec``). The arithmetic is :mod:`spikeport.fixed_point`.
"""
from __future__ import annotations

import numpy as np

from spikeport import fixed_point as fx
from spikeport.sim.layout import flat_internal
from spikeport.sim.network import Neuron


def _zeros(n: Neuron, batch: int) -> np.ndarray:
    return np.zeros((n.size, batch), np.int32)


class NeuronRun:
    """A layer's neuron state for one run, ``(n, batch)``."""

    def __init__(self, n: Neuron, batch: int):
        self.n = n

    def membrane(self) -> np.ndarray:  # pragma: no cover - every kind defines it
        raise NotImplementedError

    def run(self, a, t0: int) -> tuple[np.ndarray, np.ndarray]:
        """Integrate ``a`` arriving at global steps ``t0 ...``: (events, changed)."""
        steps = a.shape[-2]
        out = None
        changed = np.zeros((steps, a.shape[-1]), np.int64)
        for t in range(steps):
            before = self.membrane()
            s = self.step(a[..., t, :], t0 + t)
            if out is None:
                out = np.empty(a.shape[-3:], s.dtype)
            out[:, t] = s
            changed[t] = np.count_nonzero(self.membrane() != before, axis=0)
        return out, changed

    def step(self, a: np.ndarray, t: int) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


class CubaRun(NeuronRun):
    """Lava's LIF / LIFReset (CUBA) in fixed point, compiled with numba over whole
    chunks (:func:`spikeport.fixed_point.cuba_run`)."""

    def __init__(self, n: Neuron, batch: int):
        super().__init__(n, batch)
        self.u, self.v = _zeros(n, batch), _zeros(n, batch)
        self.bias = flat_internal(n.bias, n.shape).astype(np.int32)

    def membrane(self) -> np.ndarray:
        return self.v

    def _resets(self, t0: int, steps: int) -> list[int]:
        n = self.n
        if not n.reset_interval:
            return []
        # LIFReset zeroes its state when the 1-based time_step % R == offset
        return [t for t in range(steps) if (t0 + t + 1) % n.reset_interval == n.reset_offset]

    def run(self, a: np.ndarray, t0: int) -> tuple[np.ndarray, np.ndarray]:
        n = self.n
        out = np.empty(a.shape, np.bool_)
        changed = np.zeros((a.shape[1], a.shape[2]), np.int64)
        fx.cuba_run(self.u, self.v, a, n.du, n.dv, n.vth, self.bias, out, self._resets(t0, a.shape[1]),
                    changed=changed)
        return out, changed

    def step(self, a: np.ndarray, t: int) -> np.ndarray:
        return self.run(a[:, None], t)[0][:, 0]


class DeltaRun(NeuronRun):
    """Lava's Delta: a sigma-delta input layer."""

    def __init__(self, n: Neuron, batch: int):
        super().__init__(n, batch)
        self.act, self.residue = _zeros(n, batch), _zeros(n, batch)
        self.vth = np.array([n.vth], np.int32)
        self.spike_exp, self.state_exp = np.array([n.spike_exp], np.int32), np.array([n.state_exp], np.int32)

    def membrane(self) -> np.ndarray:
        return self.act

    def step(self, a: np.ndarray, t: int) -> np.ndarray:
        a = np.ascontiguousarray(a, np.int32)
        self.act, self.residue, s = fx.delta_step(self.act, self.residue, a, self.vth, self.spike_exp, self.state_exp)
        return s


class SigmaDeltaRun(DeltaRun):
    """Lava's SigmaDelta (ReLU or no activation)."""

    def __init__(self, n: Neuron, batch: int):
        super().__init__(n, batch)
        self.sigma = _zeros(n, batch)
        self.bias = flat_internal(n.bias, n.shape).astype(np.int32)[:, None]

    def membrane(self) -> np.ndarray:
        return self.sigma

    def step(self, a: np.ndarray, t: int) -> np.ndarray:
        a = np.ascontiguousarray(a, np.int32)
        self.sigma, self.act, self.residue, s = fx.sigma_delta_step(
            self.sigma, self.act, self.residue, a, self.vth, self.bias, self.state_exp, self.n.relu)
        return s


class SigmaRun(NeuronRun):
    """Lava's Sigma: a sigma-decoding readout."""

    def __init__(self, n: Neuron, batch: int):
        super().__init__(n, batch)
        self.sigma = _zeros(n, batch)

    def membrane(self) -> np.ndarray:
        return self.sigma

    def step(self, a: np.ndarray, t: int) -> np.ndarray:
        self.sigma, s = fx.sigma_step(self.sigma, np.ascontiguousarray(a, np.int32))
        return s


class RFRun(NeuronRun):
    """Lava's RF / RF_IZ resonate-and-fire neurons; ``a`` is ``(2, n, T, batch)``
    (real and imaginary inputs); the membrane is both parts."""

    def __init__(self, n: Neuron, batch: int):
        super().__init__(n, batch)
        self.real, self.imag = _zeros(n, batch), _zeros(n, batch)

    def membrane(self) -> np.ndarray:
        return np.stack([self.real, self.imag])

    def run(self, a, t0: int) -> tuple[np.ndarray, np.ndarray]:
        steps, b = a.shape[-2:]
        out = np.empty(a.shape[1:], np.bool_)
        changed = np.zeros((steps, b), np.int64)
        n = self.n
        for t in range(steps):
            r, i = self.real, self.imag
            self.real, self.imag, out[:, t] = fx.rf_step(r, i, a[0, :, t], a[1, :, t], n.sin_decay, n.cos_decay,
                                                         n.vth, izhikevich=n.kind == "rf_iz")
            changed[t] = np.count_nonzero((self.real != r) | (self.imag != i), axis=0)
        return out, changed


NEURONS: dict[str, type[NeuronRun]] = {"cuba": CubaRun, "delta": DeltaRun, "sigma_delta": SigmaDeltaRun,
                                       "sigma": SigmaRun, "rf": RFRun, "rf_iz": RFRun}


def neuron_run(n: Neuron, batch: int) -> NeuronRun:
    """The run-time object of ``n`` for a batch of ``batch`` samples."""
    return NEURONS[n.kind](n, batch)
