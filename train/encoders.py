"""Turn feature arrays into spike trains.

All encoders take ``x`` shaped ``(samples, features)`` (or ``(features,)``) with
values in [0, 1] and return float32 spikes shaped ``(samples, features, T)``.
"""
from __future__ import annotations

import numpy as np


def rate_encode(x: np.ndarray, steps: int, max_rate: float = 0.5, seed: int = 0) -> np.ndarray:
    """Bernoulli rate code: at each timestep a feature spikes with probability
    ``x * max_rate`` (``max_rate`` in spikes per timestep). Deterministic for ``seed``.

    Returns float32 0/1 spikes ``(samples, features, steps)``.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[None]
    if np.isnan(x).any():
        raise ValueError("rate_encode: input contains NaN")
    p = np.clip(x, 0.0, 1.0)[..., None] * max_rate
    rng = np.random.default_rng(seed)
    return (rng.random(x.shape + (steps,)) < p).astype(np.float32)
