"""Keyword-spotting models: SLAYER forward == Lava fixed_pt == fast backend, every
spike of every layer, for the conv (direct input) and dense (spike input) nets."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from spikeport.errors import SpikeportError
from spikeport.export import from_netx_layer, to_netx_input, write_netx
from spikeport.train.ann_measure import describe
from spikeport.train.kws import build_snn, spike_penalty
from spikeport.train.models import AnnTwin, SpikingNet, kws_spec, layer_shapes


def _random_net(spec, seed):
    torch.manual_seed(seed)
    net = build_snn(spec)
    with torch.no_grad():
        for b in net.blocks:
            if getattr(b, "synapse", None) is not None:
                b.synapse.weight.mul_(3.0)
            if getattr(b, "delay", None) is not None:
                b.delay.delay.copy_(torch.randint(0, 6, b.delay.delay.shape).float() + 0.4)
    return net


def _layers_of(net, x):
    with torch.no_grad():
        return [o.numpy() for o in net(torch.as_tensor(x), return_all=True)]


@pytest.mark.lava
@pytest.mark.parametrize("model,direct", [("conv", True), ("dense", False)])
def test_kws_net_slayer_lava_fast_agree(model, direct, tmp_path):
    from spikeport.sim import load_network, run_fast_batch, run_lava

    spec = kws_spec(model, input_channels=3 if direct else 6, bands=12, classes=5, direct=direct)
    net = _random_net(spec, seed=2)  # a seed whose random net spikes in every layer (asserted below)
    rng = np.random.default_rng(0)
    steps = 14
    shape = (1,) + tuple(spec["input_shape"]) + (steps,)
    x = (rng.normal(size=shape) * 2).astype(np.float32) if direct else \
        (rng.random(shape) < 0.3).astype(np.float32)
    expected = _layers_of(net, x)
    path = tmp_path / "net.net"
    write_netx(net.blocks, path)
    xin = to_netx_input(x, analog=direct)
    lava = run_lava(path, xin[0], all_layers=True)
    fast = run_fast_batch(load_network(path), xin, all_layers=True)
    assert len(lava) == len(fast) == len(expected)
    active = 0
    for i, (e, l, f) in enumerate(zip(expected, lava, fast)):
        l = from_netx_layer(l[None])
        f = from_netx_layer(f)
        assert l.shape == e.shape == f.shape, i
        np.testing.assert_array_equal(l, e, err_msg=f"layer {i}: SLAYER vs Lava")
        np.testing.assert_array_equal(f, e, err_msg=f"layer {i}: fast vs SLAYER")
        active += int(e.sum() > 0)
    assert active == len(expected), "every layer must spike for the comparison to mean something"


def test_layer_shapes_and_ann_description():
    spec = kws_spec("conv")
    shapes = layer_shapes(spec)
    assert shapes == [(3, 40, 1), (32, 40, 1), (64, 20, 1), (64, 10, 1), (640,), (256,), (12,)]
    desc = describe(AnnTwin(spec).net, (3, 40, 1), frames=101, per_frame=True, name="twin")
    assert desc["format"] == "spikeport-ann/1" and desc["frames"] == 101
    kinds = [(l["kind"], l.get("out_shape", l.get("out_features"))) for l in desc["layers"] if l["kind"] != "flatten"]
    assert kinds == [("conv", [32, 40, 1]), ("conv", [64, 20, 1]), ("conv", [64, 10, 1]),
                     ("dense", 256), ("dense", 12)]
    x = torch.randn(2, 3, 40, 1, 7)
    assert AnnTwin(spec)(x).shape == (2, 12)


def test_spike_penalty_hand_value():
    # hidden layers l = 1, 2 of L = 2: 1/2 * mean(S^2)/2 + 2/2 * mean(S^2)/2
    s1 = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])      # mean 1/4
    s2 = torch.tensor([[[1.0, 1.0], [1.0, 0.0]]])      # mean 3/4
    out = torch.ones(1, 3, 2)                          # the output layer is not penalised
    assert float(spike_penalty([s1, s2, out])) == pytest.approx(0.5 * 0.25 / 2 + 1.0 * 0.75 / 2)


def _pool_spec(direct: bool) -> dict:
    """conv -> pool 2x2 -> conv -> pool 2x1 -> flatten -> dense -> dense, with every
    kind of layer the exported keyword spotters can hold."""
    return {"input_shape": [2, 8, 4], "input_neuron": direct, "neuron": {"threshold": 1.25},
            "weight_scale": 2.0,
            "layers": [{"kind": "conv", "out": 4, "kernel": [3, 3], "padding": [1, 1]},
                       {"kind": "pool", "kernel": [2, 2]},
                       {"kind": "conv", "out": 6, "kernel": [3, 1], "padding": [1, 0]},
                       {"kind": "pool", "kernel": [2, 1], "weight": 0.8},
                       {"kind": "flatten"},
                       {"kind": "dense", "out": 10, "delay": True},
                       {"kind": "dense", "out": 3}]}


@pytest.mark.lava
@pytest.mark.parametrize("direct", [True, False])
def test_pool_net_slayer_lava_fast_agree(direct, tmp_path):
    """SLAYER Pool blocks export as netx 'pool' layers; both backends run them (as
    grouped convolutions) spike for spike like SLAYER, every layer, every step."""
    import h5py

    from spikeport.sim import simulate

    spec = _pool_spec(direct)
    assert layer_shapes(spec)[1:5] == [(4, 8, 4), (4, 4, 2), (6, 4, 2), (6, 2, 2)]
    net = _random_net(spec, seed=3)
    rng = np.random.default_rng(5)
    steps = 16
    shape = (2,) + tuple(spec["input_shape"]) + (steps,)
    x = (rng.normal(size=shape) * 2).astype(np.float32) if direct else (rng.random(shape) < 0.4).astype(np.float32)
    expected = _layers_of(net, x)
    path = tmp_path / "pool.net"
    write_netx(net.blocks, path, input_shape=tuple(spec["input_shape"]))
    with h5py.File(path) as h:
        types = [h[f"layer/{i}/type"][0].decode() for i in range(len(h["layer"]))]
        input_neurons = "neuron" in h["layer/0"]
    assert types[0] == "input" and input_neurons == direct and types.count("pool") == 2
    xin = to_netx_input(x, analog=direct)
    fast = simulate(path, xin, backend="fast", record="all", counts=True)
    lava = simulate(path, xin, backend="lava", record="all", counts=True)
    assert len(fast.layers) == len(lava.layers) == len(expected)
    for i, e in enumerate(expected):
        l, f = from_netx_layer(lava.layers[i]), from_netx_layer(fast.layers[i])
        assert l.shape == e.shape == f.shape, i
        np.testing.assert_array_equal(l, e, err_msg=f"layer {i}: SLAYER vs Lava")
        np.testing.assert_array_equal(f, e, err_msg=f"layer {i}: fast vs SLAYER")
    assert all(e.sum() > 0 for e in expected), "every layer must spike for the comparison to mean something"
    assert fast.counts["layers"] == lava.counts["layers"]
    pools = [l for l in fast.counts["layers"] if l["name"] in ("layer2", "layer4")]
    assert len(pools) == 2 and all(sum(l["synops"]["per_sample"]) > 0 for l in pools)


def test_pool_spec_checks_and_ann_twin():
    with pytest.raises(SpikeportError, match="does not tile"):
        layer_shapes({"input_shape": [1, 5, 4], "layers": [{"kind": "pool", "kernel": [2, 2]}]})
    spec = _pool_spec(True)
    ann = AnnTwin(spec)
    assert ann(torch.randn(2, 2, 8, 4, 5)).shape == (2, 3)
    pools = [l for l in describe(ann.net, (2, 8, 4), frames=5, per_frame=True, name="t")["layers"]
             if l["kind"] == "pool"]
    assert [p["out_shape"] for p in pools] == [[4, 4, 2], [6, 2, 2]]


def test_dropout_trains_only_and_spares_the_output():
    spec = kws_spec("dense", input_channels=6, bands=4, classes=3, direct=False)
    plain = _random_net(spec, seed=2)
    net = build_snn(dict(spec, dropout=0.5))
    net.load_state_dict(plain.state_dict())  # same parameters, same names
    drops = [b.neuron.drop for b in net.spiking_blocks]
    assert all(d is not None and d.p == 0.5 for d in drops[:-1]) and drops[-1] is None
    x = (np.random.default_rng(3).random((4, 24, 30)) < 0.4).astype(np.float32)
    plain.eval()
    net.eval()
    for a, b in zip(_layers_of(plain, x), _layers_of(net, x)):
        np.testing.assert_array_equal(a, b)  # evaluation and export see the whole network
    net.train()
    torch.manual_seed(0)
    first = _layers_of(plain, x)[0]  # (batch, neurons, T); the first layer's input is not dropped
    dropped = _layers_of(net, x)[0]
    kept = dropped.sum(-1) > 0
    # a neuron is dropped for a whole sample, survivors scaled by 1 / (1 - p)
    np.testing.assert_array_equal(dropped, 2 * first * kept[..., None])
    active = first.sum(-1) > 0
    assert active.sum() > 100 and 0.35 < kept[active].mean() < 0.65


def test_ema_average_and_swap():
    """ema = d * ema + (1 - d) * w after each step; ema_weights runs on the average and
    puts the trained weights back."""
    from spikeport.train.ema import ema_init, ema_update, ema_weights

    net = torch.nn.Linear(3, 2)
    ema = ema_init(net)
    start = {n: v.clone() for n, v in ema.items()}
    with torch.no_grad():
        net.weight.add_(1.0)
    ema_update(ema, net, 0.9)
    torch.testing.assert_close(ema["weight"], 0.9 * start["weight"] + 0.1 * net.weight.detach())
    trained = net.weight.detach().clone()
    with ema_weights(net, ema):
        assert torch.equal(net.weight, ema["weight"])
    assert torch.equal(net.weight, trained)
    with ema_weights(net, {}):  # no average: the weights as they are
        assert torch.equal(net.weight, trained)


def test_optimizer_decays_weights_not_delays():
    from spikeport.train.kws import KwsConfig, _optimizer, build_snn, model_spec

    cfg = KwsConfig(weight_decay=0.05)
    net = build_snn(model_spec(cfg, 3, 40, 12), seed=0)
    groups = _optimizer(cfg, net).param_groups
    names = {id(p): n for n, p in net.named_parameters()}
    decayed = [names[id(p)] for g in groups if g["weight_decay"] == 0.05 for p in g["params"]]
    kept = [names[id(p)] for g in groups if g["weight_decay"] == 0.0 for p in g["params"]]
    assert decayed and all("delay" not in n for n in decayed)
    assert kept and all("delay" in n for n in kept)
    assert len(decayed) + len(kept) == sum(p.requires_grad for p in net.parameters())


def test_arch_overrides_and_per_layer_neurons():
    """KwsConfig.arch replaces layers / merges neuron parameters; a layer's own "neuron"
    entry reaches only that block (and its export)."""
    from spikeport.errors import SpikeportError
    from spikeport.train.kws import KwsConfig, model_spec

    base = model_spec(KwsConfig(), 3, 40, 12)
    layers = [dict(layer) for layer in base["layers"]]
    layers[-2] = dict(layers[-2], out=64, neuron={"voltage_decay": 0.05})
    cfg = KwsConfig(arch={"layers": layers, "neuron": {"threshold": 4.0}})
    spec = model_spec(cfg, 3, 40, 12)
    assert spec["layers"][-2]["out"] == 64 and spec["neuron"]["threshold"] == 4.0
    assert cfg.arch["layers"][-2]["out"] == 64 and spec["layers"] is not cfg.arch["layers"]
    net = SpikingNet(spec)
    dense, out = net.spiking_blocks[-2], net.spiking_blocks[-1]
    assert float(dense.neuron.voltage_decay) == pytest.approx(0.05 * 4096)
    assert float(out.neuron.voltage_decay) == pytest.approx(spec["neuron"]["voltage_decay"] * 4096)
    assert float(dense.neuron.threshold) == float(out.neuron.threshold) == 4.0
    with pytest.raises(SpikeportError, match="arch: unknown keys hidden"):
        model_spec(KwsConfig(arch={"hidden": 3}), 3, 40, 12)
