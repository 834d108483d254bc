"""Training-time augmentation of normalised log-mel features.

Unseen speakers differ from the training ones mostly in where their formants sit
(vocal-tract length: a shift or a stretch of the mel axis) and in loudness (an offset
of the log-mel channel); recordings differ in noise. These functions draw such changes,
one per clip, and SpecAugment's masks (Park et al. 2019: whole bands or frames set to
the mean, 0 in z-score units). Waveform perturbations (speed, reverberation,
equalisation, noise) are in :mod:`spikeport.train.audio_augment`. Pure numpy: ``features`` ``(clips, channels, bands, frames)``
float32 in z-score units (channel 0 the log-mel, 1 and 2 its time derivatives) in,
a new array of the same shape out, ``features`` untouched.

Time shifts are left out on purpose: the corpus already places every word at a
random time, and rolling a clip would wrap a late word around to its start.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Augment:
    """How much to perturb each training clip (0 turns a part off).

    ``band_shift``: shift every channel by a whole number of mel bands drawn
    uniformly from ``[-band_shift, band_shift]``, repeating the edge band;
    ``level``: standard deviation of an offset added to the log-mel channel
    (z-score units, one offset per clip: a loudness change); ``noise``: standard
    deviation of Gaussian noise added everywhere (z-score units); ``warp``: stretch
    the mel axis by a factor uniform in ``[1 - warp, 1 + warp]`` about band 0
    (vocal-tract-length perturbation, Jaitly and Hinton 2013, on mel bands);
    ``time_masks`` masks of up to ``time_mask`` frames each and ``band_masks`` masks
    of up to ``band_mask`` bands each (SpecAugment).
    """

    band_shift: int = 1
    level: float = 0.3
    noise: float = 0.05
    warp: float = 0.0
    time_masks: int = 0
    time_mask: int = 10
    band_masks: int = 0
    band_mask: int = 5

    def to_json(self) -> dict:
        return asdict(self)

    @property
    def active(self) -> bool:
        return (self.band_shift > 0 or self.level > 0 or self.noise > 0 or self.warp > 0
                or self.time_masks > 0 or self.band_masks > 0)


NO_AUGMENT = Augment(0, 0.0, 0.0)


def shift_bands(features: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Shift each clip ``i`` by ``shifts[i]`` bands (positive: towards higher bands),
    filling with the edge band. ``features`` ``(clips, channels, bands, frames)``."""
    bands = features.shape[2]
    idx = np.clip(np.arange(bands)[None, :] - np.asarray(shifts, int)[:, None], 0, bands - 1)
    return np.take_along_axis(features, idx[:, None, :, None], axis=2)


def warp_bands(features: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Stretch each clip ``i``'s mel axis by ``factors[i]`` (> 1: formants move up, as
    for a shorter vocal tract): band ``b`` takes the value at ``b / factor``, linearly
    interpolated, the top band repeated past the edge. ``features`` ``(clips, channels,
    bands, frames)``."""
    bands = features.shape[2]
    pos = np.clip(np.arange(bands)[None, :] / np.asarray(factors, float)[:, None], 0, bands - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, bands - 1)
    w = (pos - lo)[:, None, :, None].astype(features.dtype)
    take = lambda idx: np.take_along_axis(features, idx[:, None, :, None], axis=2)  # noqa: E731
    return take(lo) * (1 - w) + take(hi) * w


def mask(features: np.ndarray, axis: int, count: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """``features`` ``(clips, channels, bands, frames)`` with ``count`` runs of 0 to
    ``width`` consecutive bands (``axis=2``) or frames (``axis=3``) per clip set to 0,
    across all channels; a new array."""
    x = np.array(features, copy=True)
    size = x.shape[axis]
    for i in range(x.shape[0]):
        for _ in range(count):
            w = int(rng.integers(0, min(width, size) + 1))
            start = int(rng.integers(0, size - w + 1))
            if axis == 2:
                x[i, :, start:start + w, :] = 0
            else:
                x[i, :, :, start:start + w] = 0
    return x


def augment(features: np.ndarray, aug: Augment, rng: np.random.Generator) -> np.ndarray:
    """``features`` with one random band shift, warp, level offset, noise and masks
    per clip (see :class:`Augment`); float32, same shape."""
    x = np.asarray(features, dtype=np.float32)
    n = x.shape[0]
    if aug.warp > 0:
        x = warp_bands(x, rng.uniform(1 - aug.warp, 1 + aug.warp, n))
    if aug.band_shift > 0:
        x = shift_bands(x, rng.integers(-aug.band_shift, aug.band_shift + 1, n))
    else:
        x = x.copy()
    if aug.level > 0:
        x[:, 0] += (rng.standard_normal(n) * aug.level).astype(np.float32)[:, None, None]
    if aug.noise > 0:
        x += (rng.standard_normal(x.shape) * aug.noise).astype(np.float32)
    if aug.band_masks > 0:
        x = mask(x, 2, aug.band_masks, aug.band_mask, rng)
    if aug.time_masks > 0:
        x = mask(x, 3, aug.time_masks, aug.time_mask, rng)
    return x
