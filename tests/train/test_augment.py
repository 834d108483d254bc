"""Training-time augmentation and the input tail."""
import numpy as np
import pytest

from spikeport.train.augment import NO_AUGMENT, Augment, augment, shift_bands
from spikeport.train.encoders import encode_features


def _feats(n=3, bands=6, frames=5, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 3, bands, frames)).astype(np.float32)


def test_shift_bands_moves_and_repeats_edges():
    x = np.arange(6, dtype=np.float32)[None, None, :, None] * np.ones((3, 2, 1, 4), np.float32)
    y = shift_bands(x, np.array([0, 2, -1]))
    np.testing.assert_array_equal(y[0, 0, :, 0], [0, 1, 2, 3, 4, 5])
    np.testing.assert_array_equal(y[1, 1, :, 3], [0, 0, 0, 1, 2, 3])   # up two, bottom band repeated
    np.testing.assert_array_equal(y[2, 0, :, 2], [1, 2, 3, 4, 5, 5])   # down one, top band repeated


def test_augment_draws_per_clip_and_leaves_input():
    x = _feats()
    before = x.copy()
    aug = Augment(band_shift=0, level=0.5, noise=0.0)
    y = augment(x, aug, np.random.default_rng(1))
    np.testing.assert_array_equal(x, before)
    offsets = (y - x)[:, 0]
    # one level offset per clip, on the log-mel channel only
    assert all(np.allclose(o, o.flat[0]) for o in offsets)
    assert len({round(float(o.flat[0]), 6) for o in offsets}) == 3
    np.testing.assert_array_equal(y[:, 1:], x[:, 1:])
    z = augment(x, Augment(band_shift=0, level=0.0, noise=0.1), np.random.default_rng(2))
    assert 0.05 < float((z - x).std()) < 0.2 and z.dtype == np.float32
    np.testing.assert_array_equal(augment(x, aug, np.random.default_rng(1)), y)   # seeded


def test_no_augment_is_identity():
    x = _feats()
    assert not NO_AUGMENT.active and Augment().active
    np.testing.assert_array_equal(augment(x, NO_AUGMENT, np.random.default_rng(0)), x)


@pytest.mark.parametrize("name", ["direct", "rate", "delta"])
def test_tail_appends_silent_steps(name):
    x = _feats(2, 4, 7) + 1.0
    plain = encode_features(name, {}, x, seed=0, conv=True)
    tailed = encode_features(name, {"tail": 9}, x, seed=0, conv=True)
    assert tailed.shape == plain.shape[:-1] + (plain.shape[-1] + 9,)
    np.testing.assert_array_equal(tailed[..., :plain.shape[-1]], plain)
    assert not tailed[..., plain.shape[-1]:].any()
