"""The ``average`` readout layer: population averaging on the host.

lava-dl's ``slayer.block.*.Average`` has no neurons: it averages the spikes of the
layer before it over groups of neurons (lava-dl's ntidigits network ends with one:
242 output neurons, 22 per class, read as 11 class rates). On Loihi that is done
by the host from the output spikes, and netx 0.6 does not build it, so both
backends run the network up to the layer before it and apply :func:`average`
to its spikes. The layer must be the last one.
"""
from __future__ import annotations

import os

import numpy as np

from spikeport.errors import SpikeportError
from spikeport.sim.netx_file import LayerEntry


def average(spikes: np.ndarray, outputs: int, where: str = "average layer") -> np.ndarray:
    """Mean of ``spikes`` ``(batch, *shape, T)`` (netx order: ``(n,)`` or ``(x, y, c)``)
    over ``outputs`` equal groups of consecutive neurons in SLAYER's order
    (channel-major, ``(c, y, x)``), per timestep. Returns float32 ``(batch, outputs, T)``."""
    s = np.asarray(spikes)
    if s.ndim == 5:     # netx (x, y, c) -> SLAYER (c, y, x)
        s = s.transpose(0, 3, 2, 1, 4)
    b, steps = s.shape[0], s.shape[-1]
    n = int(np.prod(s.shape[1:-1]))
    if outputs < 1 or n % outputs:
        raise SpikeportError(f"{where}: {n} neurons do not split into {outputs} equal groups")
    return s.reshape(b, outputs, n // outputs, steps).astype(np.float32).mean(axis=2)


def average_layer(path: str | os.PathLike, entries: list[LayerEntry], num_layers: int | None
                  ) -> tuple[int, int] | None:
    """``(layer index, outputs)`` of the file's ``average`` readout when it is among
    the layers run (``num_layers``), else None; an ``average`` layer that is not the
    last one is an error."""
    import h5py

    count = len(entries) if num_layers is None else min(len(entries), int(num_layers))
    found = [e for e in entries[:count] if e.type == "average"]
    if not found:
        return None
    e = found[0]
    if e.index != count - 1:
        raise SpikeportError(f"{path}: layer {e.index} is an 'average' readout but not the last layer; "
                             f"spikeport runs it only as the network's final, host-side readout")
    with h5py.File(path, "r") as h:
        g = h[f"layer/{e.index}"]
        if "shape" not in g:
            raise SpikeportError(f"{path}: layer {e.index} (average) has no 'shape' field")
        shape = np.asarray(g["shape"][()]).reshape(-1)
    return e.index, int(shape[0])
