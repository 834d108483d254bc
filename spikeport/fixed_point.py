"""Loihi fixed-point arithmetic, NumPy only: the one definition used by training,
export, the fast simulator, the hardware counts and the tests (the straight-through
quantization hooks that training puts on SLAYER blocks are
:mod:`spikeport.train.quantize`, built on these constants).

Scales (what one integer step means):

* weights: ``WEIGHT_SCALE`` (64) steps per 1.0, stored as even integers in
  ``[-256, 254]``: an 8-bit signed mantissa times 2, what netx loads unchanged
  whatever the layer's sign mode (beyond it netx clips mixed-sign layers and
  zeroes single-sign ones, see :func:`netx_weight_bits`);
* neuron state ``u`` (current) and ``v`` (voltage): ``STATE_SCALE`` (4096) steps
  per 1.0; synaptic input and thresholds are shifted left by 6 bits on the chip;
* decays: 12-bit integers, ``decay = round(fraction * 4096)``, applied as
  ``x * (4096 - decay)`` followed by a 12-bit right shift of the magnitude
  (rounding toward zero).

Functions take NumPy arrays (integer dtypes for the state arithmetic). Lava's own
weight handling (netx's ``optimize_weight_bits``, the Dense model's sign mode,
clipping and truncation) is here too, so that the fast backend's reader
derives exactly the weights Lava runs without importing Lava.
"""
from __future__ import annotations

import numpy as np

WEIGHT_SCALE = 1 << 6
ACT_SHIFT = 6                   # synaptic input is MSB-aligned by 6 bits
VTH_SHIFT = 6                   # threshold mantissa is MSB-aligned by 6 bits
STATE_SCALE = WEIGHT_SCALE << ACT_SHIFT
DECAY_SHIFT = 12
DECAY_UNITY = 1 << DECAY_SHIFT
UV_BITS = 24                    # u and v are 24-bit registers
UV_LIMIT = 1 << (UV_BITS - 1)
WEIGHT_BITS = 8
INPUT_LIMIT = 64.0              # analog input current clipped to +-64 weight units (a_in +-4096)
WEIGHT_LO = -(1 << WEIGHT_BITS)                # the exported weight grid: even integers in [-256, 254]
WEIGHT_HI = (1 << WEIGHT_BITS) - 2
# integer dense weights netx's optimize_weight_bits keeps as they are: [-256, 255] when
# every weight has one sign, at most NETX_MIXED_MAX beside negative weights
NETX_WEIGHT_RANGE = (-(1 << WEIGHT_BITS), (1 << WEIGHT_BITS) - 1)
NETX_MIXED_MAX = (1 << WEIGHT_BITS) - 2
MAX_DELAY = 62                  # axonal delays netx keeps (DelayDense's max_delay; it clamps larger ones)
VTH_BITS = 17                   # threshold mantissa bits of Lava's LIF (and Loihi)
VTH_MAX = (1 << VTH_BITS) - 1
BIAS_BITS = 13                  # LIF bias mantissa, signed


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
    return np.sign(p) * (np.abs(p) >> DECAY_SHIFT)


def wrap_current(u):
    """Wrap the 24-bit current register the way Lava's fixed_pt LIF does."""
    w = np.where(u > UV_LIMIT, u - 2 * UV_LIMIT, u)
    return np.where(w <= -UV_LIMIT, u + 2 * UV_LIMIT, w)


def clip_voltage(v):
    """Saturate the 24-bit voltage register to ``[-(2**23 - 1), 2**23 - 1]``."""
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


# ---------------------------------------------------------------------------------
# Synapse accumulators, CUBA over many steps, sigma-delta: what the fast simulator
# (spikeport.sim.fast) runs. Everything below reproduces Lava 0.10's fixed_pt process
# models bit for bit (sim/LAVA_FIXED_PT.md). Accumulators may be float arrays where
# they hold integers exactly (|value| < 2**53; float32 products only when every
# partial sum stays below 2**24), which the callers check.

INT32_BITS = 32
CONV_ACC_BITS = 24              # Lava's conv accumulator is a signed 24-bit register


def wrap_signed(x, bits: int):
    """Two's-complement wrap of integer values to signed ``bits`` (a modular wrap,
    not saturation). ``x``: integer array, or float array holding integers below 2**53."""
    half = 1 << (bits - 1)
    return np.remainder(x + half, 2 * half) - half


def shift_exponent(acc, exp: int):
    """Apply a Loihi weight exponent to an accumulator: ``acc << exp`` for
    ``exp > 0``, the flooring (arithmetic) ``acc >> -exp`` otherwise. Integer arrays,
    or float arrays holding integers (scaling by a power of two is exact)."""
    exp = int(exp)
    if exp == 0:
        return acc
    if np.issubdtype(np.asarray(acc).dtype, np.floating):
        scaled = acc * float(2.0 ** exp)
        return np.floor(scaled) if exp < 0 else scaled
    return np.left_shift(acc, exp) if exp > 0 else np.right_shift(acc, -exp)


def wrap32(x):
    """int64 -> the int32 two's-complement value (numba-compilable)."""
    return ((x + 2147483648) & 4294967295) - 2147483648


def rtz12(x):
    """Lava's decay rounding: ``sign(x) * (|x| >> 12)`` (numba-compilable)."""
    return -((-x) >> DECAY_SHIFT) if x < 0 else x >> DECAY_SHIFT


def _cuba_loop(u, v, a, ku, kv, th, bias, spikes, resets, changed):
    """:func:`cuba_step` over ``T`` steps, element by element in int64 with an
    explicit int32 wrap wherever Lava's int32 arrays wrap (compiled by numba).
    Neuron-major: ``u``, ``v`` ``(n, batch)``, ``a``, ``spikes`` ``(n, T, batch)``;
    ``changed[t, b]`` (int64 ``(T, batch)``) counts the neurons whose voltage after
    step ``t`` differs from their voltage after step ``t - 1``."""
    nn, steps, nb = a.shape
    lim = UV_LIMIT
    for n in range(nn):
        bn = np.int64(bias[n])
        for t in range(steps):
            for b in range(nb):
                before = v[n, b]
                if resets[t]:
                    u[n, b] = 0
                    v[n, b] = 0
                act = wrap32(np.int64(a[n, t, b]) << ACT_SHIFT)    # a_in << 6 in int32
                cur = wrap32(wrap32(rtz12(np.int64(u[n, b]) * ku)) + act)
                w = cur - 2 * lim if cur > lim else cur             # Lava's one-sided 24-bit wrap
                if w <= -lim:
                    w = cur + 2 * lim
                u[n, b] = w
                vol = wrap32(wrap32(wrap32(rtz12(np.int64(v[n, b]) * kv)) + w) + bn)
                vol = min(max(vol, -lim + 1), lim - 1)
                fire = vol > th
                spikes[n, t, b] = fire
                v[n, b] = 0 if fire else vol
                if v[n, b] != before:
                    changed[t, b] += 1


_KERNEL: list = []


def _cuba_kernel():
    """The numba-compiled :func:`_cuba_loop` (compiled, or loaded from numba's cache,
    on first use), or None without numba (it comes with librosa)."""
    if not _KERNEL:
        try:
            import numba
        except ImportError:  # pragma: no cover
            _KERNEL.append(None)
        else:
            g = globals()
            g["wrap32"] = numba.njit(cache=True, inline="always")(wrap32)
            g["rtz12"] = numba.njit(cache=True, inline="always")(rtz12)
            _KERNEL.append(numba.njit(cache=True, nogil=True)(_cuba_loop))
    return _KERNEL[0]


COMPILE_MIN = 1 << 22           # neuron-steps from which numba's import and kernel load pay off


def cuba_run(u: np.ndarray, v: np.ndarray, a: np.ndarray, du: int, dv: int, vth: int, bias,
             spikes: np.ndarray, reset_at=(), compiled: bool | None = None,
             changed: np.ndarray | None = None) -> None:
    """Run CUBA neurons over ``T`` timesteps in place: :func:`cuba_step`'s arithmetic.

    Neuron-major arrays: ``u``, ``v``: int32 state ``(n, batch)`` in 1/4096 units,
    updated in place; ``a``: synaptic input ``(n, T, batch)`` in weight units
    (integer values in any numeric dtype; int32 as Lava receives them); ``du``,
    ``dv``, ``vth``: as for :func:`cuba_step`; ``bias``: effective bias, ``(n,)`` or
    a scalar; ``spikes``: bool ``(n, T, batch)``, written; ``reset_at``: steps
    (0-based, within this call) before which ``u`` and ``v`` are zeroed (Lava's
    ``LIFReset``); ``changed``: int64 ``(T, batch)``, incremented by the number of
    neurons whose voltage (after the spike reset) changed in each step.

    ``compiled=True`` runs the numba kernel (numba comes with librosa), ``False``
    :func:`cuba_step` step by step (vectorised over neurons and batch); None, the
    default, the kernel when numba is loaded already or the call holds at least
    :data:`COMPILE_MIN` neuron-steps (a short single-sample run then starts without
    numba's half-second import). Both are exact.
    """
    nn, steps = a.shape[:2]
    resets = np.zeros(steps, np.bool_)
    for r in reset_at:
        resets[int(r)] = True
    if changed is None:
        changed = np.zeros((steps, a.shape[2]), np.int64)
    bias32 = np.ascontiguousarray(np.broadcast_to(np.asarray(bias, np.int32).reshape(-1), (nn,)))
    if compiled is None:
        import sys

        compiled = "numba" in sys.modules or a.size >= COMPILE_MIN
    kernel = _cuba_kernel() if compiled else None
    if kernel is not None and u.dtype == np.int32 and v.dtype == np.int32:
        ku = DECAY_UNITY - (int(du) + 1)
        kv = DECAY_UNITY - int(dv)
        th = int(np.left_shift(np.int32(vth), VTH_SHIFT))
        kernel(u, v, a, ku, kv, th, bias32, spikes, resets, changed)
        return
    for t in range(steps):
        before = v.copy()
        if resets[t]:
            u[...] = 0
            v[...] = 0
        un, vn, s = cuba_step(u, v, np.asarray(a[:, t]), du, dv, vth, bias32[:, None])
        u[...] = un
        v[...] = vn
        spikes[:, t] = s
        changed[t] += np.count_nonzero(vn != before, axis=0)


def delta_quantize(act: np.ndarray, residue: np.ndarray, x: np.ndarray, vth: np.ndarray):
    """Lava's delta encoder (``cum_error`` off): ``delta = x - act + residue``, sent
    where ``|delta| >= vth`` (note ``>=``, unlike the LIF's ``>``). All int32.
    Returns ``(s, residue)``; the caller stores ``x`` as the new ``act``."""
    delta = x - act + residue
    s = np.where(np.abs(delta) >= vth, delta, 0)
    return s, delta - s


def delta_step(act: np.ndarray, residue: np.ndarray, a_in: np.ndarray, vth: np.ndarray,
               spike_exp: np.ndarray, state_exp: np.ndarray):
    """One step of Lava's fixed_pt ``Delta`` (a sigma-delta input layer).

    ``act``, ``residue``: int32 state ``(batch, n)``; ``a_in``: int32 input;
    ``vth``: the process's scaled threshold (``vThMant << (spike_exp + state_exp)``);
    ``spike_exp``, ``state_exp``: int32 arrays as the process holds them. Returns
    ``(act, residue, s_out)``; ``s_out`` (int32 graded spikes) is ``s >> state_exp``
    (flooring; the dropped bits are not kept).
    """
    x = np.left_shift(a_in, spike_exp + state_exp)
    s, residue = delta_quantize(act, residue, x, vth)
    return x, residue, np.right_shift(s, state_exp)


def sigma_delta_step(sigma: np.ndarray, act: np.ndarray, residue: np.ndarray, a_in: np.ndarray,
                     vth: np.ndarray, bias: np.ndarray, state_exp: np.ndarray, relu: bool = True):
    """One step of Lava's fixed_pt ``SigmaDelta``: ``sigma += a_in`` (unshifted),
    ``act = relu(sigma + bias)`` (or no activation with ``relu=False``), then the
    delta encoder on ``act``. All int32 ``(batch, n)``; ``bias`` scaled as the
    process holds it. Returns ``(sigma, act, residue, s_out)``."""
    sigma = a_in + sigma
    act_new = sigma + bias
    if relu:
        act_new = np.maximum(act_new, 0)
    s, residue = delta_quantize(act, residue, act_new, vth)
    return sigma, act_new, residue, np.right_shift(s, state_exp)


def sigma_step(sigma: np.ndarray, a_in: np.ndarray):
    """One step of Lava's fixed_pt ``Sigma`` (a sigma-decoding output layer):
    ``sigma += a_in``, sent as is. int32. Returns ``(sigma, s_out)``."""
    sigma = a_in + sigma
    return sigma, sigma.copy()


# ---------------------------------------------------------------------------------
# Resonate-and-fire neurons (Lava's PyRFModelFixed / PyRF_IZModelFixed).

RF_DECAY_BITS = 12
RF_STATE_EXP = 6
RF_LIMIT = (1 << 23) - 1        # real and imaginary parts saturate at +-(2**23 - 1)


def _scale_rf(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.right_shift(np.abs(x), RF_DECAY_BITS)


def rf_step(real: np.ndarray, imag: np.ndarray, a_real: np.ndarray, a_imag: np.ndarray, sin_decay: int,
            cos_decay: int, vth: int, izhikevich: bool = False):
    """One step of Lava's fixed-point resonate-and-fire neuron. ``real``, ``imag``:
    int32 state ``(n, batch)``; ``a_real``, ``a_imag``: the two synapses' inputs;
    ``sin_decay``, ``cos_decay``: 12-bit fixed-point rotation (``(1 - alpha) sin/cos(2 pi
    / period) * 4096``); ``vth``: threshold scaled by ``2**6``. ``izhikevich``: RF_IZ
    (spike when ``imag >= vth``, then ``real = 0``, ``imag = vth - 1``); else RF
    (spike when ``real >= vth`` and ``imag`` crosses zero upwards). Returns
    ``(real, imag, spikes)``."""
    ar = np.left_shift(a_real.astype(np.int64), RF_STATE_EXP)
    ai = np.left_shift(a_imag.astype(np.int64), RF_STATE_EXP)
    r, i = real.astype(np.int64), imag.astype(np.int64)
    new_r = np.clip(_scale_rf(cos_decay * r) - _scale_rf(sin_decay * i) + ar, -RF_LIMIT, RF_LIMIT)
    new_i = np.clip(_scale_rf(sin_decay * r) + _scale_rf(cos_decay * i) + ai, -RF_LIMIT, RF_LIMIT)
    if izhikevich:
        s = new_i >= vth
        new_r = np.where(s, 0, new_r)
        new_i = np.where(s, vth - 1, new_i)
    else:
        s = (new_r >= vth) & (new_i >= 0) & (imag < 0)
    return new_r.astype(np.int32), new_i.astype(np.int32), s


# ---------------------------------------------------------------------------------
# Weights as netx and Lava's Dense model prepare them (lava-dl 0.6 netx/utils.py
# optimize_weight_bits; lava-nc 0.10 utils/weightutils.py determine_sign_mode,
# clip_weights, truncate_weights): what the chip's synapses hold.

MIXED, EXCITATORY, INHIBITORY = "mixed", "excitatory", "inhibitory"


def netx_weight_bits(w: np.ndarray) -> tuple[np.ndarray, int, int]:
    """netx's ``optimize_weight_bits`` of integer weights ``w``: the shifted weights,
    ``num_weight_bits`` and ``weight_exp`` (netx prints a warning and clips to
    [-256, 254] weights of mixed sign beyond that range). ``w`` must not be all zero
    (netx divides by its largest magnitude)."""
    w = np.asarray(w)
    mx, mn = np.max(w), np.min(w)
    if (mx > 254 and mn < 0) or (mn < -256 and mx > 0):
        w = np.clip(w, -256, 254)
        mx, mn = np.max(w), np.min(w)
    if mx < 0:
        signed, scale = 0, -256 / mn
    elif mn >= 0:
        signed, scale = 0, 255 / mx
    else:
        signed, scale = 1, min(127 / mx, -128 / mn)
    scale_bits = np.floor(np.log2(scale)) + signed
    n = 8
    while n > 0 and np.sum(np.abs(w / (2 ** n) - np.round(w / (2 ** n)))) != 0:
        n -= 1
    n -= signed
    shifted = np.left_shift(w.astype(np.int32), int(scale_bits))
    return shifted.astype(np.int64), int(8 - scale_bits - n), int(-scale_bits)


def sign_mode(w: np.ndarray) -> str:
    """Lava's ``determine_sign_mode``."""
    if np.min(w) >= 0:
        return EXCITATORY
    if np.max(w) <= 0:
        return INHIBITORY
    return MIXED


def lava_weights(w: np.ndarray, num_weight_bits: int) -> np.ndarray:
    """The weights Lava's bit-accurate Dense model runs: clipped to 8 bits and
    truncated to ``num_weight_bits`` in its own sign mode (int64)."""
    w = np.asarray(w).astype(np.int32)
    mode = sign_mode(w)
    mixed = int(mode == MIXED)
    if mode == INHIBITORY:
        w = -w
    w = np.clip(w, (-2 ** 8) * mixed, 2 ** 8 - 1)
    t = 8 - int(num_weight_bits) + mixed
    w = np.left_shift(np.right_shift(w, t), t)
    if mode == INHIBITORY:
        w = -w
    return w.astype(np.int64)


def netx_keeps(parts: list[np.ndarray]) -> bool:
    """Whether netx's weight optimiser and Lava's Dense model run the integer dense
    weights ``parts`` exactly as written. ``parts``: matrices ``(out, in_k)`` that share
    one exponent (a ``dense_rec`` layer's feed-forward and recurrent weights; one matrix
    otherwise). They do not when the optimiser counts a sign bit the weights lack (all
    <= 0 with zeros: it takes them as mixed) and Lava then drops their lowest bit."""
    both = np.hstack([np.asarray(p) for p in parts])
    if not np.any(both):
        return False
    with np.errstate(divide="ignore"):
        shifted, bits, exp = netx_weight_bits(both)
    edges = np.cumsum([0] + [np.asarray(p).shape[1] for p in parts])
    return all(np.array_equal(lava_weights(shifted[:, a:b], bits) * 2.0 ** exp, p)
               for a, b, p in zip(edges[:-1], edges[1:], parts))
