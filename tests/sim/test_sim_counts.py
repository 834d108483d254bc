"""Activity counts (Contract 1): hand-counted on tiny networks, equal between backends."""
from __future__ import annotations

import json

import numpy as np
import pytest

from spikeport.cli import main
from spikeport.sim import load_network, simulate
from spikeport.sim.activity import fanout
from spikeport.sim.synthetic import write_network

pytestmark = pytest.mark.lava

# u takes the input whole each step (iDecay 4096) and v = u (vDecay 4096): with
# threshold 0 a neuron fires exactly when it received positive input the step before.
RELAY = {"type": "CUBA", "iDecay": 4096, "vDecay": 4096, "vThMant": 0}


def _both(path, x, **kw):
    fast = simulate(path, x, backend="fast", counts=True, record="all", **kw)
    lava = simulate(path, x, backend="lava", counts=True, record="all", **kw)
    for i, (f, l) in enumerate(zip(fast.layers, lava.layers)):
        np.testing.assert_array_equal(f, l, err_msg=f"layer {i}")
    assert fast.counts == {**lava.counts, "backend": "fast"}
    return fast.counts


def _layer(counts, i):
    c = counts["layers"][i]
    return {k: (c[k]["per_step"], c[k]["per_sample"]) for k in ("spikes", "synops", "neuron_updates")}


def test_hand_counted_dense(tmp_path):
    path = tmp_path / "dense.net"
    # layer 1: 3 inputs -> 2 neurons; fan-out of the inputs: [1, 0, 2]
    # layer 2: 2 -> 1; fan-out [1, 1]
    write_network(path, [{"type": "input", "shape": [3]},
                         {"type": "dense", "weight": [[2, 0, 4], [0, 0, 6]], "neuron": RELAY},
                         {"type": "dense", "weight": [[2, 2]], "neuron": RELAY}])
    x = np.array([[1, 1, 0, 0],     # input 0
                  [0, 1, 0, 0],     # input 1
                  [0, 1, 1, 0]])    # input 2
    counts = _both(path, x)
    assert counts["format"] == "spikeport-activity/1" and counts["samples"] == 1 and counts["steps"] == 4
    l0, l1 = counts["layers"]
    assert (l0["kind"], l0["neurons"], l0["synapses"], l0["shape"]) == ("dense", 2, 3, [2])
    assert (l1["kind"], l1["neurons"], l1["synapses"]) == ("dense", 1, 2)
    # synops of layer 1 by step: inputs {0} -> 1; {0,1,2} -> 1+0+2; {2} -> 2; {} -> 0
    # its spikes: step t fires neuron 0 if input 0 or 2 spiked at t-1, neuron 1 if input 2 did
    assert _layer(counts, 0) == {"spikes": ([0, 1, 2, 2], [5]), "synops": ([1, 3, 2, 0], [6]),
                                 "neuron_updates": ([2, 2, 2, 2], [8])}
    # layer 2 sees layer 1's spikes (fan-out 1 each) and fires one step after any of them
    assert _layer(counts, 1) == {"spikes": ([0, 0, 1, 1], [2]), "synops": ([0, 1, 2, 2], [5]),
                                 "neuron_updates": ([1, 1, 1, 1], [4])}


def test_hand_counted_conv(tmp_path):
    path = tmp_path / "conv.net"
    # a 3x3 image, one channel; a 2x2 kernel [[2, 0], [4, 6]] without padding -> 2x2 output
    write_network(path, [{"type": "input", "shape": [1, 3, 3]},
                         {"type": "conv", "weight": [[[[2, 0], [4, 6]]]], "neuron": RELAY}])
    net = load_network(path)
    # fan-out of pixel (h, w): output positions (oh, ow) whose nonzero tap (h-oh, w-ow) covers it
    np.testing.assert_array_equal(fanout(net[0].synapse).reshape(3, 3), [[1, 1, 0],
                                                                         [2, 3, 1],
                                                                         [1, 2, 1]])
    img = np.zeros((3, 3, 4))                    # (h, w, t); netx wants (x=w, y=h, c, t)
    img[1, 1, 0] = 1                             # fan-out 3
    img[[0, 0, 2], [0, 2, 1], 1] = 1             # 1 + 0 + 2
    img[:, :, 2] = 1                             # all nine: 12
    x = img.transpose(1, 0, 2)[:, :, None, :]
    counts = _both(path, x)
    (l0,) = counts["layers"]
    assert (l0["kind"], l0["neurons"], l0["synapses"], l0["shape"]) == ("conv", 4, 12, [2, 2, 1])
    # spikes: outputs whose nonzero taps saw a pixel the step before: 3 after step 0,
    # 3 after step 1 (not output (0, 1): pixel (0, 2) is its zero tap), all 4 after step 2
    assert _layer(counts, 0) == {"spikes": ([0, 3, 3, 4], [10]), "synops": ([3, 3, 12, 0], [18]),
                                 "neuron_updates": ([4, 4, 4, 4], [16])}


def test_counts_equal_on_trained_network(digits_slice):
    rng = np.random.default_rng(5)
    x = (rng.random((2, 64, 24)) < 0.3).astype(np.float64)
    counts = _both(digits_slice["net"], x)
    assert counts["samples"] == 2 and all(sum(l["spikes"]["per_sample"]) > 0 for l in counts["layers"])
    assert [l["kind"] for l in counts["layers"]] == ["dense", "dense"]


def test_counts_equal_on_conv_network(tmp_path):
    """Analog input neurons, strided/padded conv, grouped conv, flatten, delayed dense."""
    rng = np.random.default_rng(11)
    cuba = {"type": "CUBA", "iDecay": 1024, "vDecay": 256, "vThMant": 60}
    path = tmp_path / "conv.net"
    write_network(path, [
        {"type": "input", "shape": [2, 8, 1], "neuron": cuba},
        {"type": "conv", "weight": rng.integers(-40, 90, (6, 2, 3, 1)), "stride": [2, 1], "padding": [1, 0],
         "neuron": cuba},
        {"type": "conv", "weight": rng.integers(-40, 90, (4, 3, 3, 1)), "padding": [1, 0], "groups": 2,
         "neuron": cuba},
        {"type": "flatten"},
        {"type": "dense", "weight": rng.integers(-60, 100, (7, 16)), "delay": rng.integers(0, 5, 7),
         "neuron": cuba},
    ])
    x = rng.integers(-200, 400, (1, 8, 2, 14))    # currents into the input neurons, (x, y, c, T)
    counts = _both(path, x)
    assert [l["kind"] for l in counts["layers"]] == ["input", "conv", "conv", "delay_dense"]
    assert counts["layers"][0]["synops"]["per_sample"] == [0]         # no synapse before input neurons
    assert all(sum(l["spikes"]["per_step"]) > 0 for l in counts["layers"])


def test_batch_counts_are_per_sample(tmp_path):
    path = tmp_path / "dense.net"
    write_network(path, [{"type": "input", "shape": [3]},
                         {"type": "dense", "weight": [[2, 0, 4], [0, 0, 6]], "neuron": RELAY}])
    xs = np.array([[[1, 0, 0], [0, 0, 0], [0, 0, 0]],
                   [[0, 0, 0], [0, 0, 0], [1, 1, 1]]])           # (batch, inputs, T)
    res = simulate(path, xs, backend="fast", counts=True, chunk=2)
    l0 = res.counts["layers"][0]
    assert l0["synops"] == {"per_step": [3, 2, 2], "per_sample": [1, 6]}
    assert l0["neuron_updates"] == {"per_step": [4, 4, 4], "per_sample": [6, 6]}
    one = [simulate(path, x, backend="fast", counts=True).activity for x in xs]
    merged = one[0].merge(one[1])
    np.testing.assert_array_equal(merged.synops_step, res.activity.synops_step)
    np.testing.assert_array_equal(merged.spikes_sample, res.activity.spikes_sample)


def test_cli_counts_both_backends(tmp_path, capsys):
    path = tmp_path / "dense.net"
    write_network(path, [{"type": "input", "shape": [3]},
                         {"type": "dense", "weight": [[2, 0, 4], [0, 0, 6]], "neuron": RELAY}])
    np.save(tmp_path / "x.npy", np.array([[1, 1, 0, 0], [0, 1, 0, 0], [0, 1, 1, 0]], float))
    got = {}
    for backend in ("fast", "lava"):
        out, cj = tmp_path / f"o_{backend}.npy", tmp_path / f"c_{backend}.json"
        assert main(["sim", str(path), "--input", str(tmp_path / "x.npy"), "--backend", backend,
                     "-o", str(out), "--counts", str(cj)]) == 0
        line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert line["counts"] == str(cj) and line["latency"] == 1 and line["shape"] == [2, 4]
        got[backend] = (np.load(out), json.loads(cj.read_text()))
    np.testing.assert_array_equal(got["fast"][0], got["lava"][0])
    assert got["fast"][0].dtype == np.int32
    assert got["fast"][1] == {**got["lava"][1], "backend": "fast"}
    assert got["fast"][1]["network"] == str(path)


def test_steps_beyond_input_repeat_it_like_a_ringbuffer(tmp_path):
    path = tmp_path / "dense.net"
    write_network(path, [{"type": "input", "shape": [3]},
                         {"type": "dense", "weight": [[2, 0, 4], [0, 0, 6]], "neuron": RELAY}])
    x = np.array([[1, 0], [0, 0], [0, 1]])
    counts = _both(path, x, steps=5)
    assert counts["steps"] == 5 and counts["layers"][0]["synops"]["per_step"] == [1, 2, 1, 2, 1]
