"""Pooling layers as the grouped convolutions Loihi runs them as.

Loihi has no pooling unit: a SLAYER ``pool`` block (``slayer.block.cuba.Pool``) is
a synapse that sums each channel's ``kH x kW`` window with one shared weight and
feeds CUBA neurons, which is exactly a convolution with ``groups = channels`` and
that weight in every channel's kernel. lava-dl netx 0.6 raises
NotImplementedError for ``pool`` layers, so both backends read a pooled network
through :func:`netx_loadable`, which hands netx a copy of the file whose pool
layers are rewritten as such ``conv`` layers (same neuron, geometry and weight;
the original file is not touched). The hw stage maps them the same way
(:func:`pool_as_conv`).

Pool layer fields, as SLAYER's ``export_hdf5`` writes them: ``shape`` (C, H, W),
``kernelSize``, ``stride``, ``padding``, ``dilation`` ((H, W) or scalars), ``weight``
``(1, 1, kH, kW)`` and ``neuron/...``.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np

from spikeport.errors import SpikeportError
from spikeport.sim.netx_validate import text as _text

LOWERED_TYPES = ("pool", "dense_comp")
POOL_REQUIRED = ("shape", "weight", "neuron")


def pool_as_conv(group, where: str) -> dict[str, np.ndarray]:
    """The ``conv`` layer fields equivalent to the ``pool`` layer ``group`` (an h5py
    group): ``weight`` ``(C, 1, kH, kW)`` (the pool weight in every channel),
    ``groups`` = C, and ``stride``, ``padding``, ``dilation`` as stored (SLAYER's
    pool defaults: stride = kernel, padding 0, dilation 1). ``where`` names the
    layer in errors."""
    for key in POOL_REQUIRED:
        if key not in group:
            raise SpikeportError(f"{where} (pool) has no '{key}' field")
    shape = np.asarray(group["shape"][()]).reshape(-1)
    if shape.size != 3:
        raise SpikeportError(f"{where} (pool): shape {shape.tolist()} is not (C, H, W)")
    w = np.asarray(group["weight"][()])
    if w.ndim < 2 or w.shape[0] != 1 or w.shape[1] != 1:
        raise SpikeportError(f"{where} (pool): weight of shape {w.shape} is not one shared (1, 1, kH, kW) kernel")
    w = w.reshape((1, 1) + w.shape[2:4]) if w.ndim >= 4 else w.reshape(1, 1, w.shape[-1], 1)
    kernel = w.shape[2:4]
    channels = int(shape[0])

    def field(key, default):
        return np.asarray(group[key][()]) if key in group else np.asarray(default)

    return {"weight": np.ascontiguousarray(np.broadcast_to(w, (channels, 1) + kernel)),
            "groups": np.asarray(channels),
            "stride": field("stride", kernel), "padding": field("padding", 0),
            "dilation": field("dilation", 1)}


def pool_layers(path: str | os.PathLike) -> list[int]:
    """Indices of the layers netx cannot build but spikeport lowers (``pool``,
    ``dense_comp``) in the netx file at ``path``."""
    import h5py

    with h5py.File(path, "r") as h:
        layers = h.get("layer")
        if layers is None:
            return []
        return sorted(int(k) for k in layers if k.isdigit() and "type" in layers[k]
                      and _text(layers[k]["type"][()]) in LOWERED_TYPES)


def lower_file(src: str | os.PathLike, dst: str | os.PathLike) -> list[int]:
    """Copy the netx file ``src`` to ``dst`` with every pool layer rewritten as its
    grouped ``conv`` (:func:`pool_as_conv`); returns the rewritten layer indices."""
    import h5py

    shutil.copyfile(src, dst)
    done = []
    with h5py.File(dst, "r+") as h:
        layers = h["layer"]
        for key in sorted(layers, key=lambda k: int(k) if k.isdigit() else -1):
            g = layers[key]
            if "type" not in g or _text(g["type"][()]) not in LOWERED_TYPES:
                continue
            if _text(g["type"][()]) == "dense_comp":
                # netx 0.6 names dense_comp but cannot build it (its create_complex_dense is missing); it
                # builds the same complex dense block from a dense layer with weight/real and weight/imag
                del g["type"]
                g.create_dataset("type", (1,), "S10", [b"dense"])
                done.append(int(key))
                continue
            fields = pool_as_conv(g, f"{src}: layer {key}")
            for name in ("type", "weight", "groups", "stride", "padding", "dilation", "kernelSize"):
                if name in g:
                    del g[name]
            g.create_dataset("type", (1,), "S10", [b"conv"])
            for name, value in fields.items():
                g.create_dataset(name, data=value)
            done.append(int(key))
    return done


@contextlib.contextmanager
def netx_loadable(path: str | os.PathLike) -> Iterator[Path]:
    """The file netx should read for ``path``: ``path`` itself, or (when it holds
    pool layers) a lowered copy in a temporary folder, removed on exit."""
    path = Path(path)
    if not pool_layers(path):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="spikeport-lowered-") as tmp:
        dst = Path(tmp) / path.name
        lower_file(path, dst)
        yield dst
