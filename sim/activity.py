"""Activity counts per layer and timestep (the sim -> hw contract, ``spikeport-activity/1``).

Both backends count with the same function, :func:`count_chunk`, from each layer's
output events: the fast backend chunk by chunk as it streams, the Lava backend from
what RingBuffer sinks on every layer recorded.

Definitions (Contract 1): ``spikes`` = nonzero outputs of a layer's neurons (a
graded spike counts once); ``synops`` of layer ``l`` = for every event arriving at
layer ``l``'s synapse (the previous layer's outputs, or the external input for a
network whose first layer has a synapse), the number of nonzero weights its source
neuron drives in layer ``l`` (its fan-out; for conv, with the real geometry),
counted at the step the event is emitted; ``neuron_updates`` = the layer's neurons,
once per step. ``synapses`` = the layer's nonzero connections, i.e. the fan-outs
summed over its source neurons (for conv the kernel is counted once per position it
is applied at). ``membrane_updates`` = NeuroBench's count: neurons whose membrane
(a CUBA neuron's voltage after its reset; a sigma-delta neuron's accumulated input)
changed in a step, every neuron at step 0; ``graded_input``: whether any event
arriving at the layer's synapse had a value outside {-1, 0, 1} (NeuroBench then
counts its synaptic operations as MACs, else as ACs).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikeport.geometry import conv_fan_out
from spikeport.sim.network import Network, Synapse

FORMAT = "spikeport-activity/1"


@dataclass
class LayerFacts:
    """What the counts need to know of one layer. ``fanout``: nonzero weights each
    source neuron drives (summed over a complex layer's real and imaginary synapses),
    ``(n_source,)`` in the internal ``(c, y, x)`` order, or None for a layer without
    synapse; ``rec_fanout``: nonzero recurrent weights each of the layer's own neurons
    drives (``dense_rec``), or None."""

    index: int
    name: str
    kind: str
    shape: tuple
    neurons: int
    fanout: np.ndarray | None
    rec_fanout: np.ndarray | None = None

    @property
    def synapses(self) -> int:
        return sum(int(f.sum()) for f in (self.fanout, self.rec_fanout) if f is not None)


def fanout(syn: Synapse) -> np.ndarray:
    """Fan-out of every source neuron of ``syn``, ``(n_in,)`` int64, internal order."""
    if syn.kind != "conv":
        return np.count_nonzero(syn.weight, axis=0).astype(np.int64)
    x, y, c = syn.in_shape
    return conv_fan_out(syn.torch_kernel() != 0, (c, y, x), syn.stride[::-1], syn.padding[::-1],
                        syn.dilation[::-1], syn.groups).reshape(-1)


def layer_facts(net: Network) -> list[LayerFacts]:
    """:class:`LayerFacts` of every layer of ``net``, in netx order."""
    facts = []
    for l in net.layers:
        ff = None if l.synapse is None else sum(fanout(s) for s in (l.synapse, l.imag) if s is not None)
        rec = None if l.recurrent is None else fanout(l.recurrent)
        facts.append(LayerFacts(l.index, l.name, l.kind, tuple(int(s) for s in l.neuron.shape), l.neuron.size,
                                ff, rec))
    return facts


def count_chunk(facts: list[LayerFacts], trains: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spikes and synops of a chunk of steps.

    ``trains``: ``[input, layer 0, layer 1, ...]`` events, each ``(n, T, batch)`` in
    internal order (``input`` is the external input, as a network's first synapse
    receives it). Returns ``(spikes, synops, graded)``: int64 ``(layers, T, batch)``
    twice, and per layer whether an event into its synapse was outside {-1, 0, 1}.
    """
    steps, b = trains[0].shape[1:]
    spikes = np.zeros((len(facts), steps, b), np.int64)
    synops = np.zeros_like(spikes)
    graded = np.zeros(len(facts), np.bool_)
    for i, f in enumerate(facts):
        spikes[i] = np.count_nonzero(trains[i + 1], axis=0)
        if f.fanout is not None:
            src = trains[i]
            graded[i] = src.dtype != np.bool_ and bool(np.any(np.abs(src) > 1))
            synops[i] = _synops(f.fanout, src, steps, b)
        if f.rec_fanout is not None:
            synops[i] += _synops(f.rec_fanout, trains[i + 1], steps, b)
    return spikes, synops, graded


def _synops(fan: np.ndarray, events: np.ndarray, steps: int, b: int) -> np.ndarray:
    """Events ``(n, T, batch)`` times each source's fan-out, per step and sample."""
    src = events.reshape(len(fan), steps * b) != 0
    # float64 holds these sums exactly (each below 2**53)
    return np.rint(fan.astype(np.float64) @ src).astype(np.int64).reshape(steps, b)


class Activity:
    """Counts of ``samples`` inferences of ``steps`` steps each: per layer, per step
    (summed over samples) and per sample (summed over steps). Membrane updates are
    None where the backend did not record the neurons' state."""

    def __init__(self, facts: list[LayerFacts], steps: int, samples: int, membrane: bool = True):
        self.facts = facts
        self.steps = int(steps)
        self.samples = int(samples)
        n = len(facts)
        self.spikes_step = np.zeros((n, self.steps), np.int64)
        self.synops_step = np.zeros((n, self.steps), np.int64)
        self.spikes_sample = np.zeros((n, self.samples), np.int64)
        self.synops_sample = np.zeros((n, self.samples), np.int64)
        self.membrane_step = np.zeros((n, self.steps), np.int64) if membrane else None
        self.membrane_sample = np.zeros((n, self.samples), np.int64) if membrane else None
        self.graded_input = np.zeros(n, np.bool_)

    def add(self, t0: int, trains: list[np.ndarray], sample0: int = 0, changed: list[np.ndarray] | None = None
            ) -> None:
        """Count a chunk of steps starting at step ``t0`` for samples ``sample0 ...``
        (``trains`` as :func:`count_chunk` takes them; ``changed``: per layer the
        membrane changes ``(T, batch)`` of the chunk, see :func:`spikeport.sim.fast.stream`)."""
        spikes, synops, graded = count_chunk(self.facts, trains)
        steps, b = spikes.shape[1:]
        self.graded_input |= graded
        self.spikes_step[:, t0:t0 + steps] += spikes.sum(axis=2)
        self.synops_step[:, t0:t0 + steps] += synops.sum(axis=2)
        self.spikes_sample[:, sample0:sample0 + b] += spikes.sum(axis=1)
        self.synops_sample[:, sample0:sample0 + b] += synops.sum(axis=1)
        if self.membrane_step is not None:
            if changed is None:
                raise ValueError("membrane changes missing for an activity that counts them")
            ch = np.stack(changed)
            self.membrane_step[:, t0:t0 + steps] += ch.sum(axis=2)
            self.membrane_sample[:, sample0:sample0 + b] += ch.sum(axis=1)

    def merge(self, other: "Activity") -> "Activity":
        """Counts of both runs together (the same network and steps); a new object."""
        if other.steps != self.steps or len(other.facts) != len(self.facts):
            raise ValueError("activity of different networks or step counts cannot be merged")
        both = self.membrane_step is not None and other.membrane_step is not None
        m = Activity(self.facts, self.steps, self.samples + other.samples, membrane=both)
        m.spikes_step = self.spikes_step + other.spikes_step
        m.synops_step = self.synops_step + other.synops_step
        m.spikes_sample = np.concatenate([self.spikes_sample, other.spikes_sample], axis=1)
        m.synops_sample = np.concatenate([self.synops_sample, other.synops_sample], axis=1)
        m.graded_input = self.graded_input | other.graded_input
        if both:
            m.membrane_step = self.membrane_step + other.membrane_step
            m.membrane_sample = np.concatenate([self.membrane_sample, other.membrane_sample], axis=1)
        return m

    def neuron_updates_step(self, i: int) -> np.ndarray:
        return np.full(self.steps, self.facts[i].neurons * self.samples, np.int64)

    def neuron_updates_sample(self, i: int) -> np.ndarray:
        return np.full(self.samples, self.facts[i].neurons * self.steps, np.int64)


def membrane_changes(states: list[np.ndarray]) -> np.ndarray:
    """Membrane updates per step of one sample from its recorded membrane variables,
    each ``(T, neurons)`` (the value after each step; a resonate-and-fire neuron has
    two): every neuron at step 0, then the neurons any of whose variables differs from
    the step before. int64 ``(T,)``."""
    st = np.stack([np.asarray(s) for s in states])               # (vars, T, n)
    out = np.empty(st.shape[1], np.int64)
    out[0] = st.shape[2]
    out[1:] = np.count_nonzero((st[:, 1:] != st[:, :-1]).any(axis=0), axis=1)
    return out


def _counts(per_step: np.ndarray, per_sample: np.ndarray) -> dict:
    return {"per_step": [int(v) for v in per_step], "per_sample": [int(v) for v in per_sample]}


def activity_json(activity: Activity, network: str, backend: str) -> dict:
    """The Contract-1 ``spikeport-activity/1`` object of ``activity``.

    Layer ``shape`` is in netx order (``(x, y, c)`` for convolution layers), as the
    simulator's arrays are; ``name`` is the layer's HDF5 group (``layer<i>``)."""
    layers = []
    for i, f in enumerate(activity.facts):
        entry = {
            "index": int(f.index), "name": f.name, "kind": f.kind, "shape": [int(s) for s in f.shape],
            "neurons": int(f.neurons), "synapses": f.synapses, "graded_input": bool(activity.graded_input[i]),
            "spikes": _counts(activity.spikes_step[i], activity.spikes_sample[i]),
            "synops": _counts(activity.synops_step[i], activity.synops_sample[i]),
            "neuron_updates": _counts(activity.neuron_updates_step(i), activity.neuron_updates_sample(i)),
        }
        if activity.membrane_step is not None:
            entry["membrane_updates"] = _counts(activity.membrane_step[i], activity.membrane_sample[i])
        layers.append(entry)
    return {"format": FORMAT, "network": str(network), "backend": backend, "samples": activity.samples,
            "steps": activity.steps, "layers": layers}
