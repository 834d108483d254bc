"""The fast backend's engine: a network's layers run chunk by chunk of timesteps.

Per chunk, each synapse is one product (or convolution) over all the chunk's steps
and samples (:mod:`spikeport.sim.synapses`); only the neuron recurrences step
through time, vectorised over samples and neurons (:mod:`spikeport.sim.neurons`).
A ``dense_rec`` layer steps its neurons and its recurrent synapse together: its
spikes of step ``t`` arrive back at step ``t + 1``, as through Lava's Dense. Memory
is bounded by the chunk, whatever ``T``.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from spikeport.sim.layout import to_internal
from spikeport.sim.network import Layer, Network
from spikeport.sim.neurons import neuron_run
from spikeport.sim.synapses import synapse_run


class LayerRun:
    """One layer for one run: its synapses (feed-forward, imaginary, recurrent) and neurons."""

    def __init__(self, layer: Layer, batch: int):
        self.layer = layer
        self.syn = None if layer.synapse is None else synapse_run(layer.synapse, batch)
        self.imag = None if layer.imag is None else synapse_run(layer.imag, batch)
        self.rec = None if layer.recurrent is None else synapse_run(layer.recurrent, batch)
        self.neu = neuron_run(layer.neuron, batch)

    def run(self, s: np.ndarray, t0: int) -> tuple[np.ndarray, np.ndarray]:
        """The layer's events and membrane changes for the input events ``s`` of a chunk."""
        a = s if self.syn is None else self.syn.drive(s)
        if self.imag is not None:
            return self.neu.run(np.stack([a, self.imag.drive(s)]), t0)
        if self.rec is None:
            return self.neu.run(a, t0)
        return self._recurrent(a, t0)

    def _recurrent(self, a: np.ndarray, t0: int) -> tuple[np.ndarray, np.ndarray]:
        steps, b = a.shape[1:]
        out = np.empty(a.shape, np.bool_)
        changed = np.zeros((steps, b), np.int64)
        for t in range(steps):
            before = self.neu.membrane().copy()
            out[:, t] = self.neu.step(a[:, t] + self.rec.pending[:, 0], t0 + t)
            changed[t] = np.count_nonzero(self.neu.membrane() != before, axis=0)
            self.rec.drive(out[:, t:t + 1])          # W_rec s(t), sent at t + 1
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
    runs = [LayerRun(l, b) for l in net.layers]
    for t0 in range(0, steps, chunk):
        t1 = min(steps, t0 + chunk)
        s = to_internal(x if (t0 == 0 and t1 == t_in) else x[..., np.arange(t0, t1) % t_in])
        trains, changed = [s], []
        for run in runs:
            s, ch = run.run(s, t0)
            if t0 == 0:
                ch[0] = run.layer.neuron.size
            trains.append(s)
            changed.append(ch)
        yield t0, trains, changed
