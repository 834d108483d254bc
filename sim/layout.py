"""Array layouts of the fast backend.

netx order is ``(batch, neurons..., T)`` with neurons ``(x, y, c)`` for convolution
layers and ``(n,)`` for dense ones. Inside, a chunk is neuron-major, ``(n, T,
batch)``, with neurons flattened in reversed-axis order ``(c, y, x)``: what netx's
flatten feeds a dense layer and what a ``(C, H, W)`` convolution reads, so a dense
synapse is ``W @ S`` on a 2-D view.
"""
from __future__ import annotations

import numpy as np


def to_internal(x: np.ndarray) -> np.ndarray:
    """``(batch, neurons..., T)`` in netx order -> ``(n, T, batch)``, neurons
    flattened in reversed-axis order (``(c, y, x)`` for ``(x, y, c)``)."""
    k = x.ndim - 2
    axes = tuple(range(k, 0, -1)) + (k + 1, 0)
    return x.transpose(axes).reshape(-1, x.shape[-1], x.shape[0])


def to_netx(s: np.ndarray, shape: tuple) -> np.ndarray:
    """Inverse of :func:`to_internal`: ``(n, T, batch)`` -> ``(batch, *shape, T)``."""
    steps, b = s.shape[1:]
    k = len(shape)
    r = s.reshape(tuple(shape[::-1]) + (steps, b))
    return r.transpose((k + 1,) + tuple(range(k - 1, -1, -1)) + (k,))


def flat_internal(a, shape: tuple) -> np.ndarray:
    """A per-neuron array broadcastable to netx ``shape`` -> flat internal order."""
    a = np.broadcast_to(np.asarray(a), shape)
    return np.ascontiguousarray(a.transpose(tuple(range(len(shape) - 1, -1, -1)))).reshape(-1)
