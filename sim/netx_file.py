"""The layer list of a netx HDF5 file, after its validation
(:mod:`spikeport.sim.netx_validate`), for the simulators to dispatch on.

netx itself fails on bad files with tracebacks from deep inside h5py or its own
loader, and silently skips layer types it does not know; :func:`scan_network`
validates every field first and names the file, the layer and the field at fault.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from spikeport.errors import SpikeportError

# Layer types netx 0.6 builds into Lava processes ('flatten' and an 'input' without
# neurons only reshape), plus 'pool' and 'dense_comp', which spikeport lowers to the
# grouped conv and complex dense layers netx builds (sim/lowering.py).
NETX_TYPES = ("input", "dense", "conv", "flatten", "dense_rec", "dense_comp")
SIM_TYPES = NETX_TYPES + ("pool",)


@dataclass(frozen=True)
class LayerEntry:
    """One ``layer/<index>`` group of a netx file."""

    index: int
    type: str
    neuron: str | None      # neuron/type, None without a neuron group
    size: int | None = None  # neurons (the product of 'shape'), None without one


def scan_network(path: str | os.PathLike, backend: str = "lava", num_layers: int | None = None,
                 supported: tuple[str, ...] = SIM_TYPES) -> list[LayerEntry]:
    """Validate the netx file at ``path`` (:func:`spikeport.sim.netx_validate.validate`,
    the first ``num_layers`` layers) and list its layers; raises :class:`SpikeportError`
    for the first problem, or for a layer type outside ``supported`` (for ``backend``,
    which the message names)."""
    from spikeport.sim.netx_validate import read_layers, text, validate

    if num_layers is not None and int(num_layers) < 1:
        raise SpikeportError(f"{path}: num_layers must be at least 1, not {num_layers}")
    validate(path, num_layers)
    entries = []
    for layer in read_layers(path, num_layers):
        n = layer.fields.get("neuron")
        shape = layer.fields.get("shape")
        entries.append(LayerEntry(layer.index, text(layer.fields["type"]),
                                  text(n["type"]) if isinstance(n, dict) and "type" in n else None,
                                  int(np.prod(shape)) if shape is not None else None))
    for e in entries:
        if e.type not in supported:
            tail = f"; --num-layers {e.index} runs the layers before it" if e.index > 0 else ""
            raise SpikeportError(f"{path}: layer {e.index} has type '{e.type}', which the {backend} backend "
                                 f"cannot run{tail}")
    return entries
