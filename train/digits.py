"""scikit-learn's bundled 8x8 handwritten digits: the small real task of the
train -> export -> Lava vertical slice (needs no download)."""
from __future__ import annotations

import numpy as np


def load_digits_split(test_fraction: float = 0.25, seed: int = 0):
    """Pixel intensities scaled to [0, 1] and labels, split into train and test.

    Returns ``(x_train, y_train, x_test, y_test)``; ``x_*`` is float32
    ``(samples, 64)``, ``y_*`` int64 ``(samples,)``. The split is stratified and
    fixed by ``seed``.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y
    )
    return x_tr, y_tr, x_te, y_te
