"""Counts against independent hand counts: synapses, fan-in/out, synaptic operations,
MACs; and the mapping of small netx files onto Loihi, limits exceeded included."""
from __future__ import annotations

import dataclasses
import itertools
import json

import h5py
import numpy as np
import pytest

from spikeport.cli import main
from spikeport.hw.ann_description import ann_layers
from spikeport.hw.ann_energy import ann_energy
from spikeport.hw.comparison import topology_description
from spikeport.hw import figures as F
from spikeport.hw.mapping import map_network
from spikeport.hw.profiles import load_profile
from spikeport.hw.topology import compute_layers, read_topology, weight_bits


def write_h5(path, layers: list[dict]) -> None:
    """A netx HDF5 file (the layout lava-dl's exporters write) from plain specs."""
    with h5py.File(path, "w") as h:
        g = h.create_group("layer")
        for i, spec in enumerate(layers):
            spec = dict(spec)
            l = g.create_group(str(i))
            l.create_dataset("type", data=np.array([spec.pop("type").encode()]))
            neuron = spec.pop("neuron", None)
            for k, v in spec.items():
                l.create_dataset(k, data=np.asarray(v))
            if neuron is not None:
                n = l.create_group("neuron")
                n.create_dataset("type", data=neuron.get("type", "CUBA").encode())
                for k, default in (("iDecay", 1024), ("vDecay", 128), ("vThMant", 80), ("refDelay", 1)):
                    n.create_dataset(k, data=neuron.get(k, default))


CUBA = {"type": "CUBA"}


def _conv_net(path, rng, groups=1, stride=(2, 1), padding=(1, 0), dilation=(1, 2)):
    """input (2, 7, 9) -> conv (4 out, 3x3) -> flatten -> dense 5; random sparse integer weights."""
    cin, h, w, cout, k = 2, 7, 9, 4, 3
    wconv = rng.integers(-6, 7, size=(cout, cin // groups, k, k)) * 2
    wconv[rng.random(wconv.shape) < 0.4] = 0
    oh = (h + 2 * padding[0] - dilation[0] * (k - 1) - 1) // stride[0] + 1
    ow = (w + 2 * padding[1] - dilation[1] * (k - 1) - 1) // stride[1] + 1
    wd = rng.integers(-20, 21, size=(5, cout * oh * ow)) * 2
    wd[rng.random(wd.shape) < 0.5] = 0
    write_h5(path, [
        {"type": "input", "shape": [cin, h, w]},
        {"type": "conv", "shape": [cout, oh, ow], "weight": wconv.astype(np.float32), "stride": list(stride),
         "padding": list(padding), "dilation": list(dilation), "groups": groups, "neuron": CUBA},
        {"type": "flatten", "shape": [cout * oh * ow, 1, 1]},
        {"type": "dense", "shape": [5], "weight": wd.astype(np.float32), "neuron": CUBA},
    ])
    return wconv, wd, (cin, h, w), (cout, oh, ow)


def _conv_pairs(wconv, in_shape, out_shape, stride, padding, dilation, groups):
    """Hand enumeration of every nonzero synapse (out (c, h, w), in (c, h, w)) of a conv."""
    cin, h, w = in_shape
    cout, oh, ow = out_shape
    per_g_in, per_g_out = cin // groups, cout // groups
    for oc, y, x in itertools.product(range(cout), range(oh), range(ow)):
        g = oc // per_g_out
        for icl, ky, kx in itertools.product(range(per_g_in), range(wconv.shape[2]), range(wconv.shape[3])):
            iy = y * stride[0] - padding[0] + ky * dilation[0]
            ix = x * stride[1] - padding[1] + kx * dilation[1]
            if 0 <= iy < h and 0 <= ix < w and wconv[oc, icl, ky, kx] != 0:
                yield (oc, y, x), (g * per_g_in + icl, iy, ix)


@pytest.mark.parametrize("groups", [1, 2])
def test_conv_and_dense_topology_equal_hand_counts(tmp_path, groups):
    rng = np.random.default_rng(groups)
    geo = {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 2)}
    wconv, wd, in_shape, out_shape = _conv_net(tmp_path / "n.net", rng, groups=groups, **geo)
    conv, dense = compute_layers(read_topology(tmp_path / "n.net"))
    pairs = list(_conv_pairs(wconv, in_shape, out_shape, groups=groups, **geo))
    assert conv.synapses == len(pairs)
    fan_in, fan_out = {}, {}
    for o, i in pairs:
        fan_in[o] = fan_in.get(o, 0) + 1
        fan_out[i] = fan_out.get(i, 0) + 1
    assert conv.fan_in == max(fan_in.values()) and conv.fan_out == max(fan_out.values())
    hand_fanout = np.zeros(in_shape, np.int64)
    for i, n in fan_out.items():
        hand_fanout[i] = n
    np.testing.assert_array_equal(conv.fanout, hand_fanout.reshape(-1))
    assert dense.synapses == int((wd != 0).sum())
    assert dense.fan_in == int((wd != 0).sum(axis=1).max()) and dense.fan_out == int((wd != 0).sum(axis=0).max())
    # dense MACs of the same topology as an ANN, counted by hand: every tap of every output that lands
    # inside the input (padding taps are no MACs: NeuroBench's Dense)
    cout, oh, ow = out_shape
    hand_conv_macs = sum(
        1 for oc, y, x, icl, ky, kx in itertools.product(range(cout), range(oh), range(ow),
                                                         range(in_shape[0] // groups), range(3), range(3))
        if 0 <= y * geo["stride"][0] - geo["padding"][0] + ky * geo["dilation"][0] < in_shape[1]
        and 0 <= x * geo["stride"][1] - geo["padding"][1] + kx * geo["dilation"][1] < in_shape[2])
    ann = ann_layers(topology_description(map_network(tmp_path / "n.net", load_profile("loihi1")), steps=7))
    assert [l["macs"] for l in ann] == [7 * hand_conv_macs, 7 * wd.size]
    assert conv.connections == hand_conv_macs


def test_synops_equal_hand_count_conv_then_dense(tmp_path):
    """Synops of the simulator's one counting function against a per-synapse hand count."""
    from spikeport.sim import count_chunk, layer_facts, load_network
    from spikeport.sim.layout import to_internal

    rng = np.random.default_rng(5)
    geo = {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 2)}
    wconv, wd, in_shape, out_shape = _conv_net(tmp_path / "n.net", rng, **geo)
    facts = layer_facts(load_network(tmp_path / "n.net"))
    b, steps = 2, 6
    x_file = rng.random((b,) + in_shape + (steps,)) < 0.3            # (b, C, H, W, T)
    s1_file = rng.random((b,) + out_shape + (steps,)) < 0.25
    s2 = (rng.random((b, 5, steps)) < 0.5).astype(np.int32) * rng.integers(1, 4, (b, 5, steps))   # graded
    to_netx = lambda a: a.transpose(0, 3, 2, 1, 4)                  # (b, C, H, W, T) -> (b, W, H, C, T)
    trains = [to_internal(to_netx(x_file)), to_internal(to_netx(s1_file)), to_internal(s2)]
    spikes, synops, graded = count_chunk(facts, trains)

    pairs = list(_conv_pairs(wconv, in_shape, out_shape, groups=1, **geo))
    hand1 = np.zeros((b, steps), np.int64)
    for _, i in pairs:
        hand1 += x_file[(slice(None),) + i + (slice(None),)]
    s1_flat = s1_file.reshape(b, -1, steps)                          # file (C, H, W) order = netx flatten order
    hand2 = np.zeros((b, steps), np.int64)
    for o, i in zip(*np.nonzero(wd)):
        hand2 += s1_flat[:, i, :]
    np.testing.assert_array_equal(synops[0].T, hand1)
    np.testing.assert_array_equal(synops[1].T, hand2)
    assert spikes[0].sum(axis=0).tolist() == s1_file.reshape(b, -1).sum(axis=1).tolist()
    assert spikes[1].sum(axis=0).tolist() == (s2 != 0).reshape(b, -1).sum(axis=1).tolist()   # graded count once
    assert facts[0].synapses == len(pairs) and not graded.any()
    assert hand1.sum() > 0 and hand2.sum() > 0


def test_ntidigits_ground_truth_topology(netx_gts):
    """lava-dl's ntidigits: delays up to 62, average layer left to the host."""
    path = netx_gts / "gts/ntidigits/ntidigits.net"
    topo = read_topology(path)
    comp = compute_layers(topo)
    with h5py.File(path) as h:
        for t in comp:
            w = h[f"layer/{t.h5_index}/weight"][()]
            assert t.synapses == int(np.count_nonzero(w))
            assert t.neurons == w.shape[0]
    assert [t.kind for t in comp] == ["delay_dense", "delay_dense", "dense"]
    assert comp[0].max_delay == 62
    assert any(t.kind == "average" for t in topo)
    mp = map_network(path, load_profile("loihi2"))
    assert mp.fits and mp.cores == 3 and mp.chips == 1


def test_weight_bits():
    assert weight_bits(np.array([0, 0])) == 0
    assert weight_bits(np.array([-256, 254])) == 8          # even: exponent 1, mantissa -128..127 signed
    assert weight_bits(np.array([255, 3])) == 8             # unsigned
    assert weight_bits(np.array([-4, 8, 12])) == 3          # /4 -> -1, 2, 3: signed 3 bits (-4..3)
    assert weight_bits(np.array([-511, 3])) == 10


def test_mapping_counts_cores_and_finds_every_exceeded_limit(tmp_path):
    rng = np.random.default_rng(0)
    big_in = rng.integers(1, 100, size=(10, 5000)) * 2 - 1       # odd, up to 197: signed, 9 bits
    big_in[:, ::2] *= -1
    wide = rng.integers(1, 60, size=(3000, 10)) * 2
    write_h5(tmp_path / "big.net", [
        {"type": "input", "shape": [5000]},
        {"type": "dense", "shape": [10], "weight": big_in.astype(np.float32), "neuron": CUBA,
         "delay": np.full(10, 55.0, np.float32)},
        {"type": "dense", "shape": [3000], "weight": wide.astype(np.float32),
         "neuron": {"type": "CUBA", "vThMant": 100_000}},
    ])
    l1 = map_network(tmp_path / "big.net", load_profile("loihi1"))
    assert not l1.fits
    found = {(e.layer, e.limit): e for e in l1.exceeded}
    e = found[("layer1", "in_axons_per_core")]
    assert (e.value, e.allowed, e.amount) == (5000, 4096, 904)
    e = found[("layer1", "weight_bits")]
    assert (e.value, e.allowed, e.amount) == (9, 8, 1)
    assert ("layer1", "max_delay") not in found                 # unknown for Loihi 1: not checked
    assert "max_delay" in l1.unchecked
    # layer2: 3000 neurons -> ceil(3000 / 1024) = 3 cores; memory 30,000 synapses x 6 bits fits
    assert [m.cores for m in l1.layers] == [1, 3]
    assert l1.layers[1].neurons_per_core == 1000 and l1.layers[1].in_axons_per_core == 10

    l2 = map_network(tmp_path / "big.net", load_profile("loihi2"))
    found = {(e.layer, e.limit): e for e in l2.exceeded}
    assert ("layer1", "max_delay") not in found and ("layer2", "threshold_bits") not in found
    assert ("layer1", "in_axons_per_core") not in found          # unknown for Loihi 2
    assert [m.cores for m in l2.layers] == [1, 1]
    # a smaller chip: delays up to 31 steps and 16-bit thresholds
    small = dataclasses.replace(load_profile("loihi2"), limits={
        **load_profile("loihi2").limits, "max_delay": F.value(31, "timesteps", "test chip"),
        "threshold_bits": F.value(16, "bits", "test chip")})
    found = {(e.layer, e.limit): e for e in map_network(tmp_path / "big.net", small).exceeded}
    e = found[("layer1", "max_delay")]
    assert (e.value, e.allowed, e.amount) == (55, 31, 24)
    e = found[("layer2", "threshold_bits")]
    assert (e.value, e.allowed) == (17, 16)                     # 100,000 needs 17 bits


@pytest.mark.parametrize("field,value,message", [
    ("delay", 70.0, "layer 1 (dense): 'delay' holds 70; allowed: integers in [0, 62]"),
    ("vThMant", 200_000, "layer 1 (dense): 'neuron/vThMant' holds 200000; allowed: integers in [0, 131071]"),
])
def test_mapping_refuses_what_netx_cannot_represent(tmp_path, capsys, field, value, message):
    """Delays netx clamps and thresholds beyond Lava's 17 bits are bad files, not limits."""
    layer = {"type": "dense", "shape": [4], "weight": np.full((4, 3), 2.0, np.float32), "neuron": dict(CUBA)}
    if field == "delay":
        layer["delay"] = np.full(4, value, np.float32)
    else:
        layer["neuron"][field] = value
    write_h5(tmp_path / "bad.net", [{"type": "input", "shape": [3]}, layer])
    assert main(["hw", "map", str(tmp_path / "bad.net"), "--json", str(tmp_path / "m.json")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m.json").exists()


def test_memory_decides_cores(tmp_path):
    # 1000 inputs x 600 neurons, all nonzero, 8-bit weights: 600,000 bytes > 4 x 128 KB -> 5 cores
    w = np.full((600, 1000), -2.0, np.float32)
    w[:, 1] = 254
    write_h5(tmp_path / "m.net", [{"type": "input", "shape": [1000]},
                                  {"type": "dense", "shape": [600], "weight": w, "neuron": CUBA}])
    mp = map_network(tmp_path / "m.net", load_profile("loihi1"))
    assert mp.layers[0].topology.weight_bits == 8
    assert mp.layers[0].cores == 5 and mp.fits
    assert mp.layers[0].synapse_bits_per_core == 120 * 1000 * 8


def test_cli_hw_map(tmp_path, capsys):
    w = np.full((3, 4), 2.0, np.float32)
    write_h5(tmp_path / "ok.net", [{"type": "input", "shape": [4]},
                                   {"type": "dense", "shape": [3], "weight": w, "neuron": CUBA}])
    out_json = tmp_path / "map.json"
    assert main(["hw", "map", str(tmp_path / "ok.net"), "--chip", "loihi1", "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "layer1" in out and "fits" in out and "1 chip" in out
    data = json.loads(out_json.read_text())
    assert data["fits"] and data["layers"][0]["synapses"] == 12 and data["cores"] == 1

    w = np.full((3, 4), 197.0, np.float32)                     # odd beside negative weights: 9 bits
    w[0] = -197
    write_h5(tmp_path / "bad.net", [{"type": "input", "shape": [4]},
                                    {"type": "dense", "shape": [3], "weight": w, "neuron": CUBA}])
    assert main(["hw", "map", str(tmp_path / "bad.net"), "--chip", "loihi2"]) == 1
    out = capsys.readouterr().out
    assert "DOES NOT FIT" in out and "layer1: weight_bits needs 9 bits, the chip allows 8 (over by 1)" in out

    assert main(["hw", "map", str(tmp_path / "none.net")]) == 2
    assert "none.net: no such network file" in capsys.readouterr().err
    (tmp_path / "junk.net").write_text("not hdf5")
    assert main(["hw", "map", str(tmp_path / "junk.net")]) == 2
    err = capsys.readouterr().err
    assert "junk.net: not an HDF5 file (netx networks are HDF5)" in err and err.count("\n") == 1


def test_ann_macs_equal_hand_counts():
    ann = {"format": "spikeport-ann/1", "frames": 10, "input_shape": [3, 40, 1], "layers": [
        # 16 x 38 x 1 outputs x 3 inputs x 3 x 1 taps = 5472 MACs per frame
        {"name": "conv1", "kind": "conv", "in_shape": [3, 40, 1], "out_shape": [16, 38, 1], "kernel": [3, 1],
         "stride": [1, 1], "padding": [0, 0], "dilation": [1, 1], "groups": 1, "bias": True, "per_frame": True},
        # groups 4: 16 outputs x (16 / 4) inputs x (2 + 18 x 3) taps inside (padding excluded) = 3584 per frame
        {"name": "conv2", "kind": "conv", "in_shape": [16, 38, 1], "out_shape": [16, 19, 1], "kernel": [3, 1],
         "stride": [2, 1], "padding": [1, 0], "dilation": [1, 1], "groups": 4, "bias": True, "per_frame": True},
        {"name": "fc1", "kind": "dense", "in_features": 304, "out_features": 64, "bias": True, "per_frame": True},
        {"name": "readout", "kind": "dense", "in_features": 64, "out_features": 12, "bias": True,
         "per_frame": False},
    ]}
    layers = ann_layers(ann)
    assert [l["macs"] for l in layers] == [54720, 35840, 194560, 768]
    assert [l["weights"] for l in layers] == [144, 192, 19456, 768]
    res = ann_energy(ann, "t")
    assert res["macs"] == 54720 + 35840 + 194560 + 768
