"""Spike input encoders for keyword spotting (spikeport.train.encoders)."""
from __future__ import annotations

import numpy as np
import pytest

from spikeport.errors import SpikeportError
from spikeport.train.encoders import (
    ENCODERS,
    encode,
    encoded_shape,
    input_channels,
    timesteps_per_frame,
    to_unit,
)

SPIKING = ("rate", "latency", "delta")


def _features(clips: int = 2, channels: int = 3, bands: int = 40, frames: int = 101,
              seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(clips, channels, bands, frames)).astype(np.float32)


def _one(values) -> np.ndarray:
    """A single value's time series as features (1, 1, 1, frames)."""
    return np.asarray(values, dtype=np.float32).reshape(1, 1, 1, -1)


# --- registry, shapes, dtype ------------------------------------------------

@pytest.mark.parametrize("name", sorted(ENCODERS))
@pytest.mark.parametrize("params", [{}, {"steps_per_frame": 3}])
def test_shape_dtype_and_values(name, params):
    x = _features()
    out = encode(name, x, seed=1, **params)
    k = params.get("steps_per_frame", {"latency": 4}.get(name, 1))
    assert timesteps_per_frame(name, **params) == k
    assert out.shape == encoded_shape(name, x.shape, **params) \
        == (2, input_channels(name, 3), 40, 101 * k)
    assert out.dtype == np.float32
    if name in SPIKING:
        assert set(np.unique(out)) <= {0.0, 1.0}
        assert 0 < out.mean() < 1


def test_input_channels():
    assert [input_channels(n, 3) for n in ("direct", "rate", "latency", "delta")] == [3, 3, 3, 6]
    with pytest.raises(SpikeportError, match="channels"):
        input_channels("rate", 0)


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_deterministic_for_a_seed(name):
    x = _features(clips=1, frames=20)
    a = encode(name, x, seed=7)
    np.testing.assert_array_equal(a, encode(name, x, seed=7))
    if name == "rate":
        assert not np.array_equal(a, encode(name, x, seed=8))


# --- direct -----------------------------------------------------------------

def test_direct_passes_scales_clips_and_holds():
    x = _one([-4.0, -1.0, 0.5, 2.0])
    np.testing.assert_array_equal(encode("direct", x), x)
    out = encode("direct", x, scale=2.0, clip=3.0, steps_per_frame=2)
    np.testing.assert_array_equal(out[0, 0, 0], [-3, -3, -2, -2, 1, 1, 3, 3])


# --- rate -------------------------------------------------------------------

def test_to_unit_maps():
    z = np.array([-4.0, -1.5, 0.0, 1.5, 4.0])
    np.testing.assert_allclose(to_unit(z, "affine", span=3.0), [0.0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(to_unit(z, "logistic", gain=2.0), 1 / (1 + np.exp(-2 * z)))
    assert to_unit(np.array([-1e6]), "logistic")[0] == 0.0


@pytest.mark.parametrize("z, unit_map, max_rate, expected", [
    (0.2, "affine", 0.5, 0.6 * 0.5),       # (0.2 + 1) / 2 = 0.6 with span 1
    (0.0, "logistic", 0.8, 0.5 * 0.8),
    (1.0, "logistic", 1.0, 1 / (1 + np.exp(-1.0))),
])
def test_rate_mean_firing_is_p_times_max_rate(z, unit_map, max_rate, expected):
    x = np.full((4, 3, 40, 101), z, dtype=np.float32)
    out = encode("rate", x, max_rate=max_rate, unit_map=unit_map, span=1.0,
                 steps_per_frame=2, seed=3)
    # ~97k Bernoulli draws: the mean's standard deviation is <= 0.0017.
    assert abs(out.mean() - expected) < 0.01


def test_rate_frames_expand_into_windows():
    # affine span 1: z=-5 -> p=0 (never fires), z=5 -> p=1 (fires every step at max_rate 1).
    out = encode("rate", _one([-5.0, 5.0, -5.0]), max_rate=1.0, unit_map="affine",
                 span=1.0, steps_per_frame=3, seed=0)
    np.testing.assert_array_equal(out[0, 0, 0], [0, 0, 0, 1, 1, 1, 0, 0, 0])


# --- latency ----------------------------------------------------------------

def test_latency_hand_worked():
    # affine span 1 maps z to x = (z + 1) / 2; K = 4 sub-steps, threshold 0.2.
    #   z =  1.0 -> x = 1.00 -> (1 - x) * 3 = 0.00 -> sub-step 0
    #   z =  0.5 -> x = 0.75 ->               0.75 -> sub-step 1
    #   z =  0.0 -> x = 0.50 ->               1.50 -> sub-step 2 (half rounds up)
    #   z = -0.5 -> x = 0.25 ->               2.25 -> sub-step 2
    #   z = -0.8 -> x = 0.10 -> not > 0.2         -> no spike
    out = encode("latency", _one([1.0, 0.5, 0.0, -0.5, -0.8]), steps_per_frame=4,
                 threshold=0.2, unit_map="affine", span=1.0)
    np.testing.assert_array_equal(out[0, 0, 0].reshape(5, 4), [
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 0],
    ])
    # K = 3: z = 0.5 -> x = 0.75 -> (1 - x) * 2 = 0.5 -> sub-step 1 (half up, not to even).
    out = encode("latency", _one([0.5]), steps_per_frame=3, threshold=0.2,
                 unit_map="affine", span=1.0)
    np.testing.assert_array_equal(out[0, 0, 0], [0, 1, 0])


def test_latency_at_most_one_spike_per_window_and_earlier_for_larger():
    x = _features(clips=2, frames=30)
    k = 6
    out = encode("latency", x, steps_per_frame=k, threshold=0.3)
    windows = out.reshape(x.shape + (k,))
    counts = windows.sum(-1)
    assert counts.max() == 1
    u = to_unit(x)
    np.testing.assert_array_equal(counts, (u > 0.3).astype(np.float32))
    first = np.where(counts == 1, windows.argmax(-1), k)
    order = np.argsort(u[counts == 1])
    assert np.all(np.diff(first[counts == 1][order]) <= 0)   # larger value, earlier spike


# --- delta ------------------------------------------------------------------

def _on_off(values, **params):
    out = encode("delta", _one(values), **params)
    assert out.shape[1] == 2
    return out[0, 0, 0].tolist(), out[0, 1, 0].tolist()


def test_delta_hand_worked_ramp():
    # threshold 0.5, reference 0; v = potential after adding the change, before reset.
    #   t0: x=0.0 v= 0.0               -> -            v=0
    #   t1: x=0.5 v= 0.5 >= 0.5        -> ON,  v-0.5 -> 0.0
    #   t2: x=1.2 v= 0.0+0.7 = 0.7     -> ON,  v-0.5 -> 0.2
    #   t3: x=1.2 v= 0.2               -> -
    #   t4: x=0.1 v= 0.2-1.1 = -0.9    -> OFF, v+0.5 -> -0.4 (residue kept)
    on, off = _on_off([0.0, 0.5, 1.2, 1.2, 0.1], threshold=0.5)
    assert on == [0, 1, 1, 0, 0]
    assert off == [0, 0, 0, 0, 1]


def test_delta_step_drains_one_spike_per_step():
    # A jump of 1.6 = 3 thresholds + 0.1: three ON spikes on three steps, residue 0.1.
    on, off = _on_off([0.0, 1.6, 1.6, 1.6, 1.6], threshold=0.5)
    assert on == [0, 1, 1, 1, 0]
    assert off == [0, 0, 0, 0, 0]
    # Held over 2 sub-steps per frame, the jump drains within its frame's window.
    on, off = _on_off([0.0, 1.6], threshold=0.5, steps_per_frame=2)
    assert on == [0, 0, 1, 1]
    assert off == [0, 0, 0, 0]


def test_delta_on_off_share_one_reset_potential():
    # Shared potential v, threshold 0.5:
    #   t1: v=0.6 -> ON, v=0.1;  t2: v=0.1-0.4=-0.3;  t3: v=-0.3-0.3=-0.6 -> OFF, v=-0.1;
    #   t4: v=-0.1+0.5=0.4 -> nothing.
    # Two independent neurons (each resetting only itself) would give no OFF spike at
    # t3 (the OFF potential is 0.6-0.4-0.3=-0.1 there); resetting the shared potential
    # to 0 instead of subtracting would drop the residue and fire ON again at t4.
    on, off = _on_off([0.0, 0.6, 0.2, -0.1, 0.4], threshold=0.5)
    assert on == [0, 1, 0, 0, 0]
    assert off == [0, 0, 0, 1, 0]
    # Oscillating by exactly one threshold alternates ON and OFF.
    on, off = _on_off([0.0, 0.5, 0.0, 0.5, 0.0], threshold=0.5)
    assert on == [0, 1, 0, 1, 0]
    assert off == [0, 0, 1, 0, 1]


def test_delta_reference():
    # "zero" sends the starting level too (two ON spikes to reach 1.0); "first" does not.
    assert _on_off([1.0, 1.0, 1.6, 0.4], threshold=0.5) == ([1, 1, 1, 0], [0, 0, 0, 1])
    assert _on_off([1.0, 1.0, 1.6, 0.4], threshold=0.5, reference="first") \
        == ([0, 0, 1, 0], [0, 0, 0, 1])


def test_delta_tracks_signal_within_threshold_and_channel_layout():
    # A random walk whose steps never exceed the threshold is followed within one
    # threshold by reference + threshold * (ON count - OFF count), per channel.
    rng = np.random.default_rng(4)
    d = 0.3
    x = np.cumsum(rng.uniform(-d, d, size=(2, 3, 5, 200)), axis=-1).astype(np.float32)
    out = encode("delta", x, threshold=d)
    on, off = out[:, :3], out[:, 3:]
    assert not np.any(on * off)
    recon = d * np.cumsum(on - off, axis=-1)
    assert np.abs(x - recon).max() < d
    # Swapping ON and OFF halves is the code of the negated signal.
    np.testing.assert_array_equal(encode("delta", -x, threshold=d), np.concatenate([off, on], 1))


# --- errors -----------------------------------------------------------------

def test_unknown_encoder_names_it_and_lists_valid():
    for call in (lambda: encode("poisson", _features()),
                 lambda: encoded_shape("poisson", (1, 3, 40, 101)),
                 lambda: timesteps_per_frame("poisson"),
                 lambda: input_channels("poisson", 3)):
        with pytest.raises(SpikeportError, match=r"'poisson'.*direct, rate, latency, delta"):
            call()


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_nan_and_inf_rejected(name):
    x = _features(clips=1, frames=5)
    x[0, 1, 2, 3] = np.nan
    with pytest.raises(SpikeportError, match="NaN"):
        encode(name, x)
    x[0, 1, 2, 3] = np.inf
    with pytest.raises(SpikeportError, match="inf"):
        encode(name, x)


@pytest.mark.parametrize("name, params, match", [
    ("rate", {"max_rate": 1.5}, "max_rate"),
    ("rate", {"steps_per_frame": 0}, "steps_per_frame"),
    ("rate", {"unit_map": "tanh"}, "unit_map.*logistic, affine"),
    ("rate", {"seed": -1}, "seed"),
    ("latency", {"steps_per_frame": 1}, "steps_per_frame.*>= 2"),
    ("latency", {"threshold": 1.0}, "threshold"),
    ("delta", {"threshold": 0.0}, "threshold"),
    ("delta", {"reference": "mean"}, "reference"),
    ("direct", {"clip": -1.0}, "clip"),
    ("direct", {"max_rate": 0.5}, "'direct' has no parameter 'max_rate'"),
])
def test_bad_params(name, params, match):
    with pytest.raises(SpikeportError, match=match):
        encode(name, _features(clips=1, frames=4), **params)
    with pytest.raises(SpikeportError, match=match):
        encoded_shape(name, (1, 3, 40, 4), **params)


def test_bad_feature_shapes():
    with pytest.raises(SpikeportError, match="clips, channels, bands, frames"):
        encode("rate", np.zeros((3, 40, 101), dtype=np.float32))
    with pytest.raises(SpikeportError, match="clips, channels, bands, frames"):
        encoded_shape("rate", (3, 40, 101))
