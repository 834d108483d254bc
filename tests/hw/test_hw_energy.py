"""Energy formulas against hand computations: SNN (Loihi 1 figures, routing, stand-in,
unknown figures), the N-DNS operation proxy, latency, and the ANN (arithmetic and
memory-aware)."""
from __future__ import annotations

import copy

import h5py
import numpy as np
import pytest

from spikeport.errors import SpikeportError
from spikeport.hw.ann_energy import ann_energy, view
from spikeport.hw.comparison import headline
from spikeport.hw.energy import latency, ops_proxy, snn_energy
from spikeport.hw.mapping import map_network
from spikeport.hw.profiles import ENERGY_FIELDS, LIMIT_FIELDS, TIME_FIELDS, load_profile, profile_from_dict


def _layer(i, neurons, synops, updates, spikes, steps):
    def counts(per_sample):
        per_step = [0] * steps
        per_step[0] = int(sum(per_sample))       # only the per-sample totals matter for energy
        return {"per_step": per_step, "per_sample": list(per_sample)}
    return {"index": i, "name": f"layer{i + 1}", "kind": "dense", "shape": [neurons], "neurons": neurons,
            "synapses": 7, "synops": counts(synops), "neuron_updates": counts(updates), "spikes": counts(spikes)}


STEPS = 10
# two inferences; layer 1: 4 neurons, layer 2: 2000 neurons
ACT = {"format": "spikeport-activity/1", "network": "n.net", "backend": "fast", "samples": 2, "steps": STEPS,
       "layers": [_layer(0, 4, [100, 300], [40, 40], [5, 15], STEPS),
                  _layer(1, 2000, [20, 60], [20000, 20000], [1, 3], STEPS)]}
SYN = np.array([120.0, 360.0])
UPD = np.array([20040.0, 20040.0])
SPK0, SPK1 = np.array([5.0, 15.0]), np.array([1.0, 3.0])


def _net(path):
    with h5py.File(path, "w") as h:
        g = h.create_group("layer")
        for i, (kind, shape, w) in enumerate([("input", [3], None), ("dense", [4], np.full((4, 3), 2.0)),
                                              ("dense", [2000], np.full((2000, 4), -3.0))]):
            l = g.create_group(str(i))
            l.create_dataset("type", data=np.array([kind.encode()]))
            l.create_dataset("shape", data=np.array(shape))
            if w is not None:
                l.create_dataset("weight", data=w.astype(np.float32))
                n = l.create_group("neuron")
                n.create_dataset("type", data=b"CUBA")
                for k, v in (("iDecay", 1024), ("vDecay", 128), ("vThMant", 80)):
                    n.create_dataset(k, data=v)


def test_snn_energy_loihi1_without_mapping_equals_hand_computation():
    e = snn_energy(ACT, load_profile("loihi1"))
    spk = SPK0 + SPK1
    low = SYN * 23.6 + UPD * 52 + spk * 1.7
    high = SYN * 27.1 + UPD * 81 + spk * 1.7
    p = e["per_inference_pJ"]
    assert p["low"]["mean"] == pytest.approx(low.mean()) and p["high"]["mean"] == pytest.approx(high.mean())
    assert p["low"]["std"] == pytest.approx(low.std()) and p["high"]["max"] == pytest.approx(high.max())
    assert e["layers"][0]["energy_pJ"]["low"] == pytest.approx((np.array([100, 300]) * 23.6 + 40 * 52
                                                               + SPK0 * 1.7).mean())
    assert e["components_pJ"]["synops"]["high"] == pytest.approx((SYN * 27.1).mean())
    assert not e["stand_in"] and e["figures_from"] == "loihi1"
    assert "per-timestep overhead (energy unknown)" in e["excluded"]
    assert e["layers"][1]["firing_rate"] == pytest.approx(SPK1.mean() / (2000 * STEPS))


def test_snn_energy_routing_uses_mapping(tmp_path):
    _net(tmp_path / "n.net")
    prof = load_profile("loihi1")
    mp = map_network(tmp_path / "n.net", prof)
    assert [m.cores for m in mp.layers] == [1, 2]           # 2000 neurons > 1024 per core
    e = snn_energy(ACT, prof, mp)
    hops = 2 * (2 - 1)                                      # 3 cores -> a 2 x 2 mesh, worst case 2 hops
    route_hi = SPK0 * 2 * (1.7 + hops * 4.0) + SPK1 * 1 * (1.7 + hops * 4.0)
    high = SYN * 27.1 + UPD * 81 + route_hi
    assert e["per_inference_pJ"]["high"]["mean"] == pytest.approx(high.mean())
    assert e["components_pJ"]["routing"]["low"] == pytest.approx(((SPK0 + SPK1) * 1.7).mean())


def test_loihi2_uses_loihi1_as_labelled_stand_in():
    e1, e2 = snn_energy(ACT, load_profile("loihi1")), snn_energy(ACT, load_profile("loihi2"))
    assert e2["stand_in"] and e2["figures_from"] == "loihi1" and e2["chip"] == "loihi2"
    assert e2["per_inference_pJ"] == e1["per_inference_pJ"]
    assert "stand in" in e2["assumptions"][0] and "unpublished" in e2["assumptions"][0]


def _profile(energy: dict[str, float | None], stand_in=None):
    data = {"name": "custom", "energy": {}, "time": {}, "limits": {}}
    for k in ENERGY_FIELDS:
        v = energy.get(k)
        data["energy"][k] = {"value": v, "source": "test"} if v is not None else {"value": None}
    for k in TIME_FIELDS:
        data["time"][k] = {"value": None}
    for k in LIMIT_FIELDS:
        data["limits"][k] = {"value": None}
    if stand_in:
        data["energy_stand_in"] = stand_in
    return profile_from_dict(data)


def test_timestep_overhead_and_single_neuron_figure():
    prof = _profile({"synop": 10, "neuron_update_active": 2, "timestep_overhead": 100})
    e = snn_energy(ACT, prof)
    expect = SYN * 10 + UPD * 2 + STEPS * 100
    assert e["per_inference_pJ"]["low"]["mean"] == pytest.approx(expect.mean())
    assert e["per_inference_pJ"]["high"]["mean"] == pytest.approx(expect.mean())
    assert "spike routing (energy unknown)" in e["excluded"]


def test_no_energy_figures_gives_unknown_not_zero():
    prof = _profile({})
    e = snn_energy(ACT, prof)
    assert e["per_inference_pJ"] is None
    assert {"synaptic operations (energy unknown)", "neuron updates (energy unknown)"} <= set(e["excluded"])
    ann = ann_energy({"format": "spikeport-ann/1", "frames": 1,
                      "layers": [{"name": "fc", "kind": "dense", "in_features": 2, "out_features": 2}]}, "ANN twin")
    h = headline(e, [ann], 0.9)
    assert h["ratio"] is None and "unknown" in h["text"]


def test_ops_proxy_and_latency_bound(tmp_path):
    op = ops_proxy(ACT, step_seconds=0.01)
    ops = SYN + UPD
    assert op["ops_per_inference"]["mean"] == pytest.approx(ops.mean())
    assert op["power_proxy_ops_per_s"] == pytest.approx(ops.mean() / (STEPS * 0.01))
    assert op["pdp_proxy_ops"] == pytest.approx(ops.mean())
    assert ops_proxy(ACT)["power_proxy_ops_per_s"] is None

    act = copy.deepcopy(ACT)
    act["layers"][0]["synops"]["per_step"] = [40, 0, 400] + [0] * (STEPS - 3)
    act["layers"][1]["synops"]["per_step"] = [10, 30, 40] + [0] * (STEPS - 3)
    _net(tmp_path / "n.net")
    prof = load_profile("loihi1")
    lat = latency(act, prof, map_network(tmp_path / "n.net", prof))
    # per step, per inference, busiest core: layer 1 on 1 core, layer 2 on 2 cores
    busiest = [max(40 / 2, 10 / 2 / 2), max(0, 30 / 2 / 2), max(400 / 2, 40 / 2 / 2)]
    assert lat["kind"] == "lower_bound" and lat["steps"] == STEPS
    assert lat["per_inference_ns"]["low"] == pytest.approx(sum(busiest) * 3.5)
    assert latency(act, load_profile("loihi2"))["figures_from"] == "loihi1"


def test_ann_energy_equals_hand_computation():
    measured = {"clips": 4, "accuracy": 0.9, "effective_macs": [100.0, 5.0], "effective_acs": [0.0, 0.0],
                "dense": [300.0, 15.0], "zero_weights": [0, 0], "activations_nonzero": 1.0, "activations_total": 2.0}
    ann = {"format": "spikeport-ann/1", "frames": 10, "measured": {"int8": measured}, "layers": [
        {"name": "fc1", "kind": "dense", "in_features": 6, "out_features": 5, "per_frame": True},
        {"name": "fc2", "kind": "dense", "in_features": 5, "out_features": 3, "per_frame": False}]}
    r = ann_energy(ann, "t")
    assert view(r, "int8", "dense", "arithmetic")["pJ"] == pytest.approx({"low": 315 * 0.23, "high": 315 * 0.3})
    fp = view(r, "fp32", "dense", "arithmetic")["pJ"]
    assert fp["low"] == fp["high"] == pytest.approx(315 * 4.6)
    assert view(r, "fp32", "effective", "arithmetic") is None and r["not_measured"] == ["fp32, effective MACs (not measured)"]
    byte8k = 10 / 8                                          # 8 KB SRAM: 10 pJ per 64-bit read
    fc1, fc2 = r["layers"]
    # weight stationary: each weight read once per inference; activations once per evaluation
    assert fc1["energy_pJ"]["int8_dense"]["memory"]["low"] == pytest.approx(
        300 * 0.23 + 30 * byte8k + 10 * (6 + 5) * byte8k)
    assert fc2["energy_pJ"]["int8_dense"]["memory"]["low"] == pytest.approx(15 * 0.23 + 15 * byte8k + 8 * byte8k)
    # no reuse: a weight and an input read per MAC, outputs written once per evaluation
    assert fc1["energy_pJ"]["int8_dense"]["memory"]["high"] == pytest.approx(
        300 * 0.3 + 300 * byte8k + (300 + 10 * 5) * byte8k)
    assert fc1["energy_pJ"]["fp32_dense"]["memory"]["low"] == pytest.approx(
        300 * 4.6 + 30 * 4 * byte8k + 10 * (6 + 5) * 4 * byte8k)
    # zero-skipping: the measured effective MACs replace the dense ones
    assert fc1["energy_pJ"]["int8_effective"]["memory"]["low"] == pytest.approx(
        100 * 0.23 + 30 * byte8k + 10 * 11 * byte8k)
    assert fc1["energy_pJ"]["int8_effective"]["memory"]["high"] == pytest.approx(
        100 * 0.3 + 100 * byte8k + (100 + 10 * 5) * byte8k)
    assert view(r, "int8", "effective", "arithmetic")["ops"] == 105
    assert r["accuracy"] == {"fp32": None, "int8": 0.9}


def test_ann_conv_macs_exclude_padding_and_pool_adds():
    ann = {"format": "spikeport-ann/1", "frames": 1, "layers": [
        {"name": "c", "kind": "conv", "in_shape": [2, 4, 4], "out_shape": [3, 4, 4], "kernel": [3, 3],
         "padding": [1, 1], "bias": True, "per_frame": False},
        {"name": "dw", "kind": "conv", "in_shape": [3, 4, 4], "out_shape": [3, 2, 2], "kernel": [3, 3],
         "stride": [2, 2], "padding": [1, 1], "groups": 3, "per_frame": False},
        {"name": "p", "kind": "pool", "in_shape": [3, 2, 2], "out_shape": [3, 1, 1], "kernel": [2, 2],
         "per_frame": False}]}
    from spikeport.hw.ann_description import ann_layers

    c, dw, p = ann_layers(ann)
    # per axis of 4 with a 3-tap kernel and padding 1: 2 + 3 + 3 + 2 = 10 taps land inside
    assert c["macs"] == 3 * 2 * 10 * 10 and c["weights"] == 3 * 2 * 9 and c["biases"] == 3 and c["adds"] == 3 * 16
    # stride 2: outputs at 0 and 2 read 2 and 3 taps per axis
    assert dw["macs"] == 3 * 1 * 5 * 5 and dw["weights"] == 27
    assert p["macs"] == 0 and p["adds"] == 3 * 4 and p["weights"] == 0


def test_ann_memory_size_picks_the_array():
    ann = {"format": "spikeport-ann/1", "frames": 1, "layers": [
        {"name": "a", "kind": "dense", "in_features": 256, "out_features": 256},     # 64 KB int8: 1 MB array
        {"name": "b", "kind": "dense", "in_features": 600, "out_features": 600}]}    # 1.44 MB fp32: DRAM
    a, b = ann_energy(ann, "t")["layers"]
    assert a["energy_pJ"]["int8_dense"]["weight_memory"] == "sram_1mb"
    assert a["energy_pJ"]["int8_dense"]["memory"]["low"] == pytest.approx(
        65536 * 0.23 + 65536 * 100 / 8 + 512 * 10 / 8)
    assert b["energy_pJ"]["int8_dense"]["weight_memory"] == "sram_1mb"
    assert b["energy_pJ"]["fp32_dense"]["weight_memory"] == "dram"


@pytest.mark.parametrize("mutate,message", [
    (lambda a: a.update(format="other"), "format is 'other'"),
    (lambda a: a.update(samples=0), "no inferences counted"),
    (lambda a: a["layers"][0]["synops"].update(per_sample=[1]), "layers[0].synops.per_sample"),
    (lambda a: a["layers"][1]["spikes"].update(per_step=[-1] * STEPS), "layers[1].spikes.per_step"),
    (lambda a: a["layers"][0].pop("neuron_updates"), "layers[0].neuron_updates missing"),
])
def test_bad_activity_fails_clearly(mutate, message):
    act = copy.deepcopy(ACT)
    mutate(act)
    with pytest.raises(SpikeportError, match=message.replace("[", r"\[").replace("]", r"\]")):
        snn_energy(act, load_profile("loihi1"))


def test_activity_must_match_the_network(tmp_path):
    _net(tmp_path / "n.net")
    prof = load_profile("loihi1")
    act = copy.deepcopy(ACT)
    act["layers"][1]["neurons"] = 3
    with pytest.raises(SpikeportError, match="has 3 neurons, network layer layer2 has 2000"):
        snn_energy(act, prof, map_network(tmp_path / "n.net", prof))


@pytest.mark.parametrize("ann,message", [
    ({"format": "x", "frames": 1, "layers": []}, "format is 'x'"),
    ({"format": "spikeport-ann/1", "frames": 0, "layers": []}, "'frames' must be a positive integer"),
    ({"format": "spikeport-ann/1", "frames": 2, "layers": [{"name": "c", "kind": "conv", "in_shape": [3, 4, 4],
                                                          "out_shape": [2, 2, 2]}]}, "layer 'c': missing field 'kernel'"),
    ({"format": "spikeport-ann/1", "frames": 2, "layers": [{"name": "d", "kind": "dense", "in_features": -3,
                                                          "out_features": 2}]}, "layer 'd': 'in_features' must be"),
    ({"format": "spikeport-ann/1", "frames": 2, "layers": [{"name": "r", "kind": "rnn"}]},
     "layer 'r': unknown layer kind 'rnn'"),
    ({"format": "spikeport-ann/1", "frames": 2, "layers": [{"name": "k"}]}, "layer 'k': missing field 'kind'"),
    ({"format": "spikeport-ann/1", "frames": 1, "layers": [{"name": "c", "kind": "conv", "in_shape": [3, 4, 4],
                                                          "out_shape": [2, 3, 3], "kernel": [3, 3]}]},
     r"layer 'c': a \[3, 3\] convolution .* gives \[2, 2\], not out_shape \[3, 3\]"),
])
def test_bad_ann_description_fails_clearly(ann, message):
    with pytest.raises(SpikeportError, match=message):
        ann_energy(ann, "t")
