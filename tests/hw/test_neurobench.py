"""NeuroBench's own Benchmark (neurobench 2.3, run here) against spikeport's NeuroBench
metrics computed from the exported files.

* A trained conv SNN with axonal delays and a trained dense SNN (SLAYER models with
  their quantized weights copied into the synapses) and their ANNs (twin, DS-CNN;
  float and int8): SynapticOperations, ConnectionSparsity (NeuroBench rounds it to 4
  decimals), ParameterCount and ClassificationAccuracy are equal; ActivationSparsity
  and Footprint too (SLAYER's blocks hooked as activations; state buffers of one
  sample).
* MembraneUpdates: NeuroBench reads the membrane of snnTorch neurons only, so on a
  SLAYER model it reports 0. A step-by-step model whose neurons are snnTorch
  ``SpikingNeuron`` s running spikeport's fixed-point CUBA arithmetic gives NeuroBench
  the membrane to count: equal to the fast simulator's count. Its synapses consume
  each event one step after it is sent (Loihi's timing), so NeuroBench misses the
  events of the last step, which spikeport counts: equal after subtracting them.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import snntorch as snn  # a test dependency, installed by make test with neurobench
from neurobench.benchmarks import Benchmark
from neurobench.metrics.static import ConnectionSparsity, Footprint, ParameterCount
from neurobench.metrics.workload import (ActivationSparsity, ClassificationAccuracy, MembraneUpdates,
                                         SynapticOperations)
from neurobench.models import SNNTorchModel, TorchModel

from spikeport.evaluate import dataset_inputs, network_metadata
from spikeport.export import from_netx_layer
from spikeport.fixed_point import WEIGHT_SCALE, cuba_step, shift_exponent
from spikeport.hw.ann_description import ann_layers
from spikeport.hw.neurobench import ann_metrics, snn_metrics
from spikeport.sim import load_network, simulate
from spikeport.train.corpus import corpus_root

STATIC = [Footprint, ParameterCount, ConnectionSparsity]
WORKLOAD = [ClassificationAccuracy, ActivationSparsity, SynapticOperations, MembraneUpdates]
BATCH = 128


def _run_benchmark(model, x, y, post=None, pre=None) -> dict:
    data = torch.utils.data.TensorDataset(torch.as_tensor(x), torch.as_tensor(y))
    loader = torch.utils.data.DataLoader(data, batch_size=BATCH, shuffle=False)
    bench = Benchmark(model, loader, [pre] if pre else [], [post] if post else [], [STATIC, WORKLOAD])
    return bench.run(quiet=True)


def _test_split(run, cache):
    meta = network_metadata(run / "model.net")
    x, labels, _ = dataset_inputs(meta, corpus_root(cache, clips_per_word=12, clips_per_unknown=4), "test", cache_dir=cache / "features", progress=False)
    return meta, x, labels


def _spikeport_snn(run, x, labels) -> tuple[dict, object]:
    res = simulate(run / "model.net", x, backend="fast", counts=True)
    pred = res.output.reshape(len(x), -1, res.output.shape[-1]).sum(-1).argmax(1)
    return snn_metrics(run / "model.net", res.counts, float((pred == labels).mean())), res


def _slayer_with_quantized_weights(run):
    from spikeport.train.kws import load_snn

    net, _ = load_snn(run / "model.pt")
    with torch.no_grad():
        for b in net.blocks:
            syn = getattr(b, "synapse", None)
            if syn is not None:
                syn.weight.data = syn.pre_hook_fx(syn.weight.data)   # the chip's weights, not the float ones
    return net.eval()


def _assert_static_and_synops(nb: dict, ours: dict) -> None:
    assert nb["ParameterCount"] == ours["ParameterCount"]
    assert nb["ConnectionSparsity"] == round(ours["ConnectionSparsity"], 4)
    for k in ("Effective_MACs", "Effective_ACs", "Dense"):
        assert nb["SynapticOperations"][k] == pytest.approx(ours["SynapticOperations"][k], rel=1e-12, abs=1e-9), k
    # NeuroBench averages each batch's hits in float32: the same count of right answers
    n = ours["samples"]
    assert round(nb["ClassificationAccuracy"] * n) == round(ours["ClassificationAccuracy"] * n)
    assert nb["ClassificationAccuracy"] == pytest.approx(ours["ClassificationAccuracy"], rel=1e-6)
    assert nb["ActivationSparsity"] == pytest.approx(ours["ActivationSparsity"], rel=1e-12)


@pytest.mark.parametrize("which", ["conv", "dense"])
def test_snn_metrics_equal_neurobench_on_the_slayer_model(which, conv_run, dense_run, kws_cache):
    run = conv_run if which == "conv" else dense_run
    meta, x, labels = _test_split(run, kws_cache)
    ours, _ = _spikeport_snn(run, x, labels)
    net = _slayer_with_quantized_weights(run)
    x_model = from_netx_layer(x).astype(np.float32) / WEIGHT_SCALE      # the model's quantized input currents
    with torch.no_grad():
        net(torch.from_numpy(x_model[:1]))           # SLAYER's state buffers then hold one sample
    model = TorchModel(net)
    for cls in {type(b) for b in net.blocks if getattr(b, "neuron", None) is not None}:
        model.add_activation_module(cls)             # a block's output: the spikes its neurons send
    nb = _run_benchmark(model, x_model, labels, post=lambda out: out.flatten(1, -2).sum(-1).argmax(1))
    _assert_static_and_synops(nb, ours)
    assert nb["Footprint"] == ours["Footprint"]
    assert ours["SynapticOperations"]["Effective_ACs"] > 0 and ours["SynapticOperations"]["Effective_MACs"] == 0
    # the documented difference: NeuroBench reads snnTorch neurons' membranes only
    assert nb["MembraneUpdates"] == 0 and ours["MembraneUpdates"] > 0
    if which == "conv":
        assert any(t["delays"] for t in _delays(run)), "the conv run must carry axonal delays"


def _delays(run):
    import h5py

    with h5py.File(run / "model.net") as h:
        return [{"delays": "delay" in h[f"layer/{k}"]} for k in h["layer"]]


@pytest.mark.parametrize("which,precision", [("twin", "fp32"), ("twin", "int8"), ("dscnn", "fp32"),
                                             ("dscnn", "int8")])
def test_ann_metrics_equal_neurobench(which, precision, conv_run, kws_cache):
    import json

    from spikeport.train import baselines, int8, reference_ann
    from spikeport.train.config import KwsConfig
    from spikeport.train.kws_data import prepare_data

    cfg = KwsConfig(**json.loads((conv_run / "config.json").read_text()))
    data = prepare_data(cfg, kws_cache, progress=False)
    (xtr, _), (xte, yte) = data["train"], data["test"]
    name = "ann" if which == "twin" else "reference_ann"
    desc = json.loads((conv_run / f"{name}.json").read_text())
    if which == "twin":
        model = baselines.load_twin(conv_run / "ann.pt")
        to_input = baselines.twin_input("conv")
        if precision == "int8":
            model = baselines.quantize_twin(model, to_input, xtr)
    else:
        model = reference_ann.load_reference(conv_run / "reference_ann.pt")
        to_input = lambda f: torch.from_numpy(np.ascontiguousarray(f))  # noqa: E731
        if precision == "int8":
            model = int8.quantize(model, list(reference_ann.batches(xtr[:baselines.CALIBRATION_CLIPS], 64)))
    x = to_input(xte)
    if precision == "int8":
        x = x.double()
    nb = _run_benchmark(TorchModel(model), x, yte, post=lambda out: out.argmax(1))
    ours = ann_metrics(desc, precision)
    _assert_static_and_synops(nb, ours)
    assert nb["MembraneUpdates"] == ours["MembraneUpdates"] == 0
    assert ours["SynapticOperations"]["Effective_MACs"] > 0
    if precision == "fp32":
        assert nb["Footprint"] == ours["Footprint"]            # float32 parameters, no buffers after folding
        # NeuroBench's Dense = the description's MACs counted from the layer shapes alone
        assert nb["SynapticOperations"]["Dense"] == pytest.approx(sum(l["macs"] for l in ann_layers(desc)))


class LoihiCuba(snn.SpikingNeuron):
    """An snnTorch neuron running spikeport's fixed-point CUBA step, so that
    NeuroBench hooks can read its membrane (``mem``: the voltage after the step)."""

    def __init__(self, neuron):
        super().__init__(init_hidden=False)
        self.p = neuron
        self.reset_mem()

    def reset_mem(self):
        self.u = self.mem = None

    def forward(self, a_in: torch.Tensor):
        a = a_in.numpy().astype(np.int64)
        if self.mem is None:
            self.u, self.mem = np.zeros(a.shape, np.int32), torch.zeros(a.shape, dtype=torch.int64)
        u, v, s = cuba_step(self.u, self.mem.numpy().astype(np.int32), a, self.p.du, self.p.dv, self.p.vth,
                            np.asarray(self.p.bias, np.int32).reshape(-1))
        self.u, self.mem = u, torch.from_numpy(v.astype(np.int64))    # a new tensor each step
        return torch.from_numpy(s.astype(np.float64)), self.mem


class SteppedNet(torch.nn.Module):
    """The exported dense network step by step with Loihi's timing: a synapse sends at
    step t what its input neurons sent at step t - 1."""

    def __init__(self, net):
        super().__init__()
        layers = list(net)
        assert layers[0].synapse is None and all(l.synapse.kind == "dense" for l in layers[1:])
        self.neurons = torch.nn.ModuleList(LoihiCuba(l.neuron) for l in layers)
        self.synapses = torch.nn.ModuleList()
        self.exps = [l.synapse.weight_exp for l in layers[1:]]
        for l in layers[1:]:
            lin = torch.nn.Linear(l.synapse.weight.shape[1], l.synapse.weight.shape[0], bias=False).double()
            lin.weight.data = torch.from_numpy(l.synapse.weight.astype(np.float64))
            self.synapses.append(lin)
        self.reset()

    def reset(self):
        for n in self.neurons:
            n.reset_mem()
        self.prev = None

    def forward(self, a_in: torch.Tensor):
        spikes = [self.neurons[0](a_in)[0]]
        for i, (syn, neu) in enumerate(zip(self.synapses, self.neurons[1:])):
            src = self.prev[i] if self.prev is not None else torch.zeros(len(a_in), syn.in_features, dtype=torch.float64)
            acc = torch.from_numpy(shift_exponent(syn(src).detach().numpy(), self.exps[i]))
            spikes.append(neu(acc)[0])
        self.prev = spikes
        return spikes[-1], self.neurons[-1].mem


def test_membrane_updates_equal_neurobench_with_stepped_fixed_point_neurons(dense_run, kws_cache):
    meta, x, labels = _test_split(dense_run, kws_cache)
    x, labels = x[:24], labels[:24]
    ours, res = _spikeport_snn(dense_run, x, labels)
    model = SNNTorchModel(SteppedNet(load_network(dense_run / "model.net")))
    nb = _run_benchmark(model, np.ascontiguousarray(x.transpose(0, 2, 1)), labels,
                        post=lambda out: out.sum(1).argmax(1))
    assert nb["MembraneUpdates"] == pytest.approx(ours["MembraneUpdates"], rel=1e-12) and nb["MembraneUpdates"] > 0
    assert nb["ActivationSparsity"] == pytest.approx(ours["ActivationSparsity"], rel=1e-12)
    assert round(nb["ClassificationAccuracy"] * len(x)) == round(ours["ClassificationAccuracy"] * len(x))
    # events of the last step reach no synapse within the run: NeuroBench does not count them
    last = sum(l["synops"]["per_step"][-1] for l in res.counts["layers"]) / len(x)
    assert nb["SynapticOperations"]["Effective_ACs"] == pytest.approx(
        ours["SynapticOperations"]["Effective_ACs"] - last, rel=1e-12)
