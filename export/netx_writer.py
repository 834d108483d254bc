"""Write a SLAYER network as a lava-dl netx HDF5 file (the export -> sim contract).

The file holds netx's ``layer/<i>/...`` groups, written by each SLAYER block's own
``export_hdf5`` with weights on the Loihi grid, plus a ``spikeport`` group whose
``metadata`` attribute is a JSON object (task, encoder, timesteps, latency, ...)
that netx ignores and later stages read.
"""
from __future__ import annotations

import json
import os
from typing import Any, Iterable

import h5py

from spikeport.atomic import atomic_path
from spikeport.errors import SpikeportError


def write_netx(blocks: Iterable, path: str | os.PathLike, metadata: dict[str, Any] | None = None) -> None:
    """Export ``blocks`` (SLAYER blocks, in order) to ``path``; atomic.

    ``metadata`` must be JSON-serialisable.
    """
    blocks = list(blocks)
    for i, block in enumerate(blocks):
        syn = getattr(block, "synapse", None)
        if syn is not None and getattr(syn, "weight", None) is not None:
            if not bool((syn.pre_hook_fx(syn.weight, descale=True) != 0).any()):
                # netx 0.6 cannot load such a layer (its weight-bit optimiser divides by zero)
                raise SpikeportError(f"{path}: layer {i} has every weight quantized to zero")
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as h:
            group = h.create_group("layer")
            for i, block in enumerate(blocks):
                block.export_hdf5(group.create_group(str(i)))
            meta = h.create_group("spikeport")
            meta.attrs["metadata"] = json.dumps(metadata or {}, sort_keys=True)


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The ``spikeport`` metadata of a netx file ({} for a file from elsewhere)."""
    with h5py.File(path, "r") as h:
        if "spikeport" not in h:
            return {}
        return json.loads(h["spikeport"].attrs["metadata"])
