"""Loihi fixed-point arithmetic: the one definition used by training, export,
the fast simulator and the tests.

Scales (what one integer step means):

* weights: ``WEIGHT_SCALE`` (64) steps per 1.0, stored as even integers in
  ``[-512, 510]`` (an 8-bit mantissa whose exponent netx picks on load);
* neuron state ``u`` (current) and ``v`` (voltage): ``STATE_SCALE`` (4096) steps
  per 1.0; synaptic input and thresholds are shifted left by 6 bits on the chip;
* decays: 12-bit integers, ``decay = round(fraction * 4096)``, applied as
  ``x * (4096 - decay)`` followed by a 12-bit right shift of the magnitude
  (rounding toward zero).

Functions accept NumPy arrays or torch tensors (integer dtypes for the state
arithmetic) and return the same kind.
"""
from __future__ import annotations

import numpy as np
import torch

WEIGHT_SCALE = 1 << 6
ACT_SHIFT = 6                   # synaptic input is MSB-aligned by 6 bits
VTH_SHIFT = 6                   # threshold mantissa is MSB-aligned by 6 bits
STATE_SCALE = WEIGHT_SCALE << ACT_SHIFT
DECAY_SHIFT = 12
DECAY_UNITY = 1 << DECAY_SHIFT
UV_BITS = 24                    # u and v are 24-bit registers
UV_LIMIT = 1 << (UV_BITS - 1)
WEIGHT_BITS = 8


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

    Weights become multiples of ``2 / WEIGHT_SCALE`` in
    ``[-2**(WEIGHT_BITS+1), 2**(WEIGHT_BITS+1) - 2] / WEIGHT_SCALE``; with
    ``descale=True`` the integer weights (in units of ``1 / WEIGHT_SCALE``) are
    returned instead. Gradients pass straight through the rounding.
    """
    lo = -2 * (1 << WEIGHT_BITS) / WEIGHT_SCALE
    hi = 2 * ((1 << WEIGHT_BITS) - 1) / WEIGHT_SCALE
    q = _RoundSTE.apply(w, 2 / WEIGHT_SCALE).clamp(lo, hi)
    return q * WEIGHT_SCALE if descale else q


INPUT_LIMIT = 64.0              # analog input current clipped to +-64 weight units (a_in +-4096)


def quantize_input(x: torch.Tensor, descale: bool = False) -> torch.Tensor:
    """Quantize analog input current (direct encoding) to the integers an input
    layer's neurons receive at ``a_in``: multiples of ``1 / WEIGHT_SCALE``, clipped
    to ``[-INPUT_LIMIT, INPUT_LIMIT]``. With ``descale=True`` the integers
    (units of ``1 / WEIGHT_SCALE``) are returned. Gradients pass straight through.
    """
    q = _RoundSTE.apply(x, 1 / WEIGHT_SCALE).clamp(-INPUT_LIMIT, INPUT_LIMIT)
    return q * WEIGHT_SCALE if descale else q


def input_current(x) -> np.ndarray:
    """The int32 ``a_in`` data of an input layer for analog input ``x`` (any shape)."""
    x = np.clip(np.asarray(x, dtype=np.float64), -INPUT_LIMIT, INPUT_LIMIT)
    return np.round(x * WEIGHT_SCALE).astype(np.int32)


def threshold_mantissa(threshold: float) -> int:
    """Threshold mantissa ``vThMant`` for a threshold in units of 1.0."""
    return int(round(threshold * WEIGHT_SCALE))


def decay_int(fraction):
    """12-bit decay constant for a per-step decay ``fraction`` in [0, 1]."""
    return np.clip(np.round(np.asarray(fraction, dtype=np.float64) * DECAY_UNITY), 0, DECAY_UNITY).astype(np.int64)


def decay(x, d):
    """Decay integer state ``x`` by 12-bit constant ``d``: ``x*(4096-d)`` shifted
    right by 12 bits in magnitude (rounds toward zero, as the chip does)."""
    p = x * (DECAY_UNITY - d)
    if isinstance(p, torch.Tensor):
        return torch.sign(p) * (torch.abs(p) >> DECAY_SHIFT)
    return np.sign(p) * (np.abs(p) >> DECAY_SHIFT)


def wrap_current(u):
    """Wrap the 24-bit current register the way Lava's fixed_pt LIF does."""
    if isinstance(u, torch.Tensor):
        w = torch.where(u > UV_LIMIT, u - 2 * UV_LIMIT, u)
        return torch.where(w <= -UV_LIMIT, u + 2 * UV_LIMIT, w)
    w = np.where(u > UV_LIMIT, u - 2 * UV_LIMIT, u)
    return np.where(w <= -UV_LIMIT, u + 2 * UV_LIMIT, w)


def clip_voltage(v):
    """Saturate the 24-bit voltage register to ``[-(2**23 - 1), 2**23 - 1]``."""
    if isinstance(v, torch.Tensor):
        return torch.clamp(v, -UV_LIMIT + 1, UV_LIMIT - 1)
    return np.clip(v, -UV_LIMIT + 1, UV_LIMIT - 1)


def cuba_step(u: np.ndarray, v: np.ndarray, a_in: np.ndarray, du, dv, vth, bias):
    """One timestep of Loihi's CUBA neuron, as Lava's fixed_pt LIF model computes it.

    ``u``, ``v``: int32 state ``(..., neurons...)`` in 1/4096 units (updated copies
    are returned); ``a_in``: synaptic input in weight units (int); ``du``: the
    netx current decay *minus one* (Lava adds the 1-bit offset back); ``dv``:
    voltage decay; ``vth``: threshold mantissa; ``bias``: effective bias
    (``bias_mant << bias_exp``). Arithmetic wraps in int32 exactly where Lava's does.

    Returns ``(u, v, spikes)``; spikes are bool, ``v`` is reset to 0 where they fire.
    """
    a = np.left_shift(a_in.astype(np.int32), ACT_SHIFT)
    u_new = decay(u.astype(np.int64), np.int64(du) + 1).astype(np.int32) + a
    u_new = wrap_current(u_new).astype(np.int32)
    v_new = decay(v.astype(np.int64), np.int64(dv)).astype(np.int32) + u_new + bias
    v_new = clip_voltage(v_new).astype(np.int32)
    spikes = v_new > np.left_shift(np.int32(vth), VTH_SHIFT)
    v_new[spikes] = 0
    return u_new, v_new, spikes
