"""Convolution geometry: the one definition of a convolution's output size and of
how many of its kernel taps land inside the input (padding taps excluded).

Pure integer functions, used by training (layer shapes), the simulators (output
shapes), the hardware mapping and the operation counts of SNNs and ANNs alike.
"""
from __future__ import annotations

from typing import Sequence


def conv_out(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of a convolution along one axis (PyTorch's and Lava's formula):
    ``(size + 2 padding - dilation (kernel - 1) - 1) // stride + 1``."""
    return (int(size) + 2 * int(padding) - int(dilation) * (int(kernel) - 1) - 1) // int(stride) + 1


def taps_in_bounds(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Kernel taps that read a real input element (not padding), summed over every
    output position along one axis. ``size * kernel`` for a 'valid' convolution
    with stride 1 is the upper bound; padding taps are what it excludes."""
    out = conv_out(size, kernel, stride, padding, dilation)
    total = 0
    for o in range(max(out, 0)):
        start = o * int(stride) - int(padding)
        total += sum(1 for k in range(int(kernel)) if 0 <= start + k * int(dilation) < int(size))
    return total


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
