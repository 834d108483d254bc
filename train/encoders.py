"""Turn feature arrays into the input of a spiking network.

The keyword-spotting encoders, reached by name through :func:`encode`
(``ENCODERS``). They take log-mel features shaped ``(clips, channels, bands,
  frames)`` -- float32 z-scores, roughly in [-3, 3], one frame = 10 ms -- and
  return float32 ``(clips, channels_out, bands, T)`` with time last, as SLAYER
  blocks expect. ``T = frames * steps_per_frame`` timesteps; ``channels_out`` is
  ``channels`` except for ``delta`` (ON and OFF channels: ``2 * channels``).

  ============  ========================================  =================  ===========
  name          output                                    steps_per_frame    channels
  ============  ========================================  =================  ===========
  ``direct``    analog current (z-score units)            K >= 1, default 1  ``C``
  ``rate``      0/1 Bernoulli spikes                      K >= 1, default 1  ``C``
  ``latency``   0/1, at most one spike per frame window   K >= 2, default 4  ``C``
  ``delta``     0/1 ON/OFF send-on-delta events           K >= 1, default 1  ``2 C``
  ============  ========================================  =================  ===========

Everything is numpy in, numpy out, and deterministic: only ``rate`` draws random
numbers, from ``numpy.random.default_rng(seed)``.
"""
from __future__ import annotations

import inspect
from typing import Callable

import numpy as np

from spikeport.errors import SpikeportError


# ---------------------------------------------------------------------------
# Keyword-spotting encoders: (clips, channels, bands, frames) -> (clips, C', bands, T)
# ---------------------------------------------------------------------------

UNIT_MAPS = ("logistic", "affine")


def to_unit(features: np.ndarray, unit_map: str = "logistic", gain: float = 1.0,
            span: float = 3.0) -> np.ndarray:
    """Map z-scored features elementwise into [0, 1] (float64, same shape).

    * ``"logistic"``: ``p = 1 / (1 + exp(-gain * z))`` -- 0.5 at the band mean,
      never exactly 0 or 1.
    * ``"affine"``: ``p = clip((z + span) / (2 * span), 0, 1)`` -- 0 at
      ``-span``, 0.5 at the mean, 1 at ``+span`` and beyond.

    The map is elementwise, so each clip is encoded on its own (no statistics are
    shared between clips; the per-band z-scoring already happened upstream).
    """
    _unit_map(unit_map, gain, span)
    z = np.asarray(features, dtype=np.float64)
    if unit_map == "logistic":
        # exp overflows to inf for very negative gain*z, which gives the right limit 0.
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-gain * z))
    return np.clip((z + span) / (2.0 * span), 0.0, 1.0)


def direct_encode(features: np.ndarray, scale: float = 1.0, clip: float | None = None,
                  steps_per_frame: int = 1) -> np.ndarray:
    """Analog input current: the features themselves, for the first layer's
    neurons to quantize.

    ``features``: float ``(clips, channels, bands, frames)``, z-score units.
    Returns float32 ``(clips, channels, bands, frames * steps_per_frame)`` holding
    ``scale * features``, then clipped to ``[-clip, clip]`` when ``clip`` is
    given, each frame repeated for ``steps_per_frame`` timesteps (zero-order hold).
    """
    x = _check_features(features)
    _check_direct(scale, clip, steps_per_frame)
    out = x * scale
    if clip is not None:
        out = np.clip(out, -clip, clip)
    return _hold(out.astype(np.float32), steps_per_frame)


def rate_code(features: np.ndarray, max_rate: float = 0.5, steps_per_frame: int = 1,
              unit_map: str = "logistic", gain: float = 1.0, span: float = 3.0,
              seed: int = 0) -> np.ndarray:
    """Bernoulli rate code of z-scored features.

    Each value is mapped to ``p`` in [0, 1] by :func:`to_unit`; at every timestep
    of its frame the input neuron spikes, independently, with probability
    ``p * max_rate`` (``max_rate`` in spikes per timestep, in (0, 1]). Each frame
    lasts ``steps_per_frame`` timesteps, so one frame carries on average
    ``p * max_rate * steps_per_frame`` spikes.

    ``features``: float ``(clips, channels, bands, frames)``. Returns float32 0/1
    ``(clips, channels, bands, frames * steps_per_frame)``; the same ``seed``
    gives the same spikes.
    """
    x = _check_features(features)
    _check_rate(max_rate, steps_per_frame, unit_map, gain, span, seed)
    p = _hold(to_unit(x, unit_map, gain, span).astype(np.float32) * np.float32(max_rate),
              steps_per_frame)
    rng = np.random.default_rng(seed)
    return (rng.random(p.shape, dtype=np.float32) < p).astype(np.float32)


def latency_encode(features: np.ndarray, steps_per_frame: int = 4, threshold: float = 0.5,
                   unit_map: str = "logistic", gain: float = 1.0,
                   span: float = 3.0) -> np.ndarray:
    """Time-to-first-spike code: at most one spike per frame, earlier for larger values.

    Each frame becomes a window of ``K = steps_per_frame >= 2`` timesteps. A value
    mapped to ``x`` in [0, 1] by :func:`to_unit` emits one spike at sub-step
    ``round((1 - x) * (K - 1))`` (halves round up, i.e. later) of its window when
    ``x > threshold``, and no spike otherwise: ``x = 1`` fires on the window's
    first timestep, ``x`` just above ``threshold`` the latest.

    ``features``: float ``(clips, channels, bands, frames)``. Returns float32 0/1
    ``(clips, channels, bands, frames * K)``.
    """
    x = _check_features(features)
    _check_latency(steps_per_frame, threshold, unit_map, gain, span)
    k = steps_per_frame
    u = to_unit(x, unit_map, gain, span)
    sub = np.floor((1.0 - u) * (k - 1) + 0.5).astype(np.int64)
    window = np.arange(k)
    spikes = (sub[..., None] == window) & (u > threshold)[..., None]
    return spikes.reshape(x.shape[:-1] + (x.shape[-1] * k,)).astype(np.float32)


DELTA_REFERENCES = ("zero", "first")


def delta_encode(features: np.ndarray, threshold: float = 0.5, steps_per_frame: int = 1,
                 reference: str = "zero") -> np.ndarray:
    """Send-on-delta code: one ON and one OFF integrate-and-fire neuron per input
    value, sharing one membrane potential.

    The potential integrates the change of the signal since the start;
    ``reference`` is the value the signal is taken to start from (``"zero"``:
    0, the band mean of z-scored features, so the first frame's level is sent
    too; ``"first"``: the first frame, so only later changes are sent). At each
    timestep, after adding the change:

    * potential ``>= +threshold``: the ON neuron spikes and ``threshold`` is
      subtracted from the potential;
    * potential ``<= -threshold``: the OFF neuron spikes and ``threshold`` is
      added to the potential;

    both neurons see the reset, since the potential is shared. At most one
    spike per timestep: a jump of several thresholds keeps its residue in the
    potential and is sent over the following timesteps (one event each), so
    slow drifts and fast jumps are both tracked and never lost. Equivalently the
    potential is ``signal - reconstruction`` with
    ``reconstruction = reference + threshold * (ON count - OFF count)`` so far.
    Each frame is held for ``steps_per_frame`` timesteps (its change arrives on
    the first), which gives large jumps time to drain within the frame.

    ``features``: float ``(clips, channels, bands, frames)``, ``threshold`` in
    the features' units (z-scores). Returns float32 0/1
    ``(clips, 2 * channels, bands, frames * steps_per_frame)``: ON channels
    ``[0, channels)`` first, then OFF channels ``[channels, 2 * channels)``.
    """
    x = _check_features(features)
    _check_delta(threshold, steps_per_frame, reference)
    signal = _hold(x, steps_per_frame)
    recon = np.zeros(signal.shape[:-1]) if reference == "zero" else signal[..., 0].copy()
    on = np.zeros(signal.shape, dtype=np.float32)
    off = np.zeros(signal.shape, dtype=np.float32)
    # Potential = signal - reconstruction, recomputed each step rather than
    # accumulated, so float rounding cannot drift over long clips.
    for t in range(signal.shape[-1]):
        v = signal[..., t] - recon
        up = v >= threshold
        down = v <= -threshold
        on[..., t] = up
        off[..., t] = down
        recon += threshold * (up.astype(np.float64) - down.astype(np.float64))
    return np.concatenate([on, off], axis=1)


EncoderFn = Callable[..., np.ndarray]

ENCODERS: dict[str, EncoderFn] = {
    "direct": direct_encode,
    "rate": rate_code,
    "latency": latency_encode,
    "delta": delta_encode,
}

# Output channels per input channel.
_CHANNEL_FACTOR = {"direct": 1, "rate": 1, "latency": 1, "delta": 2}


def encode(name: str, features: np.ndarray, **params) -> np.ndarray:
    """Encode ``features`` ``(clips, channels, bands, frames)`` with the encoder
    called ``name`` (a key of ``ENCODERS``), passing it ``params``.

    ``seed`` is accepted by every encoder so callers can pass one uniformly; only
    the stochastic ``rate`` uses it. Returns float32 ``encoded_shape(name,
    features.shape, **params)``.
    """
    fn = _encoder(name)
    return fn(features, **_params_for(name, fn, params))


def encoded_shape(name: str, features_shape: tuple[int, ...], **params) -> tuple[int, int, int, int]:
    """Shape ``encode(name, x, **params)`` returns for ``x`` of ``features_shape``
    ``(clips, channels, bands, frames)``: ``(clips, input_channels(name, channels),
    bands, frames * timesteps_per_frame(name, **params))``. Checks ``params`` the
    way ``encode`` does, without touching data."""
    shape = tuple(int(n) for n in features_shape)
    if len(shape) != 4 or min(shape) < 1:
        raise SpikeportError(f"features shape {shape} is not (clips, channels, bands, frames) "
                             "with every size >= 1")
    clips, channels, bands, frames = shape
    return (clips, input_channels(name, channels), bands,
            frames * timesteps_per_frame(name, **params))


def timesteps_per_frame(name: str, **params) -> int:
    """Simulation timesteps per feature frame (10 ms) for encoder ``name`` with
    ``params``: their ``steps_per_frame``, or the encoder's default."""
    fn = _encoder(name)
    kwargs = _params_for(name, fn, params)
    _CHECKS[name](**_with_defaults(fn, kwargs))
    return int(kwargs.get("steps_per_frame", inspect.signature(fn).parameters["steps_per_frame"].default))


def input_channels(name: str, channels: int) -> int:
    """Channels of the encoded input (the first layer's input channels) for
    ``channels`` feature channels: ``2 * channels`` for ``delta`` (ON + OFF),
    ``channels`` otherwise."""
    _encoder(name)
    if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) or channels < 1:
        raise SpikeportError(f"channels must be a positive integer, got {channels!r}")
    return _CHANNEL_FACTOR[name] * int(channels)


# --- validation ------------------------------------------------------------

def _encoder(name: str) -> EncoderFn:
    try:
        return ENCODERS[name]
    except (KeyError, TypeError):
        raise SpikeportError(f"unknown encoder {name!r} (valid: {', '.join(ENCODERS)})") from None


def _params_for(name: str, fn: EncoderFn, params: dict) -> dict:
    """``params`` minus an unused ``seed``; unknown names raise."""
    accepted = [p for p in inspect.signature(fn).parameters if p != "features"]
    params = dict(params)
    if "seed" not in accepted:
        params.pop("seed", None)
    for key in params:
        if key not in accepted:
            raise SpikeportError(f"encoder {name!r} has no parameter {key!r} "
                                 f"(valid: {', '.join(accepted)})")
    return params


def _with_defaults(fn: EncoderFn, kwargs: dict) -> dict:
    out = {p.name: p.default for p in inspect.signature(fn).parameters.values()
           if p.name != "features"}
    out.update(kwargs)
    return out


def _check_features(features: np.ndarray) -> np.ndarray:
    x = np.asarray(features)
    if x.ndim != 4:
        raise SpikeportError(f"features shape {x.shape} is not (clips, channels, bands, frames)")
    if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise SpikeportError(f"features have dtype {x.dtype}, expected real numbers")
    x = x.astype(np.float64, copy=False)
    if np.isnan(x).any():
        raise SpikeportError(f"features contain NaN ({int(np.isnan(x).sum())} values)")
    if not np.isfinite(x).all():
        raise SpikeportError(f"features contain inf ({int(np.isinf(x).sum())} values)")
    if x.size == 0:
        raise SpikeportError(f"features shape {x.shape} is empty")
    return x


def _hold(x: np.ndarray, k: int) -> np.ndarray:
    """Repeat every frame (last axis) for ``k`` timesteps."""
    return x if k == 1 else np.repeat(x, k, axis=-1)


def _positive(field: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
            or not np.isfinite(value) or value <= 0:
        raise SpikeportError(f"encoder parameter {field} must be a positive number, got {value!r}")


def _steps(value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise SpikeportError(f"encoder parameter steps_per_frame must be an integer >= {minimum}, "
                             f"got {value!r}")


def _unit_map(unit_map: str, gain: float, span: float) -> None:
    if unit_map not in UNIT_MAPS:
        raise SpikeportError(f"encoder parameter unit_map: unknown map {unit_map!r} "
                             f"(valid: {', '.join(UNIT_MAPS)})")
    _positive("gain", gain)
    _positive("span", span)


def _check_direct(scale: float, clip: float | None, steps_per_frame: int) -> None:
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.number)) \
            or not np.isfinite(scale):
        raise SpikeportError(f"encoder parameter scale must be a finite number, got {scale!r}")
    if clip is not None:
        _positive("clip", clip)
    _steps(steps_per_frame, 1)


def _check_rate(max_rate: float, steps_per_frame: int, unit_map: str, gain: float,
                span: float, seed: int) -> None:
    _positive("max_rate", max_rate)
    if max_rate > 1:
        raise SpikeportError(f"encoder parameter max_rate is in spikes per timestep and must be "
                             f"in (0, 1], got {max_rate!r}")
    _steps(steps_per_frame, 1)
    _unit_map(unit_map, gain, span)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SpikeportError(f"encoder parameter seed must be a non-negative integer, got {seed!r}")


def _check_latency(steps_per_frame: int, threshold: float, unit_map: str, gain: float,
                   span: float) -> None:
    _steps(steps_per_frame, 2)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)) \
            or not 0 <= threshold < 1:
        raise SpikeportError(f"encoder parameter threshold must be in [0, 1), got {threshold!r}")
    _unit_map(unit_map, gain, span)


def _check_delta(threshold: float, steps_per_frame: int, reference: str) -> None:
    _positive("threshold", threshold)
    _steps(steps_per_frame, 1)
    if reference not in DELTA_REFERENCES:
        raise SpikeportError(f"encoder parameter reference: unknown {reference!r} "
                             f"(valid: {', '.join(DELTA_REFERENCES)})")


_CHECKS: dict[str, Callable[..., None]] = {
    "direct": _check_direct,
    "rate": _check_rate,
    "latency": _check_latency,
    "delta": _check_delta,
}


# z-scored features x 1 into input neurons of threshold 5 (see models.kws_spec): the
# input neurons' rate then follows the feature up to about +1.2 sigma. At x 4 they
# saturated at +0.3 sigma, a 1-bit code, and the SNN stopped generalising to unseen voices.
DIRECT_SCALE = 1.0

def encode_features(encoder: str, params: dict, feats: np.ndarray, seed: int, conv: bool) -> np.ndarray:
    """Encode normalised features ``(batch, 3, bands, frames)`` as the model takes them:
    float32 ``(batch, C, bands, 1, T)`` (``conv``) or ``(batch, C*bands, T)``. Used by
    training and by evaluation of the exported network, so both feed the same input.

    ``params["tail"]`` (default 0) appends that many timesteps of no input: the
    network's answer to a word at the end of the clip arrives after its layers'
    latency, axonal delays and integration time, and the readout counts spikes
    over all ``T = encoded frames + tail`` steps."""
    params = dict(params)
    tail = int(params.pop("tail", 0))
    if encoder in ("rate", "latency"):
        params.setdefault("seed", seed)
    if encoder == "direct":
        params.setdefault("scale", DIRECT_SCALE)
    x = encode(encoder, feats, **params)
    if tail:
        x = np.concatenate([x, np.zeros(x.shape[:-1] + (tail,), x.dtype)], axis=-1)
    x = np.ascontiguousarray(x, dtype=np.float32)
    return x[:, :, :, None, :] if conv else x.reshape(x.shape[0], -1, x.shape[-1])
