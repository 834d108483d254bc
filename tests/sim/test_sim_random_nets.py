"""Random networks from hypothesis, fast backend vs Lava fixed_pt: every event of every
layer equal, and the activity counts equal (zero tolerance)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from spikeport.fixed_point import netx_keeps
from spikeport.sim import load_network, simulate
from spikeport.sim.synthetic import conv_output_shape, write_network

pytestmark = pytest.mark.lava

SETTINGS = settings(max_examples=7, deadline=None, derandomize=False,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _compare(path, x, steps):
    fast = simulate(path, x, backend="fast", record="all", counts=True, steps=steps)
    lava = simulate(path, x, backend="lava", record="all", counts=True, steps=steps)
    assert len(fast.layers) == len(lava.layers)
    for i, (f, l) in enumerate(zip(fast.layers, lava.layers)):
        np.testing.assert_array_equal(f, l, err_msg=f"layer {i}")
    assert fast.counts == {**lava.counts, "backend": "fast"}
    return fast


@st.composite
def cuba(draw):
    return {"type": "CUBA", "iDecay": draw(st.integers(0, 4096)), "vDecay": draw(st.integers(0, 4096)),
            "vThMant": draw(st.integers(0, 300))}


@st.composite
def conv_layer(draw, in_shape, neuron, weight_max=300):
    c = in_shape[0]
    groups = draw(st.sampled_from([g for g in (1, 2, 3) if c % g == 0]))
    out = groups * draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = [draw(st.integers(1, 2)), draw(st.integers(1, 2))]
    padding = [draw(st.integers(0, 1)), draw(st.integers(0, 1))]
    dilation = [draw(st.integers(1, 2)), draw(st.integers(1, 2))]
    shape = conv_output_shape(in_shape, (out, c // groups, kh, kw), stride, padding, dilation)
    assume(min(shape) >= 1)
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    w = rng.integers(-weight_max, weight_max + 1, (out, c // groups, kh, kw)) * (rng.random((out, c // groups, kh, kw))
                                                                                 < 0.8)
    layer = {"type": "conv", "weight": w, "stride": stride, "padding": padding, "dilation": dilation,
             "groups": groups, "neuron": neuron}
    if draw(st.booleans()):
        layer["bias"] = rng.integers(-50, 51, out)
    return layer, shape


@st.composite
def dense_layer(draw, n_in, neuron, delays=True, weight_max=254):
    n_out = draw(st.integers(1, 12))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    w = rng.integers(-weight_max, weight_max + 1, (n_out, n_in)) * (rng.random((n_out, n_in)) < 0.8)
    assume(np.any(w != 0))                    # netx cannot load an all-zero dense layer
    assume(netx_keeps([w]))                   # weights netx would alter are refused by the validator
    layer = {"type": "dense", "weight": w, "neuron": neuron}
    kind = draw(st.sampled_from(["none", "scalar", "per_out", "per_in", "full"] if delays else ["none"]))
    if kind == "scalar":
        layer["delay"] = np.array(draw(st.integers(0, 6)))
    elif kind == "per_out":
        layer["delay"] = rng.integers(0, 7, n_out)
    elif kind == "per_in" and n_in != n_out:
        layer["delay"] = rng.integers(0, 7, n_in)
    elif kind == "full":
        layer["delay"] = rng.integers(0, 7, (n_out, n_in))
    if draw(st.booleans()):
        layer["bias"] = rng.integers(-50, 51, n_out)
    return layer, (n_out,)


@SETTINGS
@given(data=st.data(), c=st.integers(1, 4), h=st.integers(2, 7), w=st.integers(1, 6),
       input_neuron=st.booleans(), n_conv=st.integers(1, 2), with_dense=st.booleans(),
       steps=st.integers(2, 8), rate=st.floats(0.1, 0.8), seed=st.integers(0, 2**16))
def test_random_cuba_conv_networks(tmp_path_factory, data, c, h, w, input_neuron, n_conv, with_dense, steps,
                                   rate, seed):
    layers = [{"type": "input", "shape": [c, h, w]}]
    if input_neuron:
        layers[0]["neuron"] = data.draw(cuba())
    shape = (c, h, w)
    for _ in range(n_conv):
        layer, shape = data.draw(conv_layer(shape, data.draw(cuba())))
        layers.append(layer)
    if with_dense:
        layers.append({"type": "flatten"})
        layer, shape = data.draw(dense_layer(int(np.prod(shape)), data.draw(cuba())))
        layers.append(layer)
    path = tmp_path_factory.mktemp("conv") / "net.net"
    write_network(path, layers)
    rng = np.random.default_rng(seed)
    if input_neuron:
        x = rng.integers(-300, 600, (w, h, c, steps))            # input currents, netx (x, y, c) order
    else:
        x = (rng.random((w, h, c, steps)) < rate).astype(np.int32)
    _compare(path, x, steps)


@SETTINGS
@given(data=st.data(), sizes=st.lists(st.integers(1, 12), min_size=2, max_size=4),
       steps=st.integers(2, 12), rate=st.floats(0.1, 0.8), seed=st.integers(0, 2**16))
def test_random_delayed_dense_networks(tmp_path_factory, data, sizes, steps, rate, seed):
    """Axonal delays of every shape netx reads: scalar, per output, per input, full matrix."""
    layers = [{"type": "input", "shape": [sizes[0]]}]
    n = sizes[0]
    for _ in sizes[1:]:
        layer, (n,) = data.draw(dense_layer(n, data.draw(cuba())))
        layers.append(layer)
    path = tmp_path_factory.mktemp("dense") / "net.net"
    write_network(path, layers)
    x = (np.random.default_rng(seed).random((sizes[0], steps)) < rate).astype(np.int32)
    _compare(path, x, steps + data.draw(st.integers(0, 4)))      # beyond T the input repeats


@st.composite
def sdnn(draw, sigma=False):
    if sigma:
        return {"type": "SDNN", "vThMant": 0, "sigma_output": True}
    return {"type": "SDNN", "vThMant": draw(st.integers(0, 12))}


@SETTINGS
@given(data=st.data(), c=st.integers(1, 3), h=st.integers(2, 6), w=st.integers(1, 5), n_conv=st.integers(0, 2),
       sigma_out=st.booleans(), steps=st.integers(2, 7), seed=st.integers(0, 2**16))
def test_random_sigma_delta_networks(tmp_path_factory, data, c, h, w, n_conv, sigma_out, steps, seed):
    """Delta input, sigma-delta conv and dense layers with bias, optional sigma readout."""
    layers = [{"type": "input", "shape": [c, h, w], "neuron": data.draw(sdnn())}]
    shape = (c, h, w)
    for _ in range(n_conv):
        layer, shape = data.draw(conv_layer(shape, data.draw(sdnn()), weight_max=60))
        layers.append(layer)
    layers.append({"type": "flatten"})
    layer, shape = data.draw(dense_layer(int(np.prod(shape)), data.draw(sdnn()), delays=False, weight_max=60))
    layers.append(layer)
    if sigma_out:
        layer, shape = data.draw(dense_layer(shape[0], data.draw(sdnn(sigma=True)), delays=False, weight_max=60))
        layer.pop("bias", None)
        layers.append(layer)
    path = tmp_path_factory.mktemp("sdnn") / "net.net"
    write_network(path, layers)
    x = np.random.default_rng(seed).integers(-40, 60, (w, h, c, steps))
    res = _compare(path, x, steps)
    assert res.layers[0].dtype == np.int32


def test_int32_and_24bit_wraparound(tmp_path):
    """Values large enough to wrap where Lava's registers wrap: the delta input's
    ``a << 12`` and the graded dense products in int32, the CUBA current in 24 bits."""
    rng = np.random.default_rng(0)
    for trial in range(2):
        path = tmp_path / f"sdnn{trial}.net"
        write_network(path, [
            {"type": "input", "shape": [12], "neuron": {"type": "SDNN", "vThMant": 0}},
            {"type": "dense", "weight": rng.integers(-127, 128, (6, 12)) * 2, "neuron": {"type": "SDNN", "vThMant": 1}},
            {"type": "dense", "weight": rng.integers(-127, 128, (3, 6)) * 2,
             "neuron": {"type": "SDNN", "vThMant": 0, "sigma_output": True}}])
        res = _compare(path, rng.integers(-(1 << 21), 1 << 21, (12, 6)), 6)
        assert np.abs(res.layers[-1]).max() > 1 << 30          # the readout does reach int32 range
    cuba = {"type": "CUBA", "iDecay": 64, "vDecay": 16, "vThMant": 5000}
    path = tmp_path / "cuba.net"
    write_network(path, [{"type": "input", "shape": [8], "neuron": cuba},
                         {"type": "dense", "weight": rng.integers(-127, 128, (5, 8)) * 2, "neuron": cuba}])
    # currents of up to 2**18 weight units: u passes 2**23 and wraps, v saturates
    _compare(path, rng.integers(-(1 << 18), 1 << 18, (8, 10)), 10)


@SETTINGS
@given(data=st.data(), n_in=st.integers(1, 8), n=st.integers(1, 10), steps=st.integers(3, 14),
       rate=st.floats(0.1, 0.8), seed=st.integers(0, 2**16), reset=st.sampled_from([None, 4]))
def test_random_recurrent_dense_networks(tmp_path_factory, data, n_in, n, steps, rate, seed, reset):
    """dense_rec: a layer's own spikes return through its recurrent weights one step
    later, as through Lava's Dense; LOIHI neurons; the recurrent synops counted."""
    rng = np.random.default_rng(seed)
    loihi = data.draw(cuba())
    loihi["type"] = data.draw(st.sampled_from(["CUBA", "LOIHI"]))
    w = rng.integers(-150, 151, (n, n_in)) * (rng.random((n, n_in)) < 0.8)
    w.flat[0] = 60
    wr = rng.integers(-150, 151, (n, n)) * (rng.random((n, n)) < 0.7)
    assume(netx_keeps([w, wr]))               # weights netx would alter are refused by the validator
    layers = [{"type": "input", "shape": [n_in]}, {"type": "dense_rec", "weight": w, "weight_rec": wr, "neuron": loihi}]
    if data.draw(st.booleans()):
        layer, _ = data.draw(dense_layer(n, data.draw(cuba())))
        layers.append(layer)
    path = tmp_path_factory.mktemp("rec") / "net.net"
    write_network(path, layers)
    x = (rng.random((n_in, steps)) < rate).astype(np.int32)
    fast = simulate(path, x, backend="fast", record="all", counts=True, reset_interval=reset)
    lava = simulate(path, x, backend="lava", record="all", counts=True, reset_interval=reset)
    for i, (f, l) in enumerate(zip(fast.layers, lava.layers)):
        np.testing.assert_array_equal(f, l, err_msg=f"layer {i}")
    assert fast.counts == {**lava.counts, "backend": "fast"}
    rec = fast.counts["layers"][0]
    own = fast.layers[0][0]                                   # (n, T) spikes of the recurrent layer
    # the weights Lava runs (netx's shared exponent can truncate some to zero; sim/LAVA_FIXED_PT.md)
    ran = load_network(path)[0]
    w_run, wr_run = ran.synapse.weight, ran.recurrent.weight
    hand = sum(np.count_nonzero(wr_run[:, j]) * int(own[j].sum()) for j in range(n))
    hand += sum(np.count_nonzero(w_run[:, j]) * int(x[j].sum()) for j in range(n_in))
    assert sum(rec["synops"]["per_sample"]) == hand


@st.composite
def rf_neuron(draw):
    return {"type": draw(st.sampled_from(["RF_PHASE", "RF_IZ"])), "sinDecay": draw(st.integers(-4095, 4095)),
            "cosDecay": draw(st.integers(-4095, 4095)), "vThMant": draw(st.integers(1, 200))}


@SETTINGS
@given(data=st.data(), n_in=st.integers(1, 8), n=st.integers(1, 10), steps=st.integers(3, 14),
       rate=st.floats(0.1, 0.9), seed=st.integers(0, 2**16), layer_type=st.sampled_from(["dense", "dense_comp"]))
def test_random_resonate_and_fire_networks(tmp_path_factory, data, n_in, n, steps, rate, seed, layer_type):
    """Complex dense layers (real and imaginary weights) into RF and RF_IZ neurons,
    then a CUBA readout; netx's float round trip of the decays reproduced."""
    rng = np.random.default_rng(seed)
    wre = rng.integers(-120, 121, (n, n_in)) * (rng.random((n, n_in)) < 0.8)
    wim = rng.integers(-120, 121, (n, n_in)) * (rng.random((n, n_in)) < 0.8)
    wre.flat[0], wim.flat[0] = 40, -40
    layers = [{"type": "input", "shape": [n_in]},
              {"type": layer_type, "weight_real": wre, "weight_imag": wim, "neuron": data.draw(rf_neuron())}]
    layer, _ = data.draw(dense_layer(n, data.draw(cuba()), delays=False))
    layers.append(layer)
    path = tmp_path_factory.mktemp("rf") / "net.net"
    write_network(path, layers)
    _compare(path, (rng.random((n_in, steps)) < rate).astype(np.int32), steps)
