"""Write a SLAYER network as a lava-dl netx HDF5 file (the export -> sim contract).

The file holds netx's ``layer/<i>/...`` groups, written by each SLAYER block's own
``export_hdf5`` with weights on the Loihi grid, plus a ``spikeport`` group whose
``metadata`` attribute is a JSON object (task, encoder, timesteps, latency, ...)
that netx ignores and later stages read.
"""
from __future__ import annotations

import json
import os
from typing import Any, Callable, Iterable

import h5py
import numpy as np

from spikeport.atomic import atomic_path
from spikeport.errors import SpikeportError


def write_netx(blocks: Iterable, path: str | os.PathLike, metadata: dict[str, Any] | None = None,
               input_shape: tuple[int, ...] | None = None,
               check: Callable[[str], list[str]] | None = None) -> None:
    """Export ``blocks`` (SLAYER blocks, in order) to ``path``; atomic.

    ``check``: a validator of netx files (the simulators' own,
    :func:`spikeport.sim.netx_validate.problems`, given by the caller so that export
    does not depend on sim) run on the written file before it replaces ``path``; any
    problem it lists is an error and nothing is written.

    ``metadata`` must be JSON-serialisable. ``input_shape``, one timestep's input
    ``(C, H, W)``: netx cannot infer the input of a network that starts with a
    convolution or pooling synapse, so such a network needs it; it is written as a
    neuron-less ``input`` layer (netx's ``net.inp`` then takes the input).
    """
    blocks = list(blocks)
    first = type(blocks[0]).__name__ if blocks else ""
    lead = []
    if first in ("Conv", "Pool"):
        if input_shape is None or len(input_shape) != 3:
            raise SpikeportError(f"{path}: a network starting with a {first.lower()} layer needs its "
                                 f"(C, H, W) input_shape (got {input_shape})")
        lead = [_InputShape(input_shape)]
    for i, block in enumerate(blocks):
        syn = getattr(block, "synapse", None)
        if syn is not None and getattr(syn, "weight", None) is not None:
            if not bool((syn.pre_hook_fx(syn.weight, descale=True) != 0).any()):
                # netx 0.6 cannot load such a layer (its weight-bit optimiser divides by zero)
                raise SpikeportError(f"{path}: layer {i} has every weight quantized to zero")
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as h:
            group = h.create_group("layer")
            for i, block in enumerate(lead + blocks):
                block.export_hdf5(group.create_group(str(i)))
                _positive_zeros(group[str(i)])
            meta = h.create_group("spikeport")
            meta.attrs["metadata"] = json.dumps(metadata or {}, sort_keys=True, allow_nan=False)
        found = check(str(tmp)) if check is not None else []
        if found:
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            raise SpikeportError(f"the exported network fails its own check: {found[0].replace(str(tmp), str(path))}"
                                 + more)


def _positive_zeros(layer) -> None:
    """Rewrite -0.0 weights as 0.0: netx's weight optimiser takes the largest weight's
    sign from ``np.max`` and fails (NaN exponent) on a layer whose largest weight is -0.0."""
    for name in ("weight", "weight_rec", "weight/real", "weight/imag"):
        d = layer.get(name)
        if isinstance(d, h5py.Dataset) and d.dtype.kind == "f":
            d[...] = d[()] + 0.0


class _InputShape:
    """A neuron-less netx input layer: only the input's shape, (C, H, W)."""

    def __init__(self, shape):
        self.shape = tuple(int(v) for v in shape)

    def export_hdf5(self, handle) -> None:
        handle.create_dataset("type", (1,), "S10", [b"input"])
        handle.create_dataset("shape", data=np.array(self.shape))
