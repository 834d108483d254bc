"""Checking an input array against a network's input port, before any simulator runs."""
from __future__ import annotations

import numpy as np

from spikeport.errors import SpikeportError

INT32_MAX = (1 << 31) - 1


def _fmt(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def check_input(x, input_shape: tuple, name: str = "input", network: str = "the network"
                ) -> tuple[np.ndarray, bool]:
    """Validate an input array for a network whose input port is ``input_shape``
    (netx order) and return it as int32 ``(batch, *input_shape, T)``, plus whether
    it came batched. ``x`` may be ``(*input_shape, T)`` (one sample) or ``(batch,
    *input_shape, T)``. Values are cast to int32 as Lava's RingBuffer source casts
    them (toward zero). Raises :class:`SpikeportError` naming ``name`` for a wrong
    shape, a non-numeric dtype, NaN or infinite values, or values beyond int32."""
    x = np.asarray(x)
    input_shape = tuple(int(s) for s in input_shape)
    if x.dtype.kind not in "biuf":
        raise SpikeportError(f"{name}: dtype {x.dtype} is not numeric")
    k = len(input_shape)
    if x.ndim == k + 1 and tuple(x.shape[:-1]) == input_shape:
        batched = False
    elif x.ndim == k + 2 and tuple(x.shape[1:-1]) == input_shape:
        batched = True
    else:
        raise SpikeportError(f"{name}: shape {_fmt(x.shape)} does not fit the input of {network}: expected "
                             f"{_fmt(input_shape + ('T',))} or {_fmt(('batch',) + input_shape + ('T',))}")
    if x.shape[-1] == 0:
        raise SpikeportError(f"{name}: no timesteps (the last axis is empty)")
    if batched and x.shape[0] == 0:
        raise SpikeportError(f"{name}: empty batch")
    if x.dtype.kind == "f":
        bad = ~np.isfinite(x)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            what = "NaN" if np.isnan(x[idx]) else "an infinite value"
            raise SpikeportError(f"{name}: {what} at index {idx}")
    if x.size and x.dtype.kind in "iuf":
        big = np.abs(x) > INT32_MAX if x.dtype.kind != "u" else x > INT32_MAX
        if big.any():
            idx = tuple(int(i) for i in np.argwhere(big)[0])
            raise SpikeportError(f"{name}: value {x[idx]} at index {idx} is outside int32, the range of "
                                 f"Lava's input RingBuffer")
    x = x.astype(np.int32)
    return (x if batched else x[None]), batched
