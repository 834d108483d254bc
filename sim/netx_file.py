"""Check a netx HDF5 file before netx reads it, so that a bad file gives one clear line.

netx itself fails on bad files with tracebacks from deep inside h5py or its own
loader, and silently skips layer types it does not know. :func:`scan_network` opens
the file with h5py, checks the layout netx relies on, and names the file, the
layer and the field at fault.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spikeport.errors import SpikeportError

# Layer types netx 0.6 builds into Lava processes. 'flatten' and an 'input' without
# neurons only reshape; 'dense_rec' and 'dense_comp' are netx's recurrent and complex
# (resonate-and-fire) dense blocks.
# 'pool' is not among them: spikeport hands netx pool layers as grouped convolutions
# (sim/lowering.py), which both backends then run.
NETX_TYPES = ("input", "dense", "conv", "flatten", "dense_rec", "dense_comp")
SIM_TYPES = NETX_TYPES + ("pool",)
# Layer types lava-dl exports but netx 0.6 raises NotImplementedError for.
NETX_UNBUILT = ("average", "convT", "unpool", "concat")
NEURON_TYPES = ("CUBA", "LOIHI", "SDNN", "RF_PHASE", "RF_IZ")
# Fields netx reads without a default, per layer type and per neuron type.
REQUIRED = {"input": ("shape",), "dense": ("shape",), "dense_rec": ("weight", "weight_rec", "shape"),
            "dense_comp": ("weight/real", "weight/imag", "shape"),
            "conv": ("weight", "shape", "stride", "padding", "dilation", "groups", "neuron"),
            "pool": ("weight", "shape", "neuron")}
NEURON_REQUIRED = {"CUBA": ("iDecay", "vDecay", "vThMant"), "LOIHI": ("iDecay", "vDecay", "vThMant"),
                   "SDNN": ("vThMant",), "RF_PHASE": ("sinDecay", "cosDecay", "vThMant"),
                   "RF_IZ": ("sinDecay", "cosDecay", "vThMant")}


@dataclass(frozen=True)
class LayerEntry:
    """One ``layer/<index>`` group of a netx file."""

    index: int
    type: str
    neuron: str | None      # neuron/type, None without a neuron group


def _text(value) -> str:
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[0] if value.size else b""
    if isinstance(value, bytes):
        return value.decode("ascii", errors="replace")
    return str(value)


def scan_network(path: str | os.PathLike, backend: str = "lava", num_layers: int | None = None,
                 supported: tuple[str, ...] = SIM_TYPES) -> list[LayerEntry]:
    """Read the layer list of the netx HDF5 file at ``path``, or raise
    :class:`SpikeportError` naming what is wrong: a missing file, a file that is not
    HDF5 or is truncated, no ``layer`` group, a layer without ``type``, or a layer
    type or neuron type outside ``supported`` (for ``backend``, which the message
    names). Only the first ``num_layers`` layers are checked when given (netx's
    option of the same name)."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise SpikeportError(f"{path}: no such network file")
    if path.stat().st_size == 0:
        raise SpikeportError(f"{path}: empty file, not an HDF5 network")
    try:
        is_h5 = h5py.is_hdf5(str(path))
    except OSError as e:
        raise SpikeportError(f"{path}: cannot read ({e})") from None
    if not is_h5:
        raise SpikeportError(f"{path}: not an HDF5 file (netx networks are HDF5)")
    entries = []
    try:
        with h5py.File(path, "r") as f:
            if "layer" not in f or not isinstance(f["layer"], h5py.Group):
                raise SpikeportError(f"{path}: not a netx network (no 'layer' group)")
            group = f["layer"]
            keys = sorted(group.keys(), key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))
            if [k for k in keys] != [str(i) for i in range(len(keys))]:
                raise SpikeportError(f"{path}: netx layer groups must be layer/0 ... layer/{len(keys) - 1}, "
                                     f"found {', '.join(keys[:8])}")
            if not keys:
                raise SpikeportError(f"{path}: the 'layer' group is empty")
            if num_layers is not None and int(num_layers) < 1:
                raise SpikeportError(f"{path}: num_layers must be at least 1, not {num_layers}")
            count = len(keys) if num_layers is None else min(len(keys), int(num_layers))
            for i in range(count):
                layer = group[str(i)]
                if "type" not in layer:
                    raise SpikeportError(f"{path}: layer {i} has no 'type' field")
                kind = _text(layer["type"][()])
                neuron = _text(layer["neuron/type"][()]) if "neuron/type" in layer else None
                if kind == "dense" and "weight" not in layer and "weight/real" not in layer:
                    raise SpikeportError(f"{path}: layer {i} (dense) has no 'weight' field")
                for key in REQUIRED.get(kind, ()) + tuple(f"neuron/{k}" for k in NEURON_REQUIRED.get(neuron, ())):
                    if key not in layer:
                        raise SpikeportError(f"{path}: layer {i} ({kind}) has no '{key}' field")
                entries.append(LayerEntry(i, kind, neuron))
    except SpikeportError:
        raise
    except (OSError, KeyError, ValueError, RuntimeError) as e:
        msg = str(e).replace("\n", " ")
        hint = " (truncated file?)" if "truncat" in msg.lower() or "eof" in msg.lower() else ""
        raise SpikeportError(f"{path}: cannot read as an HDF5 network{hint}: {msg}") from None
    for e in entries:
        if e.type not in supported:
            why = ("netx 0.6 does not build it" if e.type in NETX_UNBUILT else
                   "not supported by this backend" if e.type in SIM_TYPES else "unknown layer type")
            tail = f"; --num-layers {e.index} runs the layers before it" if e.index > 0 else ""
            raise SpikeportError(f"{path}: layer {e.index} has type '{e.type}', which the {backend} backend "
                                 f"cannot run ({why}){tail}")
        if e.neuron is not None and e.neuron not in NEURON_TYPES:
            raise SpikeportError(f"{path}: layer {e.index} has neuron type '{e.neuron}', which the {backend} "
                                 f"backend cannot run (known: {', '.join(NEURON_TYPES)})")
    if not any(e.type in ("conv", "pool", "dense", "dense_rec", "dense_comp") or (e.type == "input" and e.neuron)
               for e in entries):
        raise SpikeportError(f"{path}: no layer with neurons among the {len(entries)} layer(s) read")
    return entries
