"""The fast backend: Lava's fixed_pt process models as batched, vectorised integer
arithmetic, without Lava.

:func:`load_network` reads the netx file with h5py and NumPy
(:mod:`spikeport.sim.netx_reader`, equal field by field to what netx builds);
:mod:`spikeport.sim.engine` runs it, chunk by chunk of steps, with one class per
synapse kind (:mod:`spikeport.sim.synapses`) and per neuron kind
(:mod:`spikeport.sim.neurons`); the integer arithmetic itself is
:mod:`spikeport.fixed_point`.

Timing, as Lava's message passing: a synapse sends at step ``t`` what it
accumulated from its input at step ``t - 1 - d`` (``d``: axonal delay, 0 without),
and neurons integrate what arrives in the same step, so each synapse adds
``1 + d`` steps of latency; an input layer's neurons integrate the external input
of the same step.
"""
from __future__ import annotations

import os

from spikeport.sim.network import Network
from spikeport.sim.netx_reader import read_network


def load_network(net_path: str | os.PathLike, **netx_options) -> Network:
    """Read a netx HDF5 network for the fast backend (``netx_options``, e.g.
    ``num_layers``, as netx's ``Network`` takes them). Raises :class:`SpikeportError`
    for a bad file or a layer the fast backend does not run, naming the file and layer."""
    from spikeport.sim.netx_file import SIM_TYPES, scan_network

    scan_network(net_path, backend="fast", num_layers=netx_options.get("num_layers"), supported=SIM_TYPES)
    return read_network(net_path, **netx_options)
