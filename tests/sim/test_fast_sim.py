"""The fast backend equals Lava's fixed_pt simulator spike for spike."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from spikeport.errors import SpikeportError
from spikeport.export import write_netx
from spikeport.sim import load_network, run_fast, run_fast_batch, run_lava, simulate
from spikeport.train.models import DenseSNN

pytestmark = pytest.mark.lava


def _equal_every_layer(a, b):
    assert len(a) == len(b)
    for i, (x, y) in enumerate(zip(a, b)):
        np.testing.assert_array_equal(np.asarray(x, int), np.asarray(y, int), err_msg=f"layer {i}")


def test_trained_network_fast_equals_lava_and_pytorch(digits_slice):
    net = digits_slice["net"]
    rng = np.random.default_rng(3)
    xs = (rng.random((3, 64, 32)) < 0.35).astype(np.float64)
    layers = load_network(net)
    batch = run_fast_batch(layers, xs, all_layers=True)
    assert batch[-1].sum() > 0
    for k in range(len(xs)):
        _equal_every_layer([b[k] for b in batch], run_lava(net, xs[k], all_layers=True))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sizes=st.lists(st.integers(1, 40), min_size=2, max_size=4),
    threshold=st.floats(0.1, 3.0),
    current_decay=st.floats(0.0, 1.0),
    voltage_decay=st.floats(0.0, 1.0),
    weight_scale=st.floats(0.5, 6.0),
    rate=st.floats(0.05, 0.9),
    steps=st.integers(1, 20),
    seed=st.integers(0, 2**16),
)
def test_random_dense_networks(tmp_path_factory, sizes, threshold, current_decay, voltage_decay,
                               weight_scale, rate, steps, seed):
    torch.manual_seed(seed)
    model = DenseSNN(sizes, {"threshold": threshold, "current_decay": current_decay,
                             "voltage_decay": voltage_decay}, weight_scale=weight_scale)
    x = (np.random.default_rng(seed).random((sizes[0], steps)) < rate).astype(np.float64)
    with torch.no_grad():
        model(torch.from_numpy(x[None]).float())  # SLAYER fixes neuron shapes on first use
    path = tmp_path_factory.mktemp("rand") / "net.net"
    try:
        write_netx(model.blocks, path)
    except SpikeportError:
        assume(False)  # every weight rounded to zero: nothing netx can load
    _equal_every_layer(run_fast(path, x, all_layers=True), run_lava(path, x, all_layers=True))


def test_ntidigits_axonal_delays_fast(netx_gts):
    """lava-dl's ntidigits ground truth (delays up to 62 steps), every spike of 600 steps."""
    steps = 600
    x = np.load(netx_gts / "gts/ntidigits/input.npy")[:, :steps]
    gt = np.load(netx_gts / "gts/ntidigits/output.npy")
    layers = load_network(netx_gts / "gts/ntidigits/ntidigits.net", num_layers=5)
    assert any(l.synapse is not None and l.synapse.max_delay > 0 for l in layers)
    out = run_fast(layers, x)
    np.testing.assert_array_equal(out[:, :steps - 1].astype(int), gt[:, 1:steps])


def test_pilotnet_lif_conv_fast_equals_lava(netx_gts):
    """Conv + dense CUBA network with the image as input-layer bias: every layer."""
    steps = 5
    root = netx_gts / "gts/pilotnet_lif"
    image = np.load(root / "image.npy").astype(int)
    from spikeport.sim.lava_backend import _imports, load_netx

    netx, io, RunSteps, Loihi2SimCfg = _imports()
    net = load_netx(root / "network.net")
    net.in_layer.neuron.bias_mant.init = image
    sinks = []
    for layer in net.layers:
        s = io.sink.RingBuffer(shape=layer.out.shape, buffer=steps)
        layer.out.connect(s.a_in)
        sinks.append(s)
    net.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
    lava = [s.data.get() for s in sinks]
    net.stop()
    layers = load_network(root / "network.net")
    layers[0].neuron.bias = (image.astype(np.int32) << 6)  # netx: input bias_exp = 6
    fast = run_fast(layers, np.zeros((200, 66, 3, steps)), all_layers=True)
    assert sum(int(l.sum()) for l in lava[1:]) > 1000
    _equal_every_layer(fast, lava)


def test_pilotnet_sdnn_fast_equals_ground_truth(netx_gts):
    """Sigma-delta PilotNet (delta input, 4 sigma-delta convs, 3 dense, sigma readout):
    the graded output of every step equals lava-dl's reference."""
    root = netx_gts / "gts/pilotnet_sdnn"
    net = load_network(root / "network.net")
    assert [l.kind for l in net][:2] == ["sdnn_input", "sdnn_conv"] and net[-1].kind == "sigma_dense"
    x = np.load(root / "input.npy")                 # one frame; the RingBuffer repeats it
    gt = np.load(root / "output.npy")
    out = simulate(net, x, steps=len(net)).output[0]
    assert np.abs(gt).sum() > 0
    np.testing.assert_array_equal(out, gt)


def test_streaming_chunks_change_nothing(netx_gts):
    """Delay buffers carry across chunk boundaries: any chunk length gives the same
    spikes and counts (ntidigits, delays up to 62 steps, a batch of 3)."""
    x = np.load(netx_gts / "gts/ntidigits/input.npy")[:, :150]
    xs = np.stack([x, np.roll(x, 17, axis=1), np.roll(x, 5, axis=0)])
    net = load_network(netx_gts / "gts/ntidigits/ntidigits.net", num_layers=5)
    whole = simulate(net, xs, counts=True, record="all")
    assert whole.output.sum() > 0
    for chunk in (1, 7, 64):
        part = simulate(net, xs, counts=True, record="all", chunk=chunk)
        _equal_every_layer(part.layers, whole.layers)
        assert part.counts == whole.counts


def test_reset_interval_fast_equals_lava(tmp_path):
    """netx's reset_interval (LIFReset, a staggered offset per layer) on both backends."""
    from spikeport.sim.synthetic import write_network

    rng = np.random.default_rng(2)
    cuba = {"type": "CUBA", "iDecay": 512, "vDecay": 128, "vThMant": 30}
    path = tmp_path / "net.net"
    write_network(path, [{"type": "input", "shape": [6], "neuron": cuba},
                         {"type": "dense", "weight": rng.integers(-40, 120, (5, 6)), "neuron": cuba},
                         {"type": "dense", "weight": rng.integers(-40, 120, (4, 5)), "neuron": cuba}])
    x = rng.integers(0, 300, (6, 15))
    fast = simulate(path, x, backend="fast", record="all", reset_interval=4, reset_offset=1)
    lava = simulate(path, x, backend="lava", record="all", reset_interval=4, reset_offset=1)
    assert all(l.sum() > 0 for l in fast.layers)
    _equal_every_layer(fast.layers, lava.layers)


def test_ntidigits_average_readout(netx_gts):
    """lava-dl's ntidigits ends with an 'average' layer (242 neurons -> 11 class rates):
    simulate() runs the file whole and averages on the host, equal to the lava-dl
    ground truth averaged by hand, on both backends."""
    path = netx_gts / "gts/ntidigits/ntidigits.net"
    x = np.load(netx_gts / "gts/ntidigits/input.npy")[:, :300]
    gt = np.load(netx_gts / "gts/ntidigits/output.npy")[:, 1:300].astype(np.float32)
    res = simulate(path, x, backend="fast")
    assert res.output.shape == (1, 11, 300) and res.output.dtype == np.float32
    assert res.readout == "average of 11 groups" and res.readout_input.shape == (1, 242, 300)
    np.testing.assert_array_equal(res.output[0, :, :299], gt.reshape(11, 22, -1).mean(axis=1))
    assert res.output.sum() > 0
    lava = simulate(path, x[:, :40], backend="lava")
    np.testing.assert_array_equal(lava.output, simulate(path, x[:, :40], backend="fast").output)


def test_average_readout_rules(tmp_path):
    from spikeport.errors import SpikeportError
    from spikeport.sim.readout import average
    from spikeport.sim.synthetic import write_network

    # SLAYER's group order: channel-major, whatever order netx keeps the neurons in
    s = np.zeros((1, 2, 1, 3, 4), np.int32)          # netx (x, y, c), T = 4
    s[0, :, 0, 0, 0] = 1                              # channel 0 fires at t = 0
    s[0, 0, 0, 2, 1] = 1                              # channel 2, x = 0 fires at t = 1
    np.testing.assert_array_equal(average(s, 3)[0], [[1, 0, 0, 0], [0, 0, 0, 0], [0, 0.5, 0, 0]])
    with pytest.raises(SpikeportError, match="7 neurons do not split into 2"):
        average(np.zeros((1, 7, 3)), 2)
    cuba = {"type": "CUBA", "iDecay": 512, "vDecay": 128, "vThMant": 30}
    path = tmp_path / "mid.net"
    write_network(path, [{"type": "input", "shape": [4], "neuron": cuba},
                         {"type": "average", "shape": [2, 1, 1]},
                         {"type": "dense", "weight": np.ones((2, 4), int) * 50, "neuron": cuba}])
    with pytest.raises(SpikeportError, match=r"layer 1 \(average\): 'type' is 'average' but not the last layer"):
        simulate(path, np.ones((4, 5), np.int32))
