"""Training-time augmentation and the input tail."""
import numpy as np
import pytest

from spikeport.train.augment import NO_AUGMENT, Augment, augment, mask, shift_bands, warp_bands
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


# --- vocal-tract-length warp and SpecAugment masks -------------------------------------------------------------

def _peaked(n=3, bands=40, frames=7, at=10):
    """Features that are 0 everywhere but 1 in band ``at`` (every clip, channel, frame)."""
    x = np.zeros((n, 3, bands, frames), np.float32)
    x[:, :, at, :] = 1.0
    return x


def test_warp_bands_factor_one_is_identity():
    x = _feats(4, 40, 9)
    y = warp_bands(x, np.ones(4))
    np.testing.assert_array_equal(y, x)
    assert y.dtype == np.float32 and y.shape == x.shape


def test_warp_bands_factor_two_moves_band_10_to_20():
    x = _peaked(at=10)
    y = warp_bands(x, np.array([2.0, 1.0, 0.5]))
    # clip 0 stretched by 2: band b takes the value at b / 2
    assert y[0, :, 20, :].min() == 1.0 and np.argmax(y[0, 0, :, 0]) == 20
    np.testing.assert_allclose(y[0, 0, [19, 21], 0], [0.5, 0.5])   # linear interpolation at 9.5 and 10.5
    assert np.count_nonzero(y[0, 0, :, 0]) == 3
    np.testing.assert_array_equal(y[1], x[1])                       # factor 1: untouched
    # clip 2 squeezed by 2: band 5 takes band 10
    assert np.argmax(y[2, 1, :, 3]) == 5 and y[2, 1, 5, 3] == 1.0
    assert np.count_nonzero(y[2, 0, :, 0]) == 1


def test_warp_bands_repeats_top_band_past_the_edge_and_keeps_input():
    x = np.arange(10, dtype=np.float32)[None, None, :, None] * np.ones((1, 2, 1, 3), np.float32)
    before = x.copy()
    y = warp_bands(x, np.array([0.5]))
    np.testing.assert_allclose(y[0, 0, :, 0], [0, 2, 4, 6, 8, 9, 9, 9, 9, 9])
    z = warp_bands(x, np.array([1.25]))
    np.testing.assert_allclose(z[0, 1, :, 2], np.arange(10) / 1.25, rtol=1e-6)   # a linear ramp stays linear
    np.testing.assert_array_equal(x, before)


def _runs(zero):
    """Number of runs of True in a 1-D bool array."""
    z = np.concatenate([[False], zero, [False]]).astype(int)
    return int(np.sum(np.diff(z) == 1))


@pytest.mark.parametrize("axis", [2, 3])
def test_mask_zeroes_whole_runs_across_channels(axis):
    rng = np.random.default_rng(0)
    x = (np.abs(_feats(30, 20, 25, seed=3)) + 0.5).astype(np.float32)   # no zeros of its own
    before = x.copy()
    count, width = 2, 4
    y = mask(x, axis, count, width, rng)
    np.testing.assert_array_equal(x, before)
    assert y.shape == x.shape and y.dtype == x.dtype
    other = 3 if axis == 2 else 2
    masked_any = False
    for i in range(x.shape[0]):
        zeros = (y[i] == 0)
        # a masked band (frame) is 0 in every channel and every frame (band); the rest is untouched
        line = zeros.all(axis=(0, other - 1))
        assert (zeros.any(axis=(0, other - 1)) == line).all()
        keep = np.take(y[i], np.flatnonzero(~line), axis=axis - 1)
        np.testing.assert_array_equal(keep, np.take(x[i], np.flatnonzero(~line), axis=axis - 1))
        assert line.sum() <= count * width
        assert _runs(line) <= count
        masked_any |= bool(line.any())
    assert masked_any
    np.testing.assert_array_equal(mask(x, axis, count, width, np.random.default_rng(0)), y)   # seeded


def test_mask_widths_vary_up_to_width_and_zero_width_is_identity():
    x = np.ones((400, 1, 30, 8), np.float32)
    y = mask(x, 2, 1, 5, np.random.default_rng(1))
    widths = (y[:, 0, :, 0] == 0).sum(axis=1)
    assert set(widths.tolist()) == {0, 1, 2, 3, 4, 5}   # uniform 0..width
    np.testing.assert_array_equal(mask(x, 3, 3, 0, np.random.default_rng(1)), x)
    # a width beyond the axis is cut to the axis
    z = mask(np.ones((50, 1, 4, 3), np.float32), 3, 1, 10, np.random.default_rng(2))
    assert ((z[:, 0, 0, :] == 0).sum(axis=1) <= 3).all()
    assert ((z[:, 0, 0, :] == 0).sum(axis=1) == 3).any()


def test_augment_new_fields_active_and_json():
    assert Augment(0, 0.0, 0.0, warp=0.1).active
    assert Augment(0, 0.0, 0.0, time_masks=1).active
    assert Augment(0, 0.0, 0.0, band_masks=1).active
    assert not Augment(0, 0.0, 0.0, time_mask=20, band_mask=8).active   # widths alone do nothing
    d = Augment(warp=0.1, time_masks=2, band_masks=1).to_json()
    assert d == {"band_shift": 1, "level": 0.3, "noise": 0.05, "warp": 0.1, "time_masks": 2, "time_mask": 10,
                 "band_masks": 1, "band_mask": 5}
    assert Augment(**d) == Augment(warp=0.1, time_masks=2, band_masks=1)


def test_augment_warp_draws_one_factor_per_clip():
    x = _feats(5, 40, 6)
    before = x.copy()
    aug = Augment(band_shift=0, level=0.0, noise=0.0, warp=0.2)
    y = augment(x, aug, np.random.default_rng(7))
    np.testing.assert_array_equal(x, before)
    factors = np.random.default_rng(7).uniform(0.8, 1.2, 5)
    np.testing.assert_array_equal(y, warp_bands(x, factors))
    assert not np.allclose(y, x) and y.dtype == np.float32


def test_augment_masks_band_then_time():
    x = (np.abs(_feats(6, 40, 50)) + 0.5).astype(np.float32)
    aug = Augment(band_shift=0, level=0.0, noise=0.0, band_masks=2, band_mask=6, time_masks=3, time_mask=8)
    y = augment(x, aug, np.random.default_rng(3))
    r = np.random.default_rng(3)
    np.testing.assert_array_equal(y, mask(mask(x, 2, 2, 6, r), 3, 3, 8, r))
    for i in range(6):
        bands = (y[i] == 0).all(axis=(0, 2))
        frames = (y[i] == 0).all(axis=(0, 1))
        assert bands.sum() <= 12 and frames.sum() <= 24
        # every zero lies in a masked band or a masked frame
        z = (y[i] == 0).any(axis=0)
        assert (z == (bands[:, None] | frames[None, :])).all()
