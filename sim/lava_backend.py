"""Run a netx HDF5 network in Lava's CPU simulator (``Loihi2SimCfg(select_tag='fixed_pt')``).

This is the reference backend: what it records is what Lava's bit-accurate process
models compute. Input arrays are shaped as netx's input expects, ``(neurons..., T)``;
recorded spikes come back the same way, exactly as a RingBuffer source -> network ->
RingBuffer sink run of ``T`` steps records them (no shifting).
"""
from __future__ import annotations

import os
from typing import Callable

import numpy as np

from spikeport.errors import SpikeportError
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
    """Build the Lava process network described by a netx HDF5 file (pool layers
    as the grouped convolutions they are on Loihi: :mod:`spikeport.sim.lowering`).

    netx's own failures (a shape it cannot infer, a bias it cannot broadcast, a
    field missing from a layer) become one-line :class:`SpikeportError` s naming the file.
    """
    from spikeport.sim.lowering import netx_loadable

    netx = _imports()[0]
    try:
        with netx_loadable(net_path) as path:
            return netx.hdf5.Network(net_config=str(path), **netx_options)
    except SpikeportError:
        raise
    except NotImplementedError as e:
        raise SpikeportError(f"{net_path}: netx cannot build this network ({e or 'not implemented'})") from None
    except (RuntimeError, ValueError, KeyError, TypeError, OSError, IndexError, AssertionError) as e:
        msg = " ".join(str(e).split()) or type(e).__name__
        raise SpikeportError(f"{net_path}: netx cannot build this network ({type(e).__name__}: {msg})") from None


def input_port(net):
    """Where external input enters: an input layer with neurons takes it at its
    neurons' ``a_in``; a network that starts with a synapse at ``net.inp``."""
    if type(net.in_layer).__name__ == "Input":
        return net.in_layer.neuron.a_in
    return net.inp


# The neuron state NeuroBench calls the membrane, per Lava neuron process (see
# spikeport.sim.neurons: each class's membrane() holds the same variables).
MEMBRANE_VAR = {"LIF": ("v",), "LIFReset": ("v",), "Delta": ("act",), "SigmaDelta": ("sigma",),
                "Sigma": ("sigma",), "RF": ("real", "imag"), "RF_IZ": ("real", "imag")}


def run_lava(
    net_path: str | os.PathLike,
    spikes: np.ndarray,
    steps: int | None = None,
    all_layers: bool = False,
    checked: bool = False,
    membranes: bool = False,
    watch: bool = False,
    **netx_options,
):
    """Run ``spikes`` ``(inputs..., T)`` through the netx network at ``net_path``.

    The input enters where :func:`input_port` says; beyond ``T`` steps it repeats
    (a RingBuffer source). Returns the output layer's spikes ``(outputs..., steps)``
    (float, as Lava's sink gives them), or with ``all_layers`` a list holding every
    layer's in order (the output layer last). With ``membranes`` it returns
    ``(spikes, states)`` where ``states[i]`` lists layer ``i``'s membrane variables
    (:data:`MEMBRANE_VAR`) after every step, each ``(steps, neurons)``, read by Lava
    monitors. ``netx_options`` (e.g. ``num_layers``) go to netx's loader. Unless
    ``checked`` (the caller validated file and input), the file is checked first and
    the input must fit the network's input port.
    """
    netx, io, RunSteps, Loihi2SimCfg = _imports()
    spikes = np.asarray(spikes)
    if not checked:
        from spikeport.sim.netx_file import scan_network
        from spikeport.sim.inputs import check_input

        scan_network(net_path, backend="lava", num_layers=netx_options.get("num_layers"))
    net = load_netx(net_path, **netx_options)
    if not checked:
        spikes = check_input(spikes, tuple(int(s) for s in input_port(net).shape))[0][0]
    steps = spikes.shape[-1] if steps is None else int(steps)
    source = io.source.RingBuffer(data=spikes)
    source.s_out.connect(input_port(net))
    layers = net.layers if all_layers else [net.layers[-1]]
    sinks = []
    for layer in layers:
        sink = io.sink.RingBuffer(shape=layer.out.shape, buffer=steps)
        layer.out.connect(sink.a_in)
        sinks.append(sink)
    monitors = _monitors(net.layers, steps) if membranes else []
    stop_watching = watch_workers(net) if watch else (lambda: None)
    try:
        net.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        out = [s.data.get() for s in sinks]
        states = [[np.asarray(m.get_data()[proc.name][var]).reshape(steps, -1) for m, var in probes]
                  for proc, probes in monitors]
    finally:
        stop_watching()          # before net.stop(): its joins read the same worker pipes
        net.stop()
    got = out if all_layers else out[0]
    return (got, states) if membranes else got


def watch_workers(net, period_s: float = 0.3) -> Callable[[], None]:
    """Start a daemon thread that reports the first exception of a Lava worker on stderr;
    returns ``stop()``, which ends it and waits until it no longer reads a worker's pipe.

    A worker's exception arrives on a pipe that Lava's own ``join`` reads too (in
    ``net.stop()`` and in its error path). Two threads reading one
    ``multiprocessing`` pipe can split a message between them (``EOFError: Ran out
    of input``, or a ``recv`` that waits forever), so every read here holds a lock
    that ``stop()`` takes before it returns; reads after that are Lava's alone.
    """
    import sys
    import threading

    lock, stopped = threading.Lock(), threading.Event()

    def first_error():
        rt = getattr(net, "_runtime", None)
        infra = getattr(rt, "_messaging_infrastructure", None) if rt is not None else None
        for actor in list(getattr(infra, "actors", []) or []):
            try:
                exc = actor.exception
            except (OSError, EOFError, ValueError):
                continue
            if exc:
                return str(exc[1]) if len(exc) > 1 else f"Traceback (most recent call last)\n{exc[0]}"
        return None

    def poll():
        while not stopped.wait(period_s):
            with lock:
                if stopped.is_set():
                    return
                error = first_error()
            if error:
                sys.stderr.write(error + "\n")
                sys.stderr.flush()
                return

    def stop():
        with lock:
            stopped.set()

    threading.Thread(target=poll, daemon=True).start()
    return stop


def _monitors(layers, steps: int) -> list:
    """Lava monitors on each layer's membrane variables: ``[(process, [(monitor, var)])]``
    (one monitor per variable: a Lava monitor records one)."""
    from lava.proc.monitor.process import Monitor

    found = []
    for layer in layers:
        proc = layer.neuron
        names = MEMBRANE_VAR.get(type(proc).__name__)
        if names is None:
            raise SpikeportError(f"no membrane variable known for Lava process {type(proc).__name__}")
        probes = []
        for var in names:
            m = Monitor()
            m.probe(getattr(proc, var), steps)
            probes.append((m, var))
        found.append((proc, probes))
    return found
