"""``simulate``: one entry point for every backend (fast, Lava fixed_pt, Loihi 2).

.. code-block:: python

    from spikeport.sim import simulate, activity_json
    res = simulate("model.net", x, backend="fast", counts=True)   # x: (batch, inputs..., T)
    res.output            # (batch, outputs..., T) int32, what a RingBuffer sink records
    res.counts            # Contract-1 dict (spikeport-activity/1)
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spikeport.errors import SpikeportError
from spikeport.sim.activity import Activity, activity_json, layer_facts, membrane_changes
from spikeport.sim.engine import chunk_steps, stream
from spikeport.sim.fast import load_network
from spikeport.sim.inputs import check_input
from spikeport.sim.layout import to_internal, to_netx
from spikeport.sim.network import Layer, Network
from spikeport.sim.netx_file import SIM_TYPES, scan_network
from spikeport.sim.readout import average, average_layer

BACKENDS = ("fast", "lava", "loihi")


@dataclass
class SimResult:
    """What a simulation produced.

    ``output``: the output layer's events ``(batch, outputs..., steps)`` int32 (0/1
    spikes, or graded values for sigma-delta layers), exactly as a RingBuffer sink
    records them (no shift); ``layers``: every layer's, when recorded; ``activity``:
    the counts, when asked for (:attr:`counts` gives them as Contract-1 JSON);
    ``latency``: steps from an input to its earliest possible effect at the output.
    A network that ends with an ``average`` readout (:mod:`spikeport.sim.readout`)
    has ``output`` float32 ``(batch, groups, steps)``, the group means, and
    ``readout_input`` the spikes they were taken from.
    """

    output: np.ndarray
    layers: list[np.ndarray] | None
    activity: Activity | None
    latency: int
    backend: str
    steps: int
    network: str
    batched: bool = True       # whether the input came as (batch, inputs..., T)
    readout: str | None = None
    readout_input: np.ndarray | None = None

    @property
    def counts(self) -> dict | None:
        """Contract-1 ``spikeport-activity/1`` dict, or None without counts."""
        if self.activity is None:
            return None
        return activity_json(self.activity, self.network, self.backend)


def _as_network(net, netx_options) -> Network:
    if isinstance(net, Network):
        return net
    if isinstance(net, (list, tuple)) and net and isinstance(net[0], Layer):
        first = net[0]
        shape = first.neuron.shape if first.synapse is None else first.synapse.in_shape
        return Network("", list(net), tuple(shape))
    return load_network(net, **netx_options)


def _simulate_fast(net: Network, x: np.ndarray, steps: int, counts: bool, record: str, progress: bool,
                   chunk: int | None) -> SimResult:
    from tqdm.auto import tqdm

    b = x.shape[0]
    out = np.zeros((b,) + tuple(net.output_shape) + (steps,), np.int32)
    rec = [np.zeros((b,) + tuple(l.neuron.shape) + (steps,), np.int32) for l in net] if record == "all" else None
    act = Activity(layer_facts(net), steps, b) if counts else None
    chunk = chunk or chunk_steps(b, net)
    with tqdm(total=steps, desc="fast sim", unit="step", disable=None if progress else True) as bar:
        for t0, trains, changed in stream(net, x, steps, chunk):
            tc = trains[0].shape[1]
            if rec is not None:
                for i, layer in enumerate(net.layers):
                    rec[i][..., t0:t0 + tc] = to_netx(trains[i + 1], layer.neuron.shape)
            out[..., t0:t0 + tc] = to_netx(trains[-1], net.output_shape)
            if act is not None:
                act.add(t0, trains, changed=changed)
            bar.update(tc)
    return SimResult(out, rec, act, net.latency, "fast", steps, net.path)


def _simulate_lava(path: str, x: np.ndarray, steps: int, counts: bool, record: str, progress: bool,
                   netx_options: dict) -> SimResult:
    desc = None
    if counts:
        try:
            desc = load_network(path, **netx_options)       # fan-outs and kinds for the counts
        except SpikeportError as e:
            raise SpikeportError(f"activity counts: {e}") from None
    all_layers = counts or record == "all"
    b = x.shape[0]
    act = Activity(layer_facts(desc), steps, b) if counts else None
    outs, recs = [], []
    for k, (layers, states) in enumerate(_lava_samples(path, x, steps, all_layers, counts, progress, netx_options)):
        outs.append(layers[-1])
        if record == "all":
            recs.append(layers)
        if act is not None:
            xin = x[k][..., np.arange(steps) % x.shape[-1]]
            trains = [to_internal(xin[None])] + [to_internal(s[None]) for s in layers]
            act.add(0, trains, sample0=k, changed=[membrane_changes(st)[:, None] for st in states])
    rec = [np.stack([r[i] for r in recs]) for i in range(len(recs[0]))] if record == "all" else None
    latency = desc.latency if desc is not None else _lava_latency(path, netx_options)
    return SimResult(np.stack(outs), rec, act, latency, "lava", steps, str(path))


def _lava_samples(path: str, x: np.ndarray, steps: int, all_layers: bool, membranes: bool, progress: bool,
                  netx_options: dict) -> list[tuple[list[np.ndarray], list[list[np.ndarray]]]]:
    """Each sample of ``x`` through Lava, under the watchdog (:mod:`spikeport.sim.lava_watchdog`):
    per sample the recorded layers (int32) and, with ``membranes``, their membrane variables."""
    import shutil

    from tqdm.auto import tqdm

    import spikeport.sim.lava_watchdog as wd
    from spikeport.sim.lava_backend import run_lava

    def work(job, report):
        for k in range(len(x)):
            got = run_lava(path, x[k], steps=steps, all_layers=all_layers, checked=True, membranes=membranes,
                           watch=True, **netx_options)
            got, states = got if membranes else (got, [])
            layers = [np.rint(g).astype(np.int32) for g in (got if all_layers else [got])]
            wd.save_arrays(job, f"s{k}_layer", layers)
            for i, st in enumerate(states):
                wd.save_arrays(job, f"s{k}_state{i}_", st)
            report(k)

    with tqdm(total=len(x), desc="Lava fixed_pt", unit="sample", disable=None if progress else True) as bar:
        job = wd.supervised(work, len(x), steps, str(path), on_progress=bar.update)
    try:
        n_layers = len(list(job.glob("s0_layer*.npy")))
        out = []
        for k in range(len(x)):
            layers = wd.load_arrays(job, f"s{k}_layer", n_layers)
            states = [wd.load_arrays(job, f"s{k}_state{i}_", len(list(job.glob(f"s{k}_state{i}_*.npy"))))
                      for i in range(n_layers if membranes else 0)]
            out.append((layers, states))
        return out
    finally:
        shutil.rmtree(job, ignore_errors=True)


def _lava_latency(path, netx_options) -> int:
    try:
        return load_network(path, **netx_options).latency
    except SpikeportError:
        return -1      # a network only Lava runs (recurrent, complex): latency not derived


def simulate(net: str | os.PathLike | Network, x: np.ndarray, *, backend: str = "fast",
             steps: int | None = None, counts: bool = False, record: str = "output",
             progress: bool = False, chunk: int | None = None, input_name: str = "input",
             **netx_options) -> SimResult:
    """Run a batch through a netx network.

    ``net``: a netx HDF5 path (any backend) or a :class:`~spikeport.sim.fast.Network`
    from :func:`~spikeport.sim.load_network` (fast backend). ``x``: ``(batch,
    inputs..., T)`` (or one sample ``(inputs..., T)``) in netx order, as netx's input
    takes it: the input layer's neurons' ``a_in`` (integer currents) when the network
    starts with an input layer that has neurons, else spikes into the first synapse
    (any nonzero value is a spike unless ``input_message_bits`` is set). ``steps``:
    timesteps to run (default ``T``; the input repeats beyond ``T``, as a RingBuffer
    source does). ``counts``: count activity (:class:`~spikeport.sim.activity.Activity`).
    ``record``: ``"output"`` or ``"all"`` (every layer's events in
    :attr:`SimResult.layers`). ``chunk``: fast backend steps per chunk (default: a
    memory budget). ``netx_options`` (e.g. ``num_layers``) go to netx's loader. A
    final ``average`` layer is applied on the host (see :class:`SimResult`).
    Bad input raises :class:`SpikeportError` naming ``input_name``.
    """
    if backend not in BACKENDS:
        raise SpikeportError(f"unknown backend {backend!r} (known: {', '.join(BACKENDS)})")
    if record not in ("output", "all"):
        raise SpikeportError(f"record must be 'output' or 'all', not {record!r}")
    if steps is not None and int(steps) < 1:
        raise SpikeportError(f"steps must be at least 1, not {steps}")
    readout = None
    if isinstance(net, (str, os.PathLike)):
        readout = average_layer(net, scan_network(net, backend=backend, num_layers=netx_options.get("num_layers"),
                                                  supported=SIM_TYPES + ("average",)),
                                netx_options.get("num_layers"))
        if readout is not None:  # run the layers before it, then average on the host
            netx_options = {**netx_options, "num_layers": readout[0]}
    res = _simulate(net, x, backend, steps, counts, record, progress, chunk, input_name, netx_options)
    if readout is not None:
        res.readout_input = res.output
        res.output = average(res.output, readout[1], f"{net}: layer {readout[0]} (average)")
        res.readout = f"average of {readout[1]} groups"
    return res


def check_result_memory(net: Network, x: np.ndarray, steps: int | None, record: str, counts: bool,
                        backend: str) -> None:
    """Refuse, before anything is allocated, a run whose input copy and recorded events
    ``(batch, neurons, steps)`` int32 would not fit in memory (:mod:`spikeport.memory`)."""
    from spikeport.memory import check_memory

    batch = x.shape[0] if x.ndim == len(net.input_shape) + 2 else 1
    steps = int(steps or (x.shape[-1] if x.ndim else 1))
    sizes = [int(np.prod(l.neuron.shape)) for l in net]
    kept = sum(sizes) if record == "all" or (counts and backend != "fast") else sizes[-1]
    if counts and backend != "fast":
        kept += sum(sizes)          # Lava's membrane records, per sample
    need = 4.0 * x.size + 4.0 * batch * steps * kept
    check_memory(need, f"{net.path or 'the network'}: {steps} steps of {batch} sample(s)",
                 "use fewer --steps or a smaller batch")


def _simulate(net, x, backend, steps, counts, record, progress, chunk, input_name, netx_options) -> SimResult:
    if backend == "fast":
        network = _as_network(net, netx_options)
        check_result_memory(network, np.asarray(x) if not hasattr(x, "shape") else x, steps, record, counts, backend)
        xb, batched = check_input(x, network.input_shape, input_name, network.path or "the network")
        res = _simulate_fast(network, xb, int(steps or xb.shape[-1]), counts, record, progress, chunk)
        res.batched = batched
        return res
    if isinstance(net, Network):
        if not net.path:
            raise SpikeportError(f"the {backend} backend needs the network's file path")
        netx_options = {**net.options, **netx_options}
        net = net.path
    path = str(Path(net))
    from spikeport.sim.netx_reader import read_network

    described = read_network(path, **netx_options)     # its input port, without importing Lava here
    check_result_memory(described, np.asarray(x) if not hasattr(x, "shape") else x, steps, record, counts, backend)
    xb, batched = check_input(x, described.input_shape, input_name, path)
    steps = int(steps or xb.shape[-1])
    if backend == "loihi":
        from spikeport.sim.loihi_backend import run_loihi

        if counts or record == "all":
            raise SpikeportError("activity counts and per-layer records come from the simulators: use "
                                 "--backend fast or lava for them")
        out = np.stack([np.rint(run_loihi(path, xb[k], steps, **netx_options)).astype(np.int32)
                        for k in range(xb.shape[0])])
        return SimResult(out, None, None, _lava_latency(path, netx_options), "loihi", steps, path, batched)
    res = _simulate_lava(path, xb, steps, counts, record, progress, netx_options)
    res.batched = batched
    return res


def run_fast_batch(net: str | os.PathLike | Network | list[Layer], x: np.ndarray, all_layers: bool = False):
    """Run a batch ``x`` ``(batch, inputs..., T)``; returns the output layer's spikes
    ``(batch, outputs..., T)`` (int32), or with ``all_layers`` every layer's."""
    res = simulate(net, x, backend="fast", record="all" if all_layers else "output")
    return res.layers if all_layers else res.output


def run_fast(net: str | os.PathLike | Network | list[Layer], x: np.ndarray, all_layers: bool = False):
    """Run one input ``(inputs..., T)``; returns ``(outputs..., T)`` like
    :func:`spikeport.sim.run_lava` (or every layer's spikes with ``all_layers``)."""
    res = run_fast_batch(net, np.asarray(x)[None], all_layers=all_layers)
    return [r[0] for r in res] if all_layers else res[0]
