"""The fast simulator's fixed-point kernels equal their step-by-step definitions."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from spikeport import fixed_point as fx


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 12), steps=st.integers(1, 25), batch=st.integers(1, 3),
    magnitude=st.sampled_from([1, 100, 10_000, 200_000, 40_000_000]),
    du=st.integers(-1, 4095), dv=st.integers(0, 4096), vth=st.integers(0, (1 << 17) - 1),
    bias_scale=st.sampled_from([0, 1, 1 << 10, 1 << 21]),
    dtype=st.sampled_from([np.int32, np.float32, np.float64]),
    reset_every=st.integers(0, 7), seed=st.integers(0, 2**16),
)
def test_compiled_cuba_equals_cuba_step(n, steps, batch, magnitude, du, dv, vth, bias_scale, dtype,
                                        reset_every, seed):
    """Including inputs that wrap the 24-bit current and saturate the voltage."""
    rng = np.random.default_rng(seed)
    a = rng.integers(-magnitude, magnitude + 1, (n, steps, batch)).astype(dtype)
    bias = (rng.integers(-1, 2, n) * bias_scale).astype(np.int32)
    resets = [t for t in range(steps) if reset_every and t % reset_every == reset_every - 1]
    got = []
    for compiled in (True, False):
        u = np.zeros((n, batch), np.int32)
        v = np.zeros((n, batch), np.int32)
        s = np.zeros((n, steps, batch), bool)
        fx.cuba_run(u, v, a, du, dv, vth, bias, s, resets, compiled=compiled)
        got.append((u, v, s))
    # the reference: cuba_step called by hand, step by step
    u = np.zeros((n, batch), np.int32)
    v = np.zeros((n, batch), np.int32)
    ref = np.zeros((n, steps, batch), bool)
    for t in range(steps):
        if t in resets:
            u[:] = 0
            v[:] = 0
        u, v, ref[:, t] = fx.cuba_step(u, v, a[:, t], du, dv, vth, bias[:, None])
    for uu, vv, ss in got:
        np.testing.assert_array_equal(ss, ref)
        np.testing.assert_array_equal(uu, u)
        np.testing.assert_array_equal(vv, v)


def test_cuba_wrap_is_exercised():
    """A strong input does wrap u past 2**23 the way Lava does (one-sided)."""
    a = np.full((1, 3, 1), 140_000, np.int32)           # 140000 << 6 > 2**23
    u = np.zeros((1, 1), np.int32)
    v = np.zeros((1, 1), np.int32)
    s = np.zeros((1, 3, 1), bool)
    fx.cuba_run(u, v, a[:, :1], du=4095, dv=4096, vth=1 << 16, bias=0, spikes=s[:, :1])
    assert int(u[0, 0]) == 140_000 * 64 - (1 << 24)        # wrapped to a negative current


def test_wrap_signed_and_shift_exponent():
    x = np.array([-(1 << 23) - 1, -(1 << 23), (1 << 23) - 1, 1 << 23, 5], np.int64)
    np.testing.assert_array_equal(fx.wrap_signed(x, 24), [(1 << 23) - 1, -(1 << 23), (1 << 23) - 1, -(1 << 23), 5])
    np.testing.assert_array_equal(fx.wrap_signed(x.astype(np.float64), 24), fx.wrap_signed(x, 24))
    acc = np.array([-9, -8, -1, 0, 7, 8], np.int64)
    for exp in (-3, -1, 0, 2):
        want = np.left_shift(acc, exp) if exp > 0 else np.right_shift(acc, -exp)
        np.testing.assert_array_equal(fx.shift_exponent(acc, exp), want)
        np.testing.assert_array_equal(fx.shift_exponent(acc.astype(np.float64), exp), want)


def test_delta_encoder_threshold_is_inclusive():
    """Lava's sigma-delta sends at |delta| >= vth (its LIF fires at v > vth)."""
    act = np.zeros((3, 1), np.int32)
    res = np.zeros((3, 1), np.int32)
    x = np.array([[4096], [4095], [-4096]], np.int32)
    s, res2 = fx.delta_quantize(act, res, x, np.array([4096], np.int32))
    np.testing.assert_array_equal(s[:, 0], [4096, 0, -4096])
    np.testing.assert_array_equal(res2[:, 0], [0, 4095, 0])
    # the input layer: a_in << 12, sent >> 6 (flooring)
    act, res, out = fx.delta_step(np.zeros((1, 1), np.int32), np.zeros((1, 1), np.int32),
                                  np.array([[-3]], np.int32), np.array([0], np.int32),
                                  np.array([6], np.int32), np.array([6], np.int32))
    assert int(out[0, 0]) == (-3 << 12) >> 6 and int(act[0, 0]) == -3 << 12


@settings(max_examples=40, deadline=None)
@given(scale=st.floats(0.01, 40.0), sign=st.sampled_from(["mixed", "positive", "negative"]),
       seed=st.integers(0, 2**16))
def test_training_weight_grid_is_what_netx_loads(scale, sign, seed):
    """Whatever the float weights, the integers training exports are weights netx keeps
    unchanged (no clipping, no zeroing): training, export and simulation see one network."""
    import torch

    from spikeport.train.quantize import quantize_weight

    w = torch.from_numpy(np.random.default_rng(seed).normal(0, scale, (6, 9)))
    w = {"mixed": w, "positive": w.abs(), "negative": -w.abs()}[sign]
    q = quantize_weight(w, descale=True).numpy() + 0.0  # the writer stores -0.0 as 0.0 (netx fails on it)
    assert q.min() >= fx.WEIGHT_LO and q.max() <= fx.WEIGHT_HI and np.all(q % 2 == 0)
    if np.any(q != 0):
        shifted, bits, exp = fx.netx_weight_bits(q)
        np.testing.assert_array_equal(shifted * 2.0 ** exp, q)
