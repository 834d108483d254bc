"""The h5py + NumPy netx reader (sim/netx_reader.py) against what netx itself builds
(sim/netx_reference.py reads the Lava processes): every field of every layer equal,
for lava-dl's ground truths, trained networks, hypothesis-generated ones of every
layer and neuron type, and netx's options."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikeport.sim.netx_reader import read_network
from spikeport.sim.netx_reference import network_from_netx
from spikeport.sim.synthetic import write_network

SETTINGS = settings(max_examples=12, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _equal(a, b, where: str) -> None:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape or a.size == b.size == 1, f"{where}: shape {a.shape} != {b.shape}"
        np.testing.assert_array_equal(a.reshape(b.shape) if a.size == b.size else a, b, err_msg=where)
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def assert_same_network(path, **options) -> int:
    """Reader == netx, field by field; returns the number of fields compared."""
    ours, netx = read_network(path, **options), network_from_netx(path, **options)
    assert ours.input_shape == netx.input_shape and len(ours) == len(netx)
    n = 0
    for a, b in zip(ours, netx):
        for key in ("name", "index", "kind"):
            _equal(getattr(a, key), getattr(b, key), f"{a.name}.{key}")
        for attr, x, y in [("neuron", a.neuron, b.neuron)] + [(s, getattr(a, s), getattr(b, s))
                                                               for s in ("synapse", "imag", "recurrent")]:
            assert (x is None) == (y is None), f"{a.name}.{attr}"
            if x is None:
                continue
            for key, value in vars(x).items():
                _equal(value, getattr(y, key), f"{a.name}.{attr}.{key}")
                n += 1
    return n


@pytest.mark.parametrize("rel,options", [
    ("tiny.net", {}),
    ("gts/ntidigits/ntidigits.net", {"num_layers": 5}),
    ("gts/pilotnet_lif/network.net", {"reset_interval": 16}),
    ("gts/pilotnet_sdnn/network.net", {}),
    ("gts/pilotnet_lif/network.net", {"skip_layers": 1, "reset_interval": 5, "reset_offset": 2}),
    ("gts/pilotnet_sdnn/network.net", {"spike_exp": 4, "num_layers": 6}),
])
def test_lava_dl_ground_truths(netx_gts, rel, options):
    assert assert_same_network(netx_gts / rel, **options) > 20


def test_trained_networks(conv_run, dense_run):
    for run in (conv_run, dense_run):
        assert assert_same_network(run / "model.net") > 20


def _weights(rng, shape, hi=300, p=0.8):
    w = rng.integers(-hi, hi + 1, shape) * (rng.random(shape) < p)
    w.flat[0] = w.flat[0] or 2
    return w


CUBA = st.fixed_dictionaries({"type": st.sampled_from(["CUBA", "LOIHI"]), "iDecay": st.integers(0, 4096),
                              "vDecay": st.integers(0, 4096), "vThMant": st.integers(0, 2000)})
RF = st.fixed_dictionaries({"type": st.sampled_from(["RF_PHASE", "RF_IZ"]), "sinDecay": st.integers(-4000, 4000),
                            "cosDecay": st.integers(-4000, 4000), "vThMant": st.integers(1, 500)})


@SETTINGS
@given(data=st.data(), n_in=st.integers(1, 9), n=st.integers(1, 9), seed=st.integers(0, 2**16),
       sign=st.sampled_from([-1, 0, 1]), scale=st.sampled_from([1, 2, 8, 64]))
def test_generated_dense_recurrent_complex(tmp_path_factory, data, n_in, n, seed, sign, scale):
    """Weights of every sign mode and precision (netx's exponent and Lava's truncation),
    delays, biases, recurrent and complex layers, LOIHI and RF neurons."""
    rng = np.random.default_rng(seed)
    w = _weights(rng, (n, n_in)) * scale
    if sign:
        w = sign * np.abs(w)
    layers = [{"type": "input", "shape": [n_in], "neuron": data.draw(CUBA)},
              {"type": "dense", "weight": w, "neuron": data.draw(CUBA), "delay": rng.integers(0, 70, n),
               "bias": rng.integers(-40, 41, n)},
              {"type": "dense_rec", "weight": _weights(rng, (n, n)), "weight_rec": _weights(rng, (n, n), 100),
               "neuron": data.draw(CUBA)},
              {"type": data.draw(st.sampled_from(["dense", "dense_comp"])), "weight_real": _weights(rng, (4, n)),
               "weight_imag": _weights(rng, (4, n)), "neuron": data.draw(RF)},
              {"type": "dense", "weight": _weights(rng, (3, 4))}]         # no neuron group: netx's default
    path = tmp_path_factory.mktemp("gen") / "net.net"
    write_network(path, layers)
    assert_same_network(path, reset_interval=data.draw(st.sampled_from([None, 3, 7])))


@SETTINGS
@given(c=st.integers(1, 4), h=st.integers(3, 7), w=st.integers(2, 6), seed=st.integers(0, 2**16),
       sdnn=st.booleans(), groups=st.sampled_from([1, 2]), pool=st.booleans())
def test_generated_conv_pool_sdnn(tmp_path_factory, c, h, w, seed, sdnn, groups, pool):
    rng = np.random.default_rng(seed)
    c = c * groups
    neuron = {"type": "SDNN", "vThMant": 3} if sdnn else {"type": "CUBA", "iDecay": 500, "vDecay": 800, "vThMant": 90}
    out = 2 * groups
    layers = [{"type": "input", "shape": [c, h, w], "neuron": neuron},
              {"type": "conv", "weight": _weights(rng, (out, c // groups, 3, 2)), "stride": [1, 2], "padding": [1, 0],
               "dilation": [1, 1], "groups": groups, "neuron": neuron, "bias": rng.integers(-9, 10, out)}]
    shape = (out, h, (w - 2) // 2 + 1)
    if pool and shape[1] % 1 == 0:
        layers.append({"type": "pool", "weight": np.full((1, 1, 1, 1), 4.0), "shape": list(shape), "neuron": neuron})
    layers += [{"type": "flatten"}, {"type": "dense", "weight": _weights(rng, (3, int(np.prod(shape)))),
                                     "neuron": neuron}]
    path = tmp_path_factory.mktemp("conv") / "net.net"
    write_network(path, layers)
    assert_same_network(path)
