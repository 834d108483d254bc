"""Run a netx HDF5 network in Lava's CPU simulator (``Loihi2SimCfg(select_tag='fixed_pt')``).

This is the reference backend: what it records is what Lava's bit-accurate process
models compute. Input arrays are shaped as netx's input expects, ``(neurons..., T)``;
recorded spikes come back the same way, exactly as a RingBuffer source -> network ->
RingBuffer sink run of ``T`` steps records them (no shifting).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from spikeport.lava_compat import import_slayer, prepare_lava_import


def _imports():
    prepare_lava_import()
    import_slayer()  # netx imports slayer; keep its import-time notices quiet
    from lava.lib.dl import netx
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc import io

    return netx, io, RunSteps, Loihi2SimCfg


def load_netx(net_path: str | os.PathLike, **netx_options):
    """Build the Lava process network described by a netx HDF5 file."""
    netx = _imports()[0]
    return netx.hdf5.Network(net_config=str(Path(net_path)), **netx_options)


def input_port(net):
    """Where external input enters: an input layer with neurons takes it at its
    neurons' ``a_in``; a network that starts with a synapse at ``net.inp``."""
    if type(net.in_layer).__name__ == "Input":
        return net.in_layer.neuron.a_in
    return net.inp


def run_lava(
    net_path: str | os.PathLike,
    spikes: np.ndarray,
    steps: int | None = None,
    all_layers: bool = False,
):
    """Run ``spikes`` ``(inputs..., T)`` through the netx network at ``net_path``.

    The input enters where :func:`input_port` says. Returns the output layer's spikes
    ``(outputs..., steps)``, or with ``all_layers`` a list holding every layer's
    spikes in order (the output layer last).
    """
    netx, io, RunSteps, Loihi2SimCfg = _imports()
    spikes = np.asarray(spikes)
    steps = spikes.shape[-1] if steps is None else int(steps)
    net = load_netx(net_path)
    source = io.source.RingBuffer(data=spikes)
    source.s_out.connect(input_port(net))
    layers = net.layers if all_layers else [net.layers[-1]]
    sinks = []
    for layer in layers:
        sink = io.sink.RingBuffer(shape=layer.out.shape, buffer=steps)
        layer.out.connect(sink.a_in)
        sinks.append(sink)
    try:
        net.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        out = [s.data.get() for s in sinks]
    finally:
        net.stop()
    return out if all_layers else out[0]
