"""Activity counts in the sim -> hw contract (``spikeport-activity/1``): reading,
validating, and computing them from spike arrays.

:func:`activity_from_spikes` is the adapter from per-layer spike arrays (as the fast
backend returns them) to the contract's counts, with each synapse's fan-out read from
the netx file (:mod:`spikeport.hw.topology`); the sim stage's own counting API can
replace it (:func:`count_activity` is the one place that calls it).

Counting rules (the contract's): ``spikes`` = nonzero outputs (a graded spike counts
once); ``synops`` of layer l = for every event arriving at layer l's synapse (the
previous layer's spikes, or the external input for a network whose first layer has a
synapse), the number of nonzero weights its source neuron drives in layer l, counted
at the step the event is emitted; ``neuron_updates`` = neurons x 1 per step.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from spikeport.errors import SpikeportError
from spikeport.hw.topology import NETX_CANNOT_LOAD, LayerTopology, compute_layers, read_topology

FORMAT = "spikeport-activity/1"
COUNTS = ("spikes", "synops", "neuron_updates")


def _file_order(a: np.ndarray, netx_shape: tuple[int, ...], steps: int) -> np.ndarray:
    """Events ``(batch, n, T)`` (bool) of an array ``(batch, neurons..., T)`` in netx
    layout, neurons flattened in the file's ``(C, H, W)`` order (netx's axes reversed),
    the order of :attr:`LayerTopology.fanout`."""
    b = a.shape[0]
    a = np.asarray(a).reshape((b,) + tuple(netx_shape) + (steps,))
    nd = len(netx_shape)
    a = a.transpose((0,) + tuple(range(nd, 0, -1)) + (nd + 1,))
    return (a != 0).reshape(b, -1, steps)


def empty_activity(layers: list[LayerTopology], steps: int, network: str = "", backend: str = "fast") -> dict:
    """A Contract-1 dict with zero samples for the compute ``layers`` of a network."""
    out = []
    for i, l in enumerate(layers):
        entry = {"index": i, "name": l.name, "kind": l.kind, "shape": list(l.netx_shape), "neurons": l.neurons,
                 "synapses": l.synapses}
        for c in COUNTS:
            entry[c] = {"per_step": [0] * steps, "per_sample": []}
        out.append(entry)
    return {"format": FORMAT, "network": str(network), "backend": backend, "samples": 0, "steps": int(steps),
            "layers": out}


def activity_from_spikes(layers: list[LayerTopology], x: np.ndarray, spikes: list[np.ndarray], network: str = "",
                         backend: str = "fast", into: dict | None = None) -> dict:
    """Contract-1 counts of one batch (the adapter from spike arrays to counts).

    ``layers``: the network's compute layers (:func:`~spikeport.hw.topology.read_topology`
    then :func:`~spikeport.hw.topology.compute_layers`); ``x``: the input batch
    ``(batch, inputs..., T)`` in netx's input layout; ``spikes``: every compute layer's
    outputs ``(batch, neurons..., T)`` in netx layout, as
    ``spikeport.sim.run_fast_batch(..., all_layers=True)`` returns them. With ``into``
    (from an earlier call or :func:`empty_activity`) this batch's counts are appended
    to it and it is returned.
    """
    x = np.asarray(x)
    b, steps = x.shape[0], x.shape[-1]
    if len(spikes) != len(layers):
        raise SpikeportError(f"{len(spikes)} spike arrays for a network of {len(layers)} layers with neurons")
    act = into if into is not None else empty_activity(layers, steps, network, backend)
    if act["steps"] != steps:
        raise SpikeportError(f"batch has {steps} steps, the counts so far {act['steps']}")
    act["samples"] += b
    for i, (layer, s) in enumerate(zip(layers, spikes)):
        s = np.asarray(s)
        if s.size != b * layer.neurons * steps:
            raise SpikeportError(f"{layer.name}: spike array {tuple(s.shape)} does not hold {b} x {layer.neurons} "
                                 f"neurons x {steps} steps")
        sp = np.count_nonzero(s.reshape(b, layer.neurons, steps), axis=1)         # (b, T)
        if layer.fanout is None:
            syn = np.zeros((b, steps), np.int64)
        else:
            src = x if i == 0 else np.asarray(spikes[i - 1])
            if i == 0 and layer.kind != "conv":
                netx_shape = (layer.fanout.size,)   # a dense input port takes the weight columns' order
            else:
                netx_shape = tuple(reversed(layer.source_shape or (layer.fanout.size,)))
            if src.size != b * layer.fanout.size * steps:
                raise SpikeportError(f"{layer.name}: {src.size // max(b * steps, 1)} source neurons, the synapse "
                                     f"has {layer.fanout.size} inputs")
            ev = _file_order(src, netx_shape, steps)
            syn = np.einsum("bst,s->bt", ev.astype(np.int64), layer.fanout)
        upd = np.full((b, steps), layer.neurons, np.int64)
        entry = act["layers"][i]
        for name, arr in (("spikes", sp), ("synops", syn), ("neuron_updates", upd)):
            c = entry[name]
            c["per_step"] = [int(a + v) for a, v in zip(c["per_step"], arr.sum(axis=0))]
            c["per_sample"] += [int(v) for v in arr.sum(axis=1)]
    return act


def input_batch(x: np.ndarray, in_size: int) -> np.ndarray:
    """``x`` as a batch ``(batch, inputs..., T)``: an array ``(inputs..., T)`` whose
    inputs hold ``in_size`` values is one sample; ``(batch, inputs..., T)`` is a batch."""
    x = np.asarray(x)
    if x.ndim >= 2 and int(np.prod(x.shape[:-1])) == in_size:
        return x[None]
    if x.ndim >= 3 and int(np.prod(x.shape[1:-1])) == in_size:
        return x
    raise SpikeportError(f"shape {tuple(x.shape)} is neither (inputs..., T) nor (batch, inputs..., T) "
                         f"for a network with {in_size} inputs")


def netx_input_shape(layers: list[LayerTopology]) -> tuple[int, ...]:
    """The network's input shape in netx layout (what ``run_fast``/``run_lava`` take)."""
    first = layers[0]
    if first.kind == "input":
        return first.netx_shape
    if first.kind == "conv":
        return tuple(reversed(first.in_shape))
    return (first.in_neurons,)


def _netx_options(topo: list[LayerTopology], net_path) -> dict:
    """``num_layers`` that stops netx before trailing layers it cannot load (e.g. ``average``)."""
    unsupported = [t for t in topo if t.kind in NETX_CANNOT_LOAD]
    if not unsupported:
        return {}
    last = max(t.h5_index for t in topo if t.compute)
    if any(t.h5_index < last for t in unsupported):
        t = next(t for t in unsupported if t.h5_index < last)
        raise SpikeportError(f"{net_path}: {t.name} ({t.kind}) comes before layers with neurons; netx cannot "
                             f"load it, so the network cannot be simulated")
    return {"num_layers": min(t.h5_index for t in unsupported)}


def count_activity(net_path: str | os.PathLike, x: np.ndarray, backend: str = "fast", batch_size: int = 32,
                   progress: bool = True, raster_sample: int | None = 0
                   ) -> tuple[dict, list[np.ndarray] | None]:
    """Run ``x`` (``(inputs..., T)`` or ``(batch, inputs..., T)``, netx input layout)
    through ``backend`` (``fast``: batched; ``lava``: Lava's fixed_pt simulator, one
    sample at a time) and count its activity. Returns the Contract-1 dict and, with
    ``raster_sample``, that sample's spikes per layer ``[(neurons..., T), ...]``."""
    from tqdm.auto import tqdm

    if backend not in ("fast", "lava"):
        raise SpikeportError(f"unknown backend '{backend}' for counting activity: use fast or lava")
    topo = read_topology(net_path)
    layers = compute_layers(topo)
    options = _netx_options(topo, net_path)
    in_shape = netx_input_shape(layers)
    xb = input_batch(x, int(np.prod(in_shape)))
    if not np.isfinite(xb).all():
        raise SpikeportError("contains NaN or infinite values")
    xb = xb.reshape((len(xb),) + tuple(in_shape) + (xb.shape[-1],))
    act = empty_activity(layers, xb.shape[-1], str(net_path), backend)
    if backend == "fast":
        from spikeport.sim import load_network, run_fast_batch

        net = load_network(net_path, **options)
        run = lambda chunk: run_fast_batch(net, chunk, all_layers=True)
    else:
        if options:
            raise SpikeportError(f"{net_path}: has layers netx cannot load after layer "
                                 f"{options['num_layers'] - 1}: use --backend fast")
        from spikeport.sim import run_lava as runner

        batch_size = 1
        run = lambda chunk: [np.asarray(r)[None] for r in runner(net_path, chunk[0], all_layers=True)]
    raster = None
    for a in tqdm(range(0, len(xb), batch_size), desc=f"counting activity ({backend})", unit="batch",
                  disable=None if progress else True):
        chunk = xb[a:a + batch_size]
        spikes = run(chunk)
        activity_from_spikes(layers, chunk, spikes, into=act)
        if raster_sample is not None and a <= raster_sample < a + len(chunk):
            raster = [np.asarray(s[raster_sample - a]) for s in spikes]
    return act, raster


def _ints(v: Any, n: int, where: str) -> np.ndarray:
    if not isinstance(v, list) or len(v) != n:
        raise SpikeportError(f"{where}: expected a list of {n} counts")
    a = np.asarray(v)
    if a.size and (a.dtype.kind not in "iu" or (a < 0).any()):
        raise SpikeportError(f"{where}: counts must be non-negative integers")
    return a.astype(np.int64)


def validate_activity(act: Any, where: str = "activity") -> dict:
    """Check ``act`` against Contract 1; returns it. Raises :class:`SpikeportError`
    naming the field at fault."""
    if not isinstance(act, dict):
        raise SpikeportError(f"{where}: not a JSON object")
    if act.get("format") != FORMAT:
        raise SpikeportError(f"{where}: format is {act.get('format')!r}, expected {FORMAT!r}")
    for key in ("samples", "steps"):
        if not isinstance(act.get(key), int) or act[key] < 0:
            raise SpikeportError(f"{where}: '{key}' must be a non-negative integer")
    if act["samples"] < 1 or act["steps"] < 1:
        raise SpikeportError(f"{where}: no inferences counted (samples={act['samples']}, steps={act['steps']})")
    layers = act.get("layers")
    if not isinstance(layers, list) or not layers:
        raise SpikeportError(f"{where}: 'layers' must be a non-empty list")
    for i, l in enumerate(layers):
        lw = f"{where}: layers[{i}]"
        if not isinstance(l, dict):
            raise SpikeportError(f"{lw}: not an object")
        for key in ("neurons", "synapses"):
            if not isinstance(l.get(key), int) or l[key] < 0:
                raise SpikeportError(f"{lw}.{key} must be a non-negative integer")
        for c in COUNTS:
            if not isinstance(l.get(c), dict):
                raise SpikeportError(f"{lw}.{c} missing")
            _ints(l[c].get("per_step"), act["steps"], f"{lw}.{c}.per_step")
            _ints(l[c].get("per_sample"), act["samples"], f"{lw}.{c}.per_sample")
    return act


def load_activity(path: str | os.PathLike) -> dict:
    """Read a Contract-1 JSON file (or a ``spikeport eval --json`` file holding it
    under ``"activity"``) and validate it."""
    path = Path(path)
    try:
        with open(path) as f:
            data = json.load(f)
    except OSError as e:
        raise SpikeportError(f"{path}: cannot read ({e.strerror})") from None
    except json.JSONDecodeError as e:
        raise SpikeportError(f"{path}: not valid JSON ({e})") from None
    if isinstance(data, dict) and "activity" in data and "format" not in data:
        data = data["activity"]
    return validate_activity(data, str(path))


def per_sample(layer: dict, count: str) -> np.ndarray:
    """One layer's ``count`` per inference, shape ``(samples,)``."""
    return np.asarray(layer[count]["per_sample"], dtype=np.float64)


def per_step(layer: dict, count: str) -> np.ndarray:
    """One layer's ``count`` per timestep summed over the samples, shape ``(T,)``."""
    return np.asarray(layer[count]["per_step"], dtype=np.float64)
