"""Activity counts in the sim -> hw contract (``spikeport-activity/1``): reading and
validating them, and measuring them for an input array with the simulator.

The counts are made by the sim stage (:mod:`spikeport.sim.activity`, one definition
for both backends); this module checks what the hw stage is given, whatever made it.
Counting rules (the contract's): ``spikes`` = nonzero outputs (a graded spike counts
once); ``synops`` of layer l = for every event arriving at layer l's synapse, the
number of nonzero weights its source neuron drives in layer l, counted at the step
the event is emitted; ``neuron_updates`` = neurons x 1 per step; optional
``membrane_updates`` (NeuroBench's count) and ``graded_input``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from spikeport.errors import SpikeportError
from spikeport.sim.activity import FORMAT

COUNTS = ("spikes", "synops", "neuron_updates")
OPTIONAL_COUNTS = ("membrane_updates",)


def count_activity(net_path: str | os.PathLike, x: np.ndarray, backend: str = "fast", progress: bool = True,
                   raster_sample: int | None = 0, input_name: str = "input"
                   ) -> tuple[dict, list[np.ndarray] | None]:
    """Run ``x`` (``(inputs..., T)`` or ``(batch, inputs..., T)``, netx input layout)
    through ``backend`` (``fast`` or ``lava``) and count its activity. Returns the
    Contract-1 dict and, with ``raster_sample``, that sample's events per layer
    ``[(neurons..., T), ...]``."""
    from spikeport.sim.simulate import simulate

    if backend not in ("fast", "lava"):
        raise SpikeportError(f"unknown backend '{backend}' for counting activity: use fast or lava")
    res = simulate(net_path, x, backend=backend, counts=True, progress=progress, input_name=input_name)
    raster = None
    if raster_sample is not None:
        xb = np.asarray(x) if res.batched else np.asarray(x)[None]
        one = simulate(net_path, xb[raster_sample:raster_sample + 1], backend="fast", record="all")
        raster = [l[0] for l in one.layers]
    return res.counts, raster


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
        for c in OPTIONAL_COUNTS:
            if c in l:
                if not isinstance(l[c], dict):
                    raise SpikeportError(f"{lw}.{c} must be an object with per_step and per_sample")
                _ints(l[c].get("per_step"), act["steps"], f"{lw}.{c}.per_step")
                _ints(l[c].get("per_sample"), act["samples"], f"{lw}.{c}.per_sample")
        if not isinstance(l.get("graded_input", False), bool):
            raise SpikeportError(f"{lw}.graded_input must be true or false")
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
