"""Convolution geometry: the one definition of a convolution's output size and of
how many of its kernel taps land inside the input (padding taps excluded).

Pure integer functions, used by training (layer shapes), the simulators (output
shapes), the hardware mapping and the operation counts of SNNs and ANNs alike.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def conv_out(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of a convolution along one axis (PyTorch's and Lava's formula):
    ``(size + 2 padding - dilation (kernel - 1) - 1) // stride + 1``."""
    return (int(size) + 2 * int(padding) - int(dilation) * (int(kernel) - 1) - 1) // int(stride) + 1


def tap_positions(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> np.ndarray:
    """``(out, kernel)`` int64: the input index each kernel tap of each output reads
    along one axis (``out * stride - padding + tap * dilation``; outside ``[0, size)``
    the tap reads padding)."""
    out = max(conv_out(size, kernel, stride, padding, dilation), 0)
    return (np.arange(out)[:, None] * int(stride) - int(padding) + np.arange(int(kernel))[None, :] * int(dilation))


def tap_valid(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> np.ndarray:
    """``(out, kernel)`` bool: which taps of which outputs land inside the input."""
    pos = tap_positions(size, kernel, stride, padding, dilation)
    return (pos >= 0) & (pos < int(size))


def taps_in_bounds(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Kernel taps that read a real input element (not padding), summed over every
    output position along one axis."""
    return int(tap_valid(size, kernel, stride, padding, dilation).sum())


def _hits(size, kernel, stride, padding, dilation) -> np.ndarray:
    """``(kernel, size)`` int64: how many outputs read input element ``i`` through tap ``k``."""
    pos = tap_positions(size, kernel, stride, padding, dilation)
    hits = np.zeros((int(kernel), int(size)), np.int64)
    for k in range(int(kernel)):
        p = pos[:, k]
        np.add.at(hits[k], p[(p >= 0) & (p < size)], 1)
    return hits


def conv_fan_in(nonzero: np.ndarray, in_chw: Sequence[int], stride: Sequence[int], padding: Sequence[int],
                dilation: Sequence[int]) -> np.ndarray:
    """Nonzero synapses onto each output neuron ``(O, H', W')`` of a convolution with
    kernel mask ``nonzero`` ``(O, C/groups, kH, kW)``; geometry in ``(H, W)`` order."""
    _, h, w = in_chw
    o, cg, kh, kw = nonzero.shape
    per_tap = nonzero.reshape(o, cg, kh, kw).sum(axis=1).astype(np.int64)       # (O, kH, kW)
    vy = tap_valid(h, kh, stride[0], padding[0], dilation[0]).astype(np.int64)    # (H', kH)
    vx = tap_valid(w, kw, stride[1], padding[1], dilation[1]).astype(np.int64)    # (W', kW)
    return np.einsum("okl,yk,xl->oyx", per_tap, vy, vx)


def conv_fan_out(nonzero: np.ndarray, in_chw: Sequence[int], stride: Sequence[int], padding: Sequence[int],
                 dilation: Sequence[int], groups: int = 1) -> np.ndarray:
    """Nonzero synapses from each input element ``(C, H, W)`` into a convolution with
    kernel mask ``nonzero`` ``(O, C/groups, kH, kW)``; geometry in ``(H, W)`` order."""
    c, h, w = in_chw
    o, cg, kh, kw = nonzero.shape
    og = o // int(groups)
    nz = nonzero.astype(np.int64).reshape(int(groups), og, cg, kh, kw).sum(axis=1)    # (groups, C/g, kH, kW)
    per_in = nz.reshape(c, kh, kw)                                                      # input channel order
    hy = _hits(h, kh, stride[0], padding[0], dilation[0])
    hx = _hits(w, kw, stride[1], padding[1], dilation[1])
    return np.einsum("ckl,ky,lx->cyx", per_in, hy, hx)


def conv_connections(in_shape: Sequence[int], out_channels: int, kernel: Sequence[int],
                     stride: Sequence[int] = (1, 1), padding: Sequence[int] = (0, 0),
                     dilation: Sequence[int] = (1, 1), groups: int = 1) -> int:
    """Connections of a 2-D convolution of a ``(C, H, W)`` input: every (output
    neuron, input element) pair joined by a kernel tap that falls inside the input,
    ``out_channels * C / groups * taps_H * taps_W``. This is what NeuroBench's
    ``Dense`` synaptic operations count per evaluation (an all-ones input and
    kernel, zero padding)."""
    c = int(in_shape[0])
    taps = 1
    for a in (0, 1):
        taps *= taps_in_bounds(in_shape[a + 1], kernel[a], stride[a], padding[a], dilation[a])
    return int(out_channels) * (c // int(groups)) * taps
