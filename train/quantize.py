"""Quantization-aware training hooks: round weights and input currents to the Loihi
grid in the forward pass (usable as SLAYER ``pre_hook_fx``), gradients straight
through. The grid itself is :mod:`spikeport.fixed_point`."""
from __future__ import annotations

import torch

from spikeport.fixed_point import INPUT_LIMIT, WEIGHT_HI, WEIGHT_LO, WEIGHT_SCALE


class _RoundSTE(torch.autograd.Function):
    """Round to a grid in the forward pass, pass gradients straight through."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, step: float) -> torch.Tensor:
        return torch.round(x / step) * step

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad, None


def quantize_weight(w: torch.Tensor, descale: bool = False) -> torch.Tensor:
    """Quantize float weights to the Loihi weight grid (usable as a SLAYER pre-hook).

    Weights become multiples of ``2 / WEIGHT_SCALE`` in ``[WEIGHT_LO, WEIGHT_HI] /
    WEIGHT_SCALE`` (even integers -256 .. 254 once descaled); with ``descale=True``
    the integer weights (in units of ``1 / WEIGHT_SCALE``) are returned instead.
    """
    q = _RoundSTE.apply(w, 2 / WEIGHT_SCALE).clamp(WEIGHT_LO / WEIGHT_SCALE, WEIGHT_HI / WEIGHT_SCALE)
    return q * WEIGHT_SCALE if descale else q


def quantize_input(x: torch.Tensor, descale: bool = False) -> torch.Tensor:
    """Quantize analog input current (direct encoding) to the integers an input
    layer's neurons receive at ``a_in``: multiples of ``1 / WEIGHT_SCALE``, clipped
    to ``[-INPUT_LIMIT, INPUT_LIMIT]``. With ``descale=True`` the integers
    (units of ``1 / WEIGHT_SCALE``) are returned. Gradients pass straight through.
    """
    q = _RoundSTE.apply(x, 1 / WEIGHT_SCALE).clamp(-INPUT_LIMIT, INPUT_LIMIT)
    return q * WEIGHT_SCALE if descale else q
