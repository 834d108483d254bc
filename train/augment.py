"""Training-time augmentation of normalised log-mel features.

Unseen speakers differ from the training ones mostly in where their formants sit
(vocal-tract length: a shift along the mel axis) and in loudness (an offset of the
log-mel channel); recordings differ in noise. These functions draw such changes,
one per clip. Pure numpy: ``features`` ``(clips, channels, bands, frames)``
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
    deviation of Gaussian noise added everywhere (z-score units).
    """

    band_shift: int = 1
    level: float = 0.3
    noise: float = 0.05

    def to_json(self) -> dict:
        return asdict(self)

    @property
    def active(self) -> bool:
        return self.band_shift > 0 or self.level > 0 or self.noise > 0


NO_AUGMENT = Augment(0, 0.0, 0.0)


def shift_bands(features: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Shift each clip ``i`` by ``shifts[i]`` bands (positive: towards higher bands),
    filling with the edge band. ``features`` ``(clips, channels, bands, frames)``."""
    bands = features.shape[2]
    idx = np.clip(np.arange(bands)[None, :] - np.asarray(shifts, int)[:, None], 0, bands - 1)
    return np.take_along_axis(features, idx[:, None, :, None], axis=2)


def augment(features: np.ndarray, aug: Augment, rng: np.random.Generator) -> np.ndarray:
    """``features`` with one random band shift, level offset and noise per clip
    (see :class:`Augment`); float32, same shape."""
    x = np.asarray(features, dtype=np.float32)
    n = x.shape[0]
    if aug.band_shift > 0:
        x = shift_bands(x, rng.integers(-aug.band_shift, aug.band_shift + 1, n))
    else:
        x = x.copy()
    if aug.level > 0:
        x[:, 0] += (rng.standard_normal(n) * aug.level).astype(np.float32)[:, None, None]
    if aug.noise > 0:
        x += (rng.standard_normal(x.shape) * aug.noise).astype(np.float32)
    return x
