"""A compiled CPU path for SLAYER's leaky-integrator dynamics (training speed).

On the CPU, lava-dl 0.6 runs the CUBA neuron's current and voltage integrators
(``slayer.neuron.dynamics.leaky_integrator``) as a Python loop over timesteps, a
dozen tensor operations per step per layer: about 70% of a keyword-spotting
training step. :func:`install` swaps that module's two CPU functions for numba
kernels that loop over neurons in compiled code and do the same arithmetic:

* forward, per neuron, in int64 on the ``w_scale`` grid:
  ``y = rtz12(y * (4096 - decay)) + int(w_scale * x[t])``, spike where
  ``float32(y) >= float32(threshold * w_scale)`` and reset ``y`` to 0 after the step;
  output ``float32(y) / float32(w_scale)``. Bit-identical to SLAYER's loop (the
  test suite compares them on random inputs, and SLAYER nets spike for spike
  against Lava).
* backward: SLAYER's ``g[t] = (1 - decay/4096) * g[t+1] + grad_out[t]`` in float32
  and the decay gradient ``sum(g[1:] * y[:-1])`` (accumulated in float64, so it can
  differ from SLAYER's in the last bits).

Only the case the blocks use is compiled: float32 CPU tensors and one decay
shared by the layer. Anything else (CUDA tensors, per-neuron decays, a tensor
threshold) goes to SLAYER's own functions, which stay reachable as
``ORIGINAL["fwd"]`` and ``ORIGINAL["bwd"]``.

The axonal delay of a layer with one delay per neuron is, on the CPU, another
Python loop (over neurons, in ``slayer.utils.time.shift``); :func:`shift_individual`
replaces it with one gather (``ORIGINAL["shift"]`` keeps SLAYER's).
"""
from __future__ import annotations

import numpy as np
import torch

from spikeport.fixed_point import DECAY_SHIFT, rtz12

ORIGINAL: dict = {}
_KERNELS: dict = {}


def _fwd_loop(x, state, decay_int, threshold, w_scale, out):
    """``x``, ``out``: float32 ``(rows, T)``; ``state``: float32 ``(rows,)``."""
    rows, steps = x.shape
    ws = np.float32(w_scale)
    th = np.float32(threshold)
    for r in _prange(rows):
        y = np.int64(state[r] * ws)
        for t in range(steps):
            y = rtz12(y * decay_int) + np.int64(ws * x[r, t])
            out[r, t] = np.float32(y) / ws
            if th > 0 and np.float32(y) >= th:
                y = 0


def _bwd_loop(grad_out, output, decay, grad_in, partial):
    """``grad_out``, ``output``, ``grad_in``: float32 ``(rows, T)``; ``decay``:
    float32 ``1 - decay/4096``; ``partial``: float64 ``(rows,)`` decay-gradient sums."""
    rows, steps = grad_out.shape
    for r in _prange(rows):
        g = grad_out[r, steps - 1]
        grad_in[r, steps - 1] = g
        acc = 0.0
        for t in range(steps - 2, -1, -1):
            acc += np.float64(g) * np.float64(output[r, t])
            g = decay * g + grad_out[r, t]
            grad_in[r, t] = g
        partial[r] = acc


def _prange(n):  # replaced by numba.prange when compiled
    return range(n)


def _kernels():
    if not _KERNELS:
        import numba

        g = globals()
        # fixed_point may have swapped its rtz12 for a compiled one already
        g["rtz12"] = numba.njit(cache=True, inline="always")(getattr(rtz12, "py_func", rtz12))
        g["_prange"] = numba.prange
        opts = dict(cache=True, nogil=True, parallel=True)
        _KERNELS["fwd"] = numba.njit(**opts)(_fwd_loop)
        _KERNELS["bwd"] = numba.njit(**opts)(_bwd_loop)
    return _KERNELS


def _rows(t: torch.Tensor) -> np.ndarray:
    return t.detach().reshape(-1, t.shape[-1]).contiguous().numpy()


def reset_threshold(threshold: float, w_scale: int) -> np.float32:
    """The voltage on the ``w_scale`` grid at or above which SLAYER's CPU integrator
    resets, ``float32(threshold * w_scale)`` (``threshold`` includes SLAYER's eps)."""
    return np.float32(float(threshold) * w_scale)


def li_forward(input: torch.Tensor, decay: torch.Tensor, state: torch.Tensor, threshold, w_scale,
               dtype=torch.int32) -> torch.Tensor:
    """Drop-in for SLAYER's ``_li_dynamics_fwd``: ``input`` ``(..., T)``, ``state``
    ``input.shape[:-1]``; returns the integrator's output ``(..., T)`` (float32)."""
    if (input.is_cuda or input.dtype != torch.float32 or decay.numel() != 1
            or torch.is_tensor(threshold) or state.shape != input.shape[:-1]):
        return ORIGINAL["fwd"](input, decay, state, threshold, w_scale, dtype=dtype)
    x = _rows(input)
    out = np.empty_like(x)
    decay_int = (1 << DECAY_SHIFT) - int(decay.detach().to(torch.int64).item())
    th = float(reset_threshold(threshold, w_scale))
    _kernels()["fwd"](x, state.detach().reshape(-1).to(torch.float32).contiguous().numpy(),
                      decay_int, th, int(w_scale), out)
    return torch.from_numpy(out).reshape(input.shape)


def li_backward(grad_output: torch.Tensor, output: torch.Tensor, decay: torch.Tensor):
    """Drop-in for SLAYER's ``_li_dynamics_bwd``: returns ``(grad_input, grad_decay)``."""
    if (grad_output.is_cuda or grad_output.dtype != torch.float32 or output.dtype != torch.float32
            or decay.numel() != 1):
        return ORIGINAL["bwd"](grad_output, output, decay)
    go = _rows(grad_output)
    grad_in = np.empty_like(go)
    partial = np.empty(go.shape[0], np.float64)
    k = (1 - decay.detach() / (1 << DECAY_SHIFT)).to(torch.float32).item()
    _kernels()["bwd"](go, _rows(output), np.float32(k), grad_in, partial)
    grad_decay = torch.tensor([partial.sum()], dtype=decay.dtype)
    return torch.from_numpy(grad_in).reshape(grad_output.shape), grad_decay


def shift_individual(input: torch.Tensor, shift_val: torch.Tensor, sampling_time=1) -> torch.Tensor:
    """Drop-in for SLAYER's CPU ``_shift_individual`` (the axonal delay, forward and
    backward): row ``i`` of ``input`` ``(batch, neurons..., T)`` moves ``int(shift_val[i])``
    steps later (earlier when negative), zeros filling in. One gather
    instead of SLAYER's Python loop over neurons; the same values (pure data movement)."""
    if sampling_time != 1 or int(np.prod(input.shape[1:-1])) != shift_val.numel():
        # (SLAYER divides by a sampling time twice on this path; the blocks use 1)
        return ORIGINAL["shift"](input, shift_val, sampling_time)
    x = input.reshape(input.shape[0], -1, input.shape[-1])
    steps = x.shape[-1]
    lag = shift_val.detach().flatten().to(torch.int64)  # truncates toward zero, like int()
    src = torch.arange(steps, device=x.device)[None, :] - lag[:, None]
    moved = torch.gather(x, 2, src.clamp(0, steps - 1).expand(x.shape[0], -1, -1))
    inside = (src >= 0) & (src < steps)
    return torch.where(inside, moved, torch.zeros((), dtype=x.dtype)).reshape(input.shape)


def _shift_module():
    import importlib

    # the package re-exports a function called shift, so reach the module itself
    return importlib.import_module("lava.lib.dl.slayer.utils.time.shift")


def install() -> bool:
    """Route SLAYER's CPU leaky-integrator loops through the compiled kernels and its
    per-neuron delay loop through :func:`shift_individual` (idempotent). Returns
    False where numba is missing (SLAYER's loops stay)."""
    from spikeport.lava_compat import import_slayer

    import_slayer()
    from lava.lib.dl.slayer.neuron.dynamics import leaky_integrator as li

    if ORIGINAL:
        return True
    try:
        _kernels()
    except ImportError:  # pragma: no cover - numba comes with librosa
        return False
    sh = _shift_module()
    ORIGINAL["fwd"], ORIGINAL["bwd"] = li._li_dynamics_fwd, li._li_dynamics_bwd
    ORIGINAL["shift"] = sh._shift_individual
    li._li_dynamics_fwd, li._li_dynamics_bwd = li_forward, li_backward
    sh._shift_individual = shift_individual
    return True


def uninstall() -> None:
    """Restore SLAYER's own loops."""
    if ORIGINAL:
        from lava.lib.dl.slayer.neuron.dynamics import leaky_integrator as li

        li._li_dynamics_fwd, li._li_dynamics_bwd = ORIGINAL.pop("fwd"), ORIGINAL.pop("bwd")
        _shift_module()._shift_individual = ORIGINAL.pop("shift")
