"""NIR interop (issue #16): ``spikeport nir export`` / ``import``.

* Round trip: netx -> NIR -> netx reproduces every integer Lava runs and every spike
  of every layer at every step (fast backend), on lava-dl's ground truths and on
  hypothesis-drawn dense / conv / recurrent / pooled CUBA networks with delays.
* Across frameworks, against snnTorch 1.0 on the same input. Two semantic
  differences are not bugs and are taken into account, not hidden:
  - Loihi delivers a synapse's spikes one step later, so a network of ``L`` layers
    answers ``L`` steps after snnTorch (``Network.latency``): outputs are compared
    with that shift;
  - snnTorch's default ``reset_delay=True`` zeroes a ``Synaptic`` neuron's membrane
    one step after it fires (and drops that step's input); NIR, Lava and snnTorch's
    own ``import_nir`` reset at once (``reset_delay=False``), which is what the
    networks compared here use; one test shows the size of the difference.
  What remains is Loihi's fixed point: decays round the state toward zero each
  step, and weights/decays that are not on the chip's grid are rounded.
* Bad input through ``spikeport.cli.main``: exit 2, one stderr line, no output file.
"""
from __future__ import annotations


import h5py
import nir
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from spikeport.cli import main
from spikeport.errors import SpikeportError
from spikeport.nir_export import export_nir
from spikeport.nir_import import import_nir
from spikeport.sim import simulate
from spikeport.sim.netx_reader import read_network
from spikeport.sim.netx_validate import validate
from spikeport.sim.synthetic import write_network

snn = pytest.importorskip("snntorch")
import snntorch.utils  # noqa: E402
from snntorch.export_nir import export_to_nir  # noqa: E402
from snntorch.import_nir import import_from_nir  # noqa: E402

torch.set_num_threads(1)


# ------------------------------------------------------------------ helpers --

def cuba(i: int, v: int, th: int) -> dict:
    return {"type": "CUBA", "iDecay": i, "vDecay": v, "vThMant": th}


def assert_same_integers(a, b, **options) -> None:
    """Every parameter Lava runs (netx's derived weights, exponents, delays,
    geometry, decays, thresholds, biases) equal in netx files ``a`` (read with
    ``options``) and ``b``."""
    na, nb = read_network(a, **options), read_network(b)
    assert [l.kind for l in na] == [l.kind for l in nb]
    for x, y in zip(na, nb):
        assert len(x.synapses) == len(y.synapses), x.name
        for s, t in zip(x.synapses, y.synapses):
            for f in ("kind", "weight_exp", "stride", "padding", "dilation", "groups", "in_shape", "out_shape",
                      "num_weight_bits"):
                assert getattr(s, f) == getattr(t, f), (x.name, f)
            np.testing.assert_array_equal(s.weight, t.weight, err_msg=x.name)
            assert (s.delays is None) == (t.delays is None), x.name
            if s.delays is not None:
                np.testing.assert_array_equal(s.delays, t.delays, err_msg=x.name)
        for f in ("kind", "shape", "du", "dv", "vth"):
            assert getattr(x.neuron, f) == getattr(y.neuron, f), (x.name, f)
        np.testing.assert_array_equal(np.broadcast_to(x.neuron.bias, x.neuron.shape),
                                      np.broadcast_to(y.neuron.bias, y.neuron.shape))


def assert_same_spikes(a, b, x, **options) -> int:
    """Every layer's spikes equal; returns how many spikes were compared."""
    ra = simulate(a, x, backend="fast", record="all", **options)
    rb = simulate(b, x, backend="fast", record="all")
    assert len(ra.layers) == len(rb.layers)
    for i, (p, q) in enumerate(zip(ra.layers, rb.layers)):
        np.testing.assert_array_equal(p, q, err_msg=f"layer {i}")
    return sum(int(p.sum()) for p in ra.layers)


def round_trip(src, tmp_path, **export_options):
    graph, back = tmp_path / "g.nir", tmp_path / "back.net"
    export_nir(src, graph, **export_options)
    report = import_nir(graph, back)
    validate(back)
    return report, back


def strip_metadata(src, dst) -> None:
    """A copy of a NIR file without spikeport's metadata (a foreign graph)."""
    g = nir.read(src)

    def clear(graph):
        graph.metadata = {}
        for n in graph.nodes.values():
            n.metadata = {}
            if isinstance(n, nir.NIRGraph):
                clear(n)
    clear(g)
    nir.write(dst, g)


# ------------------------------------------------------------------ round trips --

GROUND_TRUTHS = [("tiny.net", None, "current"), ("gts/pilotnet_lif/network.net", None, "current"),
                 ("mnist.net", None, "current"), ("gts/ntidigits/ntidigits.net", 5, "spikes")]


@pytest.mark.parametrize("name,num_layers,kind", GROUND_TRUTHS)
def test_ground_truth_round_trip_is_exact(netx_gts, tmp_path, name, num_layers, kind):
    """lava-dl's CUBA ground truths (ntidigits without its average readout, which
    NIR cannot express): same integers, same spikes in every layer."""
    src = netx_gts / name
    report, back = round_trip(src, tmp_path, num_layers=num_layers)
    assert report["exact"] and all(r["weight_error"] == 0 for r in report["layers"])
    opts = {} if num_layers is None else {"num_layers": num_layers}
    assert_same_integers(src, back, **opts)
    net = read_network(src, **opts)
    rng = np.random.default_rng(0)
    steps = 12 if kind == "current" else 120
    shape = (2,) + tuple(net.input_shape) + (steps,)
    x = rng.integers(0, 200, shape) if kind == "current" else (rng.random(shape) < 0.1).astype(float)
    assert assert_same_spikes(src, back, x, **opts) > 0


@st.composite
def neurons(draw, bias_ok: bool = True) -> dict:
    return cuba(draw(st.integers(0, 4096)), draw(st.integers(1, 4096)), draw(st.integers(0, 3000)))


def _weights(draw, shape) -> np.ndarray:
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 31)))
    lo, hi = draw(st.sampled_from([(-256, 254), (0, 255), (-256, 0), (-40, 90)]))
    w = rng.integers(lo, hi + 1, shape)
    if lo < 0 < hi and draw(st.booleans()):
        w = w // 2 * 2               # what spikeport's training exports: 8-bit mantissa times 2
    w[rng.random(shape) < draw(st.floats(0, 0.5))] = 0
    if not w.any():
        w.reshape(-1)[0] = hi or lo
    return w


def _delay(draw, out: int, n_in: int):
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 31)))
    form = draw(st.sampled_from(["none", "out", "in", "full"]))
    hi = draw(st.integers(0, 62))
    return {"none": None, "out": rng.integers(0, hi + 1, out), "in": rng.integers(0, hi + 1, n_in),
            "full": rng.integers(0, hi + 1, (out, n_in))}[form]


@st.composite
def dense_layers(draw, n_in: int, count: int) -> list[dict]:
    layers = []
    for k in range(count):
        out = draw(st.integers(1, 12))
        layer = {"type": "dense", "weight": _weights(draw, (out, n_in)), "neuron": draw(neurons())}
        if draw(st.booleans()):
            layer["bias"] = np.random.default_rng(k).integers(-300, 300, out)
        if draw(st.booleans()) and k == count - 1:
            layer.update(type="dense_rec", weight_rec=_weights(draw, (out, out)))
        else:
            d = _delay(draw, out, n_in)
            if d is not None:
                layer["delay"] = d
        layers.append(layer)
        n_in = out
    return layers


@st.composite
def networks(draw) -> list[dict]:
    """Small dense, or conv (+ pool) then dense, CUBA networks with axonal delays."""
    if draw(st.booleans()):
        return draw(dense_layers(draw(st.integers(1, 10)), draw(st.integers(1, 3))))
    c, h, w = draw(st.integers(1, 3)), draw(st.integers(4, 8)), draw(st.integers(4, 8))
    o, k = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    stride, pad = draw(st.integers(1, 2)), draw(st.integers(0, 1))
    conv = {"type": "conv", "weight": _weights(draw, (o, c, k, k)), "stride": stride, "padding": pad,
            "neuron": draw(neurons())}
    if draw(st.booleans()):
        conv["bias"] = np.random.default_rng(1).integers(-100, 100, o)
    shape = (o, (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1)
    layers = [{"type": "input", "shape": [c, h, w]}, conv]
    if draw(st.booleans()) and min(shape[1:]) >= 2:
        layers.append({"type": "pool", "shape": [o, shape[1] // 2, shape[2] // 2],
                       "weight": np.full((1, 1, 2, 2), draw(st.integers(1, 255))), "neuron": draw(neurons())})
        shape = (o, shape[1] // 2, shape[2] // 2)
    return layers + [{"type": "flatten"}] + draw(dense_layers(int(np.prod(shape)), draw(st.integers(1, 2))))


def _bias_has_nir_form(layers: list[dict]) -> bool:
    """A bias on neurons without voltage leak whose current decays has no NIR form
    (export refuses it; tested below)."""
    return not any("bias" in l and l["neuron"]["vDecay"] == 0 and l["neuron"]["iDecay"] != 4096 for l in layers
                   if "neuron" in l)


def _netx_changes_weights(layers: list[dict]) -> bool:
    """Whether netx runs other dense weights than the file's integers (its optimiser
    miscounts the bits of one-signed matrices with zeros, or of a one-signed part of a
    mixed recurrent layer, and Lava's Dense model then drops odd weights). Such files
    are left out here: their integers are not what runs (the importer writes weights
    netx keeps; see nir_import.weight_step)."""
    from spikeport.fixed_point import netx_keeps

    return any(not netx_keeps([np.asarray(l["weight"])] + ([np.asarray(l["weight_rec"])] if "weight_rec" in l else []))
               for l in layers if l["type"] in ("dense", "dense_rec"))


def _on_the_chips_grid(layers: list[dict]) -> bool:
    """Whether every weight matrix fits Loihi's 8-bit weights: even with mixed signs,
    magnitudes up to 255 with one sign (netx runs odd mixed weights, or -256 alone,
    with 9 bits; the importer writes 8-bit ones)."""
    for l in layers:
        for key in ("weight", "weight_rec"):
            w = np.asarray(l.get(key, 0))
            mixed = w.min() < 0 < w.max()
            if l["type"] != "pool" and ((mixed and (w % 2).any()) or (not mixed and w.min() < -255)):
                return False
    return True


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(layers=networks(), seed=st.integers(0, 2 ** 16), dt=st.sampled_from([1e-3, 1e-4, 0.5]))
def test_random_networks_round_trip_exactly(tmp_path_factory, layers, seed, dt):
    tmp = tmp_path_factory.mktemp("nir")
    src = tmp / "net.net"
    write_network(src, layers)
    try:
        validate(src)
    except SpikeportError:
        assume(False)
    assume(_bias_has_nir_form(layers) and not _netx_changes_weights(layers))
    report, back = round_trip(src, tmp, dt=dt)
    assert report["exact"], report["notes"]
    assert_same_integers(src, back)
    net = read_network(src)
    rng = np.random.default_rng(seed)
    x = (rng.random((2,) + tuple(net.input_shape) + (30,)) < 0.4).astype(float)
    assert_same_spikes(src, back, x)
    if not _on_the_chips_grid(layers):
        return
    # without the metadata, the quantizer finds the same integers up to a power of two per layer
    strip_metadata(tmp / "g.nir", tmp / "foreign.nir")
    report = import_nir(tmp / "foreign.nir", tmp / "foreign.net", convention="snntorch", dt=dt)
    assert not report["exact"]
    for row in report["layers"]:
        assert max(row["weight_error"], row["decay_error"], row["threshold_error"], row["bias_error"]) < 1e-9, row
    for a, b, row in zip(net, read_network(tmp / "foreign.net"), report["layers"]):
        k = row["scale"] / 64
        assert (b.neuron.du, b.neuron.dv, b.neuron.vth) == (a.neuron.du, a.neuron.dv, round(a.neuron.vth * k))
        for p, q in zip(a.synapses, b.synapses):
            np.testing.assert_array_equal(q.weight * 2.0 ** q.weight_exp, np.round(p.weight * 2.0 ** p.weight_exp * k))
            assert k == 2.0 ** round(np.log2(k))


# ------------------------------------------------------------------ snnTorch -> Loihi --

def per_neuron(value: float, shape) -> torch.Tensor:
    """snnTorch 1.0's export_to_nir needs neuron parameters shaped like the layer
    (a scalar alpha/beta/threshold gives a shape-() node that fails NIR's type check)."""
    return torch.full(tuple(shape) if not isinstance(shape, int) else (shape,), float(value))


def snn_dense(sizes, seed, grid=True, alpha=0.5, beta=0.75, bias=False, reset_delay=False):
    """Linear -> Synaptic ... Linear -> Leaky (reset to zero), weights on the 1/64 grid
    when ``grid``."""
    g = torch.Generator().manual_seed(seed)
    mods = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        lin = torch.nn.Linear(a, b, bias=bias)
        with torch.no_grad():
            w = torch.randn(b, a, generator=g) * 2 / np.sqrt(a)
            lin.weight.copy_(torch.round(w * 64) / 64 if grid else w)
            if bias:
                lin.bias.copy_(torch.randn(b, generator=g) * 0.1)
        last = i == len(sizes) - 2
        neu = (snn.Leaky(beta=per_neuron(beta, b), threshold=per_neuron(1.0, b), reset_mechanism="zero",
                         init_hidden=True, output=True, reset_delay=reset_delay) if last else
               snn.Synaptic(alpha=per_neuron(alpha, b), beta=per_neuron(beta, b), threshold=per_neuron(1.0, b),
                            reset_mechanism="zero", init_hidden=True, reset_delay=reset_delay))
        mods += [lin, neu]
    return torch.nn.Sequential(*mods)


def snn_conv(seed, grid=True, alpha=0.5, beta=0.75):
    """Conv2d -> Synaptic -> Flatten -> Linear -> Leaky on (2, 6, 6) inputs."""
    g = torch.Generator().manual_seed(seed)
    conv, lin = torch.nn.Conv2d(2, 4, 3, padding=1, bias=False), torch.nn.Linear(144, 10, bias=False)
    with torch.no_grad():
        for m, fan in ((conv, 18), (lin, 144)):
            w = torch.randn(m.weight.shape, generator=g) * 2 / np.sqrt(fan)
            m.weight.copy_(torch.round(w * 64) / 64 if grid else w)
    sh = (4, 6, 6)
    return torch.nn.Sequential(
        conv, snn.Synaptic(alpha=per_neuron(alpha, sh), beta=per_neuron(beta, sh), threshold=per_neuron(1.0, sh),
                           reset_mechanism="zero", init_hidden=True, reset_delay=False),
        torch.nn.Flatten(), lin,
        snn.Leaky(beta=per_neuron(beta, 10), threshold=per_neuron(1.0, 10), reset_mechanism="zero",
                  init_hidden=True, output=True, reset_delay=False))


def run_snntorch(net, x: np.ndarray) -> np.ndarray:
    """``x`` (batch, inputs..., T) through an snnTorch module step by step -> output spikes."""
    snntorch.utils.reset(net)
    out = []
    with torch.no_grad():
        for t in range(x.shape[-1]):
            o = net(torch.from_numpy(np.ascontiguousarray(x[..., t])).float())
            out.append((o[0] if isinstance(o, tuple) else o).numpy())
    return np.stack(out, -1).astype(bool)


def run_loihi(path, x_netx: np.ndarray):
    """The fast backend on ``x`` padded by the network's latency, output aligned with
    snnTorch's (Loihi answers ``latency`` steps later)."""
    lat = read_network(path).latency
    pad = np.concatenate([x_netx, np.zeros(x_netx.shape[:-1] + (lat,), x_netx.dtype)], -1)
    return simulate(path, pad, backend="fast").output[..., lat:].astype(bool)


def agreement(a: np.ndarray, b: np.ndarray) -> dict:
    """Spike agreement of two ``(batch, outputs, T)`` records: equal cells, Jaccard of
    the spike sets, and the classification (most spikes) agreement."""
    return {"cells": float((a == b).mean()), "jaccard": float((a & b).sum() / max((a | b).sum(), 1)),
            "class": float((a.sum(-1).argmax(-1) == b.sum(-1).argmax(-1)).mean())}


def snntorch_to_loihi(net, sample_shape, tmp_path, **options):
    graph = export_to_nir(net, torch.zeros((1,) + tuple(sample_shape)), ignore_dims=[0])
    nir.write(tmp_path / "snntorch.nir", graph)
    report = import_nir(tmp_path / "snntorch.nir", tmp_path / "snntorch.net", **options)
    return tmp_path / "snntorch.net", report


SPIKES = np.random.default_rng(0).random((64, 20, 50)) < 0.25


# Measured on seeds 0-2 (64 samples x 50 steps, 20-40-10, random untrained weights):
# exact grid: cells 0.99975-0.99991, Jaccard 0.9985-0.9993, classes 1.000; the few
# differences are Loihi's round-toward-zero decays (state kept to 1/4096 of a weight
# step, snnTorch in floats). Arbitrary weights, alpha 0.9 / beta 0.8 (not on the 12-bit
# grid): cells 0.959-0.968, Jaccard 0.81-0.87, classes 0.91-0.95: the 8-bit weights
# (a signed mantissa times 2 with mixed signs) are off by 0.7-0.9 % (2-norm), the
# decays by 1e-4, and a membrane that an untrained network keeps near its threshold
# turns that into an earlier or later spike, which then propagates.
@pytest.mark.parametrize("case,grid,alpha,beta,cells,jaccard,classes", [
    ("exact", True, 0.5, 0.75, 0.999, 0.995, 1.0),
    ("arbitrary", False, 0.9, 0.8, 0.95, 0.78, 0.88)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_snntorch_dense_on_loihi(tmp_path, case, grid, alpha, beta, cells, jaccard, classes, seed):
    net = snn_dense([20, 40, 10], seed, grid=grid, alpha=alpha, beta=beta)
    path, report = snntorch_to_loihi(net, (20,), tmp_path)
    assert report["convention"] == "snntorch" and report["dt"] == pytest.approx(1e-4)
    if grid:
        assert all(r["weight_error"] == 0 and r["decay_error"] == 0 for r in report["layers"])
    x = SPIKES.astype(np.float32)
    got = agreement(run_snntorch(net, x), run_loihi(path, x))
    assert got["cells"] >= cells and got["jaccard"] >= jaccard and got["class"] >= classes, got


@pytest.mark.parametrize("grid,alpha,beta,cells,jaccard,classes", [(True, 0.5, 0.75, 0.999, 0.995, 1.0),
                                                                   (False, 0.9, 0.8, 0.97, 0.9, 0.88)])
def test_snntorch_conv_on_loihi(tmp_path, grid, alpha, beta, cells, jaccard, classes):
    """Conv2d into Synaptic, Flatten, Linear into Leaky (32 samples x 40 steps);
    measured on seeds 0, 1: exact grid cells 0.9990-0.9999, Jaccard 0.993-0.9996,
    classes 1.0; arbitrary weights and decays cells 0.960-0.980, Jaccard 0.81-0.94,
    classes 0.91-0.94 (asserted on seed 0)."""
    net = snn_conv(0, grid=grid, alpha=alpha, beta=beta)
    path, report = snntorch_to_loihi(net, (2, 6, 6), tmp_path)
    assert [r["kind"] for r in report["layers"]] == ["conv", "dense"]
    x = (np.random.default_rng(1).random((32, 2, 6, 6, 40)) < 0.25).astype(np.float32)
    got = agreement(run_snntorch(net, x), run_loihi(path, x.transpose(0, 3, 2, 1, 4)))  # (C, H, W) -> (x, y, c)
    assert got["cells"] >= cells and got["jaccard"] >= jaccard and got["class"] >= classes, got


def test_snntorch_default_reset_is_one_step_later(tmp_path):
    """snnTorch's default ``reset_delay=True`` is not NIR's reset: the Loihi import of
    the same weights matches the ``reset_delay=False`` twin (measured cells >= 0.9997)
    and not the default (measured on seeds 0-2: Jaccard 0.34-0.39; snnTorch fires
    0.56-0.70x as often, each spike silencing its neuron for one more step)."""
    x = SPIKES.astype(np.float32)
    twin, default = snn_dense([20, 40, 10], 0), snn_dense([20, 40, 10], 0, reset_delay=True)
    path, _ = snntorch_to_loihi(default, (20,), tmp_path)   # export_to_nir writes the same graph for both
    loihi = run_loihi(path, x)
    assert agreement(run_snntorch(twin, x), loihi)["cells"] >= 0.999
    late = agreement(run_snntorch(default, x), loihi)
    assert late["jaccard"] < 0.5 and run_snntorch(default, x).sum() < loihi.sum(), late


def test_snntorch_linear_bias_is_approximate(tmp_path):
    """A Linear bias is a constant input current; Loihi's bias enters the voltage, so it
    is imported as its steady state g c / (1 - alpha) (noted in the table), and Loihi
    integrates it from step 0, ``latency`` steps before the input arrives. Measured
    (seeds 0-2, alpha 0.9): cells 0.907-0.930, classes 0.70-0.94."""
    net = snn_dense([20, 40, 10], 0, grid=False, alpha=0.9, beta=0.8, bias=True)
    path, report = snntorch_to_loihi(net, (20,), tmp_path)
    assert "steady-state" in " ".join(report["layers"][0]["notes"])
    got = agreement(run_snntorch(net, SPIKES.astype(np.float32)), run_loihi(path, SPIKES.astype(np.float32)))
    assert got["cells"] >= 0.9, got


# ------------------------------------------------------------------ Loihi -> snnTorch --

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spikeport_export_loads_in_snntorch(tmp_path, seed):
    """A netx network exported at snnTorch's step (its import_nir assumes dt = 1e-4)
    runs in snnTorch (its import resets at once, as Loihi does); measured on seeds
    0-2: every output spike equal (6378, 5779, 6371 spikes over 16 x 40 steps). The
    bound leaves room for Loihi's rounded decays."""
    rng = np.random.default_rng(seed)
    layers = [{"type": "dense", "weight": rng.integers(-60, 100, (30, 20)), "neuron": cuba(2048, 1024, 64)},
              {"type": "dense", "weight": rng.integers(-60, 100, (10, 30)), "neuron": cuba(4096, 512, 80)}]
    src = tmp_path / "net.net"
    write_network(src, layers)
    export_nir(src, tmp_path / "net.nir", dt=1e-4)
    model = import_from_nir(nir.read(tmp_path / "net.nir"))
    x = (rng.random((16, 20, 40)) < 0.3).astype(np.float32)
    got = agreement(run_snntorch(model, x), run_loihi(src, x))
    assert got["cells"] >= 0.999 and got["class"] == 1.0, got


# ------------------------------------------------------------------ bad input --

def lif(n: int, dt: float = 1e-4, **change) -> nir.CubaLIF:
    """A CubaLIF in snnTorch's convention (alpha 0.5, beta 0.75 at ``dt``)."""
    p = {"tau_syn": np.full(n, 2 * dt), "tau_mem": np.full(n, 4 * dt), "r": np.full(n, 4.0),
         "v_leak": np.zeros(n), "v_threshold": np.ones(n), "v_reset": np.zeros(n), "w_in": np.full(n, 2.0)}
    p.update(change)
    return nir.CubaLIF(**p)


def write_graph(path, nodes: dict, edges: list) -> None:
    nir.write(path, nir.NIRGraph(nodes=nodes, edges=edges, type_check=False))


def chain(path, *middle, n_in: int = 6) -> None:
    """``Input -> middle... -> Output`` written to ``path``."""
    nodes = {"input": nir.Input(input_type={"input": np.array([n_in])})}
    nodes.update({f"n{i}": m for i, m in enumerate(middle)})
    names = list(nodes) + ["output"]
    nodes["output"] = nir.Output(output_type={"output": np.array([5])})
    write_graph(path, nodes, list(zip(names[:-1], names[1:])))


def good(path) -> None:
    chain(path, nir.Affine(weight=np.full((5, 6), 0.25), bias=np.zeros(5)), lif(5))


def _edit(path, node: str, fn) -> None:
    with h5py.File(path, "a") as h:
        fn(h["node"]["nodes"][node])


def _retype(g) -> None:
    del g["type"]
    g.create_dataset("type", data="Foo", dtype=h5py.string_dtype())


BAD_GRAPHS = {
    "text": (lambda p: p.write_text("hello\n"), "not a NIR file"),
    "netx": (lambda p: write_network(p, [{"type": "dense", "weight": np.ones((2, 2)), "neuron": cuba(1, 1, 1)}]),
             "not a NIR file"),
    "unknown type": (lambda p: (good(p), _edit(p, "n1", _retype)), "node 'n1' has type 'Foo', not a NIR node type"),
    "unsupported": (lambda p: chain(p, nir.Affine(weight=np.ones((5, 6)), bias=np.zeros(5)),
                                    nir.LI(tau=np.ones(5), r=np.ones(5), v_leak=np.zeros(5))), "node 'n1' (LI)"),
    "missing field": (lambda p: (good(p), _edit(p, "n0", lambda g: g.__delitem__("weight"))),
                      "node 'n0' (Affine) has no 'weight' field"),
    "shapes": (lambda p: chain(p, nir.Affine(weight=np.ones((5, 7)), bias=np.zeros(5)), lif(5)),
               "node 'n0' (Affine): weight of shape (5, 7) does not take the 6 inputs"),
    "neurons": (lambda p: chain(p, nir.Affine(weight=np.ones((5, 6)), bias=np.zeros(5)), lif(4)),
                "node 'n1' (CubaLIF): tau_syn has shape (4,), its synapse feeds (5,) neurons"),
    "v_reset": (lambda p: chain(p, nir.Linear(weight=np.ones((5, 6))), lif(5, v_reset=np.full(5, 0.5))),
                "node 'n1' (CubaLIF): v_reset 0.5"),
    "per-neuron tau": (lambda p: chain(p, nir.Linear(weight=np.ones((5, 6))),
                                       lif(5, tau_mem=np.linspace(2e-4, 8e-4, 5), r=np.linspace(2, 8, 5))),
                       "node 'n1' (CubaLIF): per-neuron voltage time constants"),
    "half step": (lambda p: chain(p, nir.Delay(delay=np.full(6, 1.5e-4)), nir.Linear(weight=np.ones((5, 6))), lif(5)),
                  "node 'n0' (Delay): delay 0.00015 s is 1.5 steps"),
    "branch": (lambda p: write_graph(p, {"input": nir.Input(input_type={"input": np.array([6])}),
                                         "a": nir.Linear(weight=np.ones((5, 6))),
                                         "b": nir.Linear(weight=np.ones((5, 6))), "la": lif(5), "lb": lif(5),
                                         "output": nir.Output(output_type={"output": np.array([5])})},
                                     [("input", "a"), ("input", "b"), ("a", "la"), ("b", "lb"), ("la", "output"),
                                      ("lb", "output")]),
               "branches to la, lb"),
    "convention": (lambda p: chain(p, nir.Linear(weight=np.ones((5, 6))),
                                   nir.LIF(tau=np.full(5, 0.01), r=np.ones(5), v_leak=np.zeros(5),
                                           v_threshold=np.ones(5))),
                   "cannot tell which framework's convention"),
}


def _one_error_line(capsys, code: int, expect: str) -> str:
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert "\n" not in err and err.startswith("spikeport: error:"), err
    assert expect in err, err
    return err


@pytest.mark.parametrize("case", sorted(BAD_GRAPHS))
def test_bad_graphs_refused_one_line(tmp_path, capsys, case):
    make, expect = BAD_GRAPHS[case]
    graph, out = tmp_path / "g.nir", tmp_path / "out.net"
    make(graph)
    _one_error_line(capsys, main(["nir", "import", str(graph), "-o", str(out)]), expect)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.nir"]       # no output, no temporary left


def test_import_refuses_writing_over_its_input(tmp_path, capsys):
    graph = tmp_path / "g.nir"
    good(graph)
    before = graph.read_bytes()
    _one_error_line(capsys, main(["nir", "import", str(graph), "-o", str(graph)]), "also an input")
    assert graph.read_bytes() == before


@pytest.mark.parametrize("name,expect", [
    ("gts/pilotnet_sdnn/network.net", "layer 0 (input, SDNN neurons): sigma-delta"),
    ("gts/ntidigits/ntidigits.net", "layer 5 (average)")])
def test_export_refuses_what_nir_cannot_express(netx_gts, tmp_path, capsys, name, expect):
    out = tmp_path / "g.nir"
    _one_error_line(capsys, main(["nir", "export", str(netx_gts / name), "-o", str(out)]), expect)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_export_refuses_resonate_and_fire(tmp_path, capsys):
    src, out = tmp_path / "rf.net", tmp_path / "g.nir"
    write_network(src, [{"type": "dense", "weight_real": np.ones((3, 4)), "weight_imag": np.ones((3, 4)),
                         "neuron": {"type": "RF_PHASE", "sinDecay": 100, "cosDecay": 3900, "vThMant": 10}}])
    _one_error_line(capsys, main(["nir", "export", str(src), "-o", str(out)]), "resonate-and-fire")
    assert not out.exists()


def test_export_refuses_bias_without_nir_form(tmp_path, capsys):
    src, out = tmp_path / "b.net", tmp_path / "g.nir"
    write_network(src, [{"type": "dense", "weight": np.ones((3, 4)), "bias": np.ones(3), "neuron": cuba(100, 0, 10)}])
    _one_error_line(capsys, main(["nir", "export", str(src), "-o", str(out)]), "has no NIR form")
    assert not out.exists()


# ------------------------------------------------------------------ the command --

def test_cli_import_prints_and_stores_the_table(tmp_path, capsys):
    graph, out = tmp_path / "g.nir", tmp_path / "out.net"
    good(graph)
    assert main(["nir", "import", str(graph), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "quantized; convention snntorch, dt 0.0001 s (tau_mem / r)" in text and "weight err" in text
    validate(out)
    with h5py.File(out) as h:
        import json

        stored = json.loads(h["spikeport"].attrs["nir"])
    row = stored["layers"][0]
    assert (row["iDecay"], row["vDecay"], row["weight_error"]) == (2048, 1024, 0.0)
    net = read_network(out)
    assert net[0].neuron.vth == row["vThMant"] == round(row["scale"])


def test_cli_export_then_norse_style_import(tmp_path, capsys):
    """--convention/--dt read a graph the way another framework steps it: Norse's
    Euler at 1e-3 s with r = 1 gives beta = 1 - dt/tau and gain dt/tau."""
    graph, out = tmp_path / "g.nir", tmp_path / "out.net"
    chain(graph, nir.Linear(weight=np.full((5, 6), 8.0)),
          nir.LIF(tau=np.full(5, 4e-3), r=np.ones(5), v_leak=np.zeros(5), v_threshold=np.ones(5)))
    assert main(["nir", "import", str(graph), "-o", str(out), "--convention", "norse"]) == 0
    n = read_network(out)[0]
    assert (n.neuron.du + 1, n.neuron.dv) == (4096, 1024)
    w = n.synapse.weight * 2.0 ** n.synapse.weight_exp
    assert np.allclose(w / n.neuron.vth, 8.0 * 0.25)          # gain dt/tau = 0.25 on weights of 8


def test_snntorch_recurrent_layer_with_per_neuron_thresholds(tmp_path):
    """snnTorch's RSynaptic (exported as a neuron <-> Affine loop) becomes a netx
    ``dense_rec`` layer; its per-neuron thresholds fold into each neuron's incoming
    feed-forward and recurrent weights, so every row keeps its weight/threshold ratio."""
    g = torch.Generator().manual_seed(0)
    n = 12
    lin1, lin2 = torch.nn.Linear(20, n, bias=False), torch.nn.Linear(n, 5, bias=False)
    rec = snn.RSynaptic(alpha=per_neuron(0.5, n), beta=per_neuron(0.75, n), threshold=torch.linspace(0.5, 2.0, n),
                        linear_features=n, reset_mechanism="zero", init_hidden=True)
    with torch.no_grad():
        lin1.weight.copy_(torch.randn(n, 20, generator=g) * 0.5)
        lin2.weight.copy_(torch.randn(5, n, generator=g) * 0.6)
        rec.recurrent.weight.copy_(torch.randn(n, n, generator=g) * 0.3)
        rec.recurrent.bias.zero_()
    net = torch.nn.Sequential(lin1, rec, lin2, snn.Leaky(beta=per_neuron(0.75, 5), threshold=per_neuron(1.0, 5),
                                                         reset_mechanism="zero", init_hidden=True, output=True))
    path, report = snntorch_to_loihi(net, (20,), tmp_path)
    assert report["layers"][0]["kind"] == "dense_rec" and "thresholds folded" in report["layers"][0]["notes"][0]
    layer = read_network(path)[0]
    th = np.linspace(0.5, 2.0, n)[:, None]
    for lava, torch_w in ((layer.synapse, lin1.weight), (layer.recurrent, rec.recurrent.weight)):
        got = lava.weight * 2.0 ** lava.weight_exp / layer.neuron.vth
        want = torch_w.detach().numpy() / th
        # one unit from the even weight grid, half a unit from the threshold's rounding
        assert np.abs(got - want).max() <= (1.0 + 0.5 * np.abs(want).max()) / layer.neuron.vth
    assert simulate(path, SPIKES[:4].astype(np.float32), backend="fast").output.shape == (4, 5, 50)


def test_sinabs_and_rockpool_conventions(tmp_path):
    """Sinabs counts time constants in steps with exponential decay (tau = 4 steps:
    beta = e^-1/4); Rockpool writes r = tau e^(-dt/tau) / dt, from which the step is
    solved (Lambert's W), and feeds the voltage through one decay of the current."""
    sinabs = tmp_path / "sinabs.nir"
    chain(sinabs, nir.Linear(weight=np.full((5, 6), 0.5)),
          nir.LIF(tau=np.full(5, 4.0), r=np.ones(5), v_leak=np.zeros(5), v_threshold=np.ones(5)))
    report = import_nir(sinabs, tmp_path / "sinabs.net", convention="sinabs")
    assert (report["dt"], report["layers"][0]["vDecay"]) == (1.0, round(4096 * (1 - np.exp(-0.25))))
    rock = tmp_path / "rockpool.nir"
    tau, dt = 0.02, 1e-3
    r = tau * np.exp(-dt / tau) / dt
    chain(rock, nir.Linear(weight=np.full((5, 6), 0.5)),
          lif(5, tau_syn=np.full(5, tau), tau_mem=np.full(5, tau), r=np.full(5, r), w_in=np.ones(5)))
    report = import_nir(rock, tmp_path / "rockpool.net", convention="rockpool")
    assert report["dt"] == pytest.approx(dt, rel=1e-9) and report["dt_from"].startswith("r = tau")
    row = report["layers"][0]
    assert row["iDecay"] == row["vDecay"] == round(4096 * (1 - np.exp(-dt / tau)))
    n = read_network(tmp_path / "rockpool.net")[0]
    w = n.synapse.weight * 2.0 ** n.synapse.weight_exp
    assert np.allclose(w / n.neuron.vth, 0.5 * np.exp(-dt / tau), rtol=1e-2)


@pytest.mark.lava
def test_imported_network_runs_in_lava_as_in_the_fast_backend(tmp_path):
    """The netx file an snnTorch graph becomes is one Lava's netx builds: Lava's
    fixed_pt simulator gives the fast backend's spikes, every layer, every step."""
    from spikeport.sim import run_fast, run_lava

    path, _ = snntorch_to_loihi(snn_dense([20, 40, 10], 0, grid=False, alpha=0.9, beta=0.8), (20,), tmp_path)
    x = SPIKES[0, :, :30].astype(np.float64)
    fast, lava = run_fast(path, x, all_layers=True), run_lava(path, x, all_layers=True)
    assert sum(int(np.sum(f)) for f in fast) > 0
    for f, g in zip(fast, lava):
        np.testing.assert_array_equal(np.asarray(f, int), np.asarray(g, int))
