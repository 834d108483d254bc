"""How a trained model's input becomes the array a netx network takes.

SLAYER tensors are ``(batch, C, H, W, T)`` (convolutional) or ``(batch, n, T)``;
netx neurons are ``(x, y, c)`` = ``(W, H, C)``. Analog input (direct encoding)
enters an input layer's neurons at ``a_in`` as integers (see
:func:`spikeport.export.fixed_point.input_current`); spikes stay 0/1.
"""
from __future__ import annotations

import numpy as np

from spikeport.errors import SpikeportError
from spikeport.fixed_point import input_current


def to_netx_input(x: np.ndarray, analog: bool) -> np.ndarray:
    """``x``: model input ``(batch, C, H, W, T)`` or ``(batch, n, T)`` ->
    netx input ``(batch, W, H, C, T)`` or ``(batch, n, T)``; int32 currents when
    ``analog``, else float spikes."""
    x = np.asarray(x)
    if x.ndim == 5:
        x = x.transpose(0, 3, 2, 1, 4)
    elif x.ndim != 3:
        raise SpikeportError(f"model input must be (batch, C, H, W, T) or (batch, n, T), got {x.shape}")
    return input_current(x) if analog else x.astype(np.float32)


def from_netx_layer(a: np.ndarray) -> np.ndarray:
    """A netx layer's record ``(batch, W, H, C, T)`` -> SLAYER order ``(batch, C, H, W, T)``;
    ``(batch, n, T)`` is returned as is."""
    a = np.asarray(a)
    return a.transpose(0, 3, 2, 1, 4) if a.ndim == 5 else a
