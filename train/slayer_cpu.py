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

Three more drop-ins cut allocations and a slow convolution without changing a bit:
:func:`shift_group` (the one-step neuron delay), :func:`causal_fir` (the time
difference in the axonal-delay gradient) and :func:`spike_surrogate` (the surrogate
derivative, in place). Together with the kernels above they make a default
keyword-spotting epoch about a quarter faster than these three left to SLAYER
(``bench/train_step.py --epoch-clips``). :data:`SLAYER_CPU_FUNCTIONS` names every
function replaced; :func:`route` switches one back and forth.
"""
from __future__ import annotations

import importlib

import numpy as np
import torch

from spikeport.fixed_point import DECAY_SHIFT, rtz12

ORIGINAL: dict = {}
_KERNELS: dict = {}


# Rows go through the kernels in tiles of LANES, a step at a time for every row of the
# tile: each row's recurrence is a serial chain, and interleaving 16 of them lets the
# core overlap their latencies (on 40,960 rows x 151 steps, forward about 2x and
# backward about 1.15x faster than a row at a time). Each row still sees the same
# operations in the same order.
LANES = 16


def _fwd_loop(x, state, decay_int, threshold, w_scale, out):
    """``x``, ``out``: float32 ``(rows, T)``; ``state``: float32 ``(rows,)``."""
    rows, steps = x.shape
    ws = np.float32(w_scale)
    th = np.float32(threshold)
    for tile in _prange((rows + LANES - 1) // LANES):
        r0 = tile * LANES
        n = min(LANES, rows - r0)
        y = np.empty(LANES, np.int64)
        for j in range(n):
            y[j] = np.int64(state[r0 + j] * ws)
        for t in range(steps):
            for j in range(n):
                v = rtz12(y[j] * decay_int) + np.int64(ws * x[r0 + j, t])
                out[r0 + j, t] = np.float32(v) / ws
                if th > 0 and np.float32(v) >= th:
                    v = 0
                y[j] = v


def _bwd_loop(grad_out, output, decay, grad_in, partial):
    """``grad_out``, ``output``, ``grad_in``: float32 ``(rows, T)``; ``decay``:
    float32 ``1 - decay/4096``; ``partial``: float64 ``(rows,)`` decay-gradient sums."""
    rows, steps = grad_out.shape
    for tile in _prange((rows + LANES - 1) // LANES):
        r0 = tile * LANES
        n = min(LANES, rows - r0)
        g = np.empty(LANES, np.float32)
        acc = np.zeros(LANES, np.float64)
        for j in range(n):
            g[j] = grad_out[r0 + j, steps - 1]
            grad_in[r0 + j, steps - 1] = g[j]
        for t in range(steps - 2, -1, -1):
            for j in range(n):
                acc[j] += np.float64(g[j]) * np.float64(output[r0 + j, t])
                g[j] = decay * g[j] + grad_out[r0 + j, t]
                grad_in[r0 + j, t] = g[j]
        for j in range(n):
            partial[r0 + j] = acc[j]


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


def shift_group(input: torch.Tensor, shift_val, sampling_time=1) -> torch.Tensor:
    """Drop-in for SLAYER's CPU ``_shift_group`` (every row of ``input`` ``(..., T)``
    moved ``int(shift_val / sampling_time)`` steps later, earlier when negative, zeros
    filling in; the neuron's one-step delay in every block). One padded copy instead of
    SLAYER's two zero-filled allocations and a slice assignment; the same values."""
    if input.dim() <= 1:
        return ORIGINAL["shift_group"](input, shift_val, sampling_time)
    if hasattr(shift_val, "grad"):
        shift_val = shift_val.item()
    lag = int(shift_val / sampling_time)
    steps = input.shape[-1]
    if lag == 0:
        return input
    if abs(lag) >= steps:
        return torch.zeros_like(input)
    if lag > 0:
        return torch.nn.functional.pad(input[..., :-lag], (lag, 0))
    return torch.nn.functional.pad(input[..., -lag:], (0, -lag))


def causal_fir(input: torch.Tensor, filter: torch.Tensor, sampling_time=1) -> torch.Tensor:
    """Drop-in for SLAYER's CPU causal filter ``utils.filter.conv._fwd``:
    ``y[t] = sampling_time * sum_k filter[k] * input[t - k]`` along the last axis.

    Only two-tap filters with taps in {-1, 0, 1} take the fast path (SLAYER's delay
    gradient differentiates its output in time with ``[-1, 1]``, through a 3-D
    convolution that cost about 18 % of a keyword-spotting training step): there each
    product is exact and the sum of two is rounded once, so the result is bit for bit
    the convolution's. Any other filter goes to SLAYER's function."""
    taps = filter.detach().flatten()
    if (input.is_cuda or taps.numel() != 2 or input.dtype != taps.dtype
            or not bool(((taps == 0) | (taps.abs() == 1)).all())):
        return ORIGINAL["fir"](input, filter, sampling_time)
    before = torch.nn.functional.pad(input[..., :-1], (1, 0))
    return (before * taps[1] + input * taps[0]) * sampling_time


def spike_surrogate(voltage, threshold, tau_rho, scale_rho, graded_spike=False):
    """Drop-in for SLAYER's ``spike._spike_backward`` (the surrogate derivative
    ``scale_rho / (2 tau_rho) * exp(-|v - threshold| / tau_rho)``): the same float32
    operations in the same order, done in place in one buffer instead of five, so the
    same values. Graded spikes go to SLAYER's function."""
    if graded_spike is not False:
        return ORIGINAL["surrogate"](voltage, threshold, tau_rho, scale_rho, graded_spike)
    out = voltage - threshold
    return out.abs_().neg_().div_(tau_rho).exp_().mul_(scale_rho / 2 / tau_rho)


def _shift_module():
    # the package re-exports a function called shift, so reach the module itself
    return importlib.import_module("lava.lib.dl.slayer.utils.time.shift")


# key in ORIGINAL -> (SLAYER module, the CPU function there, spikeport's drop-in)
SLAYER_CPU_FUNCTIONS = {
    "fwd": ("lava.lib.dl.slayer.neuron.dynamics.leaky_integrator", "_li_dynamics_fwd", "li_forward"),
    "bwd": ("lava.lib.dl.slayer.neuron.dynamics.leaky_integrator", "_li_dynamics_bwd", "li_backward"),
    "shift": ("lava.lib.dl.slayer.utils.time.shift", "_shift_individual", "shift_individual"),
    "shift_group": ("lava.lib.dl.slayer.utils.time.shift", "_shift_group", "shift_group"),
    "fir": ("lava.lib.dl.slayer.utils.filter.conv", "_fwd", "causal_fir"),
    "surrogate": ("lava.lib.dl.slayer.spike.spike", "_spike_backward", "spike_surrogate"),
}


def route(key: str, fast: bool) -> None:
    """Point SLAYER's function ``key`` (of :data:`SLAYER_CPU_FUNCTIONS`) at spikeport's
    drop-in, or back at SLAYER's own (``ORIGINAL[key]``); after :func:`install`."""
    module, name, drop_in = SLAYER_CPU_FUNCTIONS[key]
    setattr(importlib.import_module(module), name, globals()[drop_in] if fast else ORIGINAL[key])


def install() -> bool:
    """Route every SLAYER CPU function of :data:`SLAYER_CPU_FUNCTIONS` through its
    drop-in (idempotent). Returns False where numba is missing (SLAYER's stay)."""
    from spikeport.lava_compat import import_slayer

    import_slayer()
    if ORIGINAL:
        return True
    try:
        _kernels()
    except ImportError:  # pragma: no cover - numba comes with librosa
        return False
    for key, (module, name, _) in SLAYER_CPU_FUNCTIONS.items():
        ORIGINAL[key] = getattr(importlib.import_module(module), name)
        route(key, True)
    return True


def uninstall() -> None:
    """Restore SLAYER's own functions."""
    for key in list(ORIGINAL):
        route(key, False)
        del ORIGINAL[key]
