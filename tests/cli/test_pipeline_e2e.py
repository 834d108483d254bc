"""End to end: the demo pipeline at small sizes, its artifacts, stage skipping, and
each stage re-run alone from the command line on those artifacts."""
from __future__ import annotations

import json

import matplotlib.image as mpimg
import numpy as np
import pytest

from spikeport.cli import main
from spikeport.train.corpus import corpus_root

pytestmark = pytest.mark.lava

CORPUS = {"clips_per_word": 12, "clips_per_unknown": 4}
ROBUST = {"clips_per_word": 2, "clips_per_unknown": 1}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from spikeport.pipeline import run_demo

    out = tmp_path_factory.mktemp("demo")
    cache = tmp_path_factory.mktemp("cache")
    s = run_demo(out, epochs=1, ann_epochs=1, reference_epochs=1, corpus=CORPUS, lava_clips=2, progress=False,
                 cache_dir=cache, robust=ROBUST)
    return out, cache, s


def test_demo_artifacts(demo):
    out, cache, s = demo
    for name in ("model.pt", "model.net", "ann.pt", "ann.json", "reference_ann.pt", "reference_ann.json",
                 "metrics.json", "summary.json", "verify.json",
                 "eval.json", "robust.json", "mapping.json", "demo.json", "report/report.html", "report/report.md",
                 "report/energy.json"):
        assert (out / name).is_file(), name
    ver = json.loads((out / "verify.json").read_text())
    # every spike of every layer of 2 clips x (101 frames + 50 silent tail steps),
    # Lava vs fast and Lava vs PyTorch
    assert ver["clips"] == 2 and ver["timesteps"] == 151
    assert ver["compared"]["lava_vs_fast"] > 100_000
    assert ver["mismatched"] == {"lava_vs_fast": 0, "lava_vs_pytorch": 0}
    assert ver["activity_counts_equal"] is True
    ev = json.loads((out / "eval.json").read_text())
    assert ev["clips"] == s["test_clips"] > 0 and 0.0 <= ev["accuracy"] <= 1.0
    assert np.array(ev["confusion"]).sum() == ev["clips"]
    assert ev["activity"]["format"] == "spikeport-activity/1" and ev["activity"]["samples"] == ev["clips"]
    energy = json.loads((out / "report" / "energy.json").read_text())
    assert energy["accuracy"]["snn"] == ev["accuracy"] and energy["check"]["mismatched"] == 0
    assert [p["name"] for p in energy["accuracy_points"]][0] == "SNN on loihi2"
    assert {r["system"] for r in energy["neurobench"]["table"]} == {
        "SNN", "ANN twin fp32", "ANN twin int8", "DS-CNN-S (Zhang et al. 2017) fp32", "DS-CNN-S (Zhang et al. 2017) int8"}
    assert ev["neurobench"]["ClassificationAccuracy"] == ev["accuracy"]
    for png in (out / "report").glob("*.png"):
        assert mpimg.imread(png).size > 0
    assert s["bit_exact"] and s["fits"] and s["loihi2_cores"] > 0
    robust = json.loads((out / "robust.json").read_text())
    # 2 clips of each command word, 1 of each other word, 2 silence clips (the median word's count)
    assert robust["clips"] == s["robust_clips"] == 10 * 2 + 10 * 1 + 2
    assert 0.0 <= s["robust_accuracy"] == robust["snn_accuracy"] <= 1.0
    assert set(robust["snn_by_condition"]["noise"]) <= {"babble", "clicks", "music", "corpus"}
    meta_classes = json.loads((out / "summary.json").read_text())["classes"]
    assert len(meta_classes) == 12


def test_demo_rerun_skips_every_stage(demo, capsys):
    from spikeport.pipeline import run_demo

    out, cache, s = demo
    before = (out / "model.net").stat().st_mtime_ns
    s2 = run_demo(out, epochs=1, ann_epochs=1, reference_epochs=1, corpus=CORPUS, lava_clips=2, progress=False,
                  cache_dir=cache, robust=ROBUST)
    printed = capsys.readouterr().out
    assert printed.count("up to date, skipped") == 8, printed
    assert (out / "model.net").stat().st_mtime_ns == before
    assert s2 == s


def test_stages_rerun_alone_from_the_cli(demo, tmp_path, capsys, monkeypatch):
    out, cache, s = demo
    monkeypatch.setenv("SPIKEPORT_CACHE", str(cache))
    net = tmp_path / "again.net"
    assert main(["export", str(out), "-o", str(net)]) == 0
    from spikeport.sim import load_network

    a, b = load_network(net), load_network(out / "model.net")
    assert all(np.array_equal(x.synapse.weight, y.synapse.weight) for x, y in zip(a, b) if x.synapse is not None)
    res = tmp_path / "eval.json"
    assert main(["eval", str(net), "--data", str(corpus_root(cache, **CORPUS)), "--json", str(res), "--quiet"]) == 0
    ev = json.loads(res.read_text())
    assert ev["accuracy"] == s["quantized_accuracy"]
    assert main(["report", str(net), "--data", str(corpus_root(cache, **CORPUS)), "--ann", str(out),
                 "--quiet", "-o", str(tmp_path / "rep")]) == 0
    energy = json.loads((tmp_path / "rep" / "energy.json").read_text())
    assert energy["accuracy"]["snn"] == s["quantized_accuracy"]
    assert len(energy["anns"]) == 2 and energy["headline"]["snn_accuracy"] == s["quantized_accuracy"]


def test_eval_needs_spikeport_metadata(netx_gts, tmp_path, capsys):
    assert main(["eval", str(netx_gts / "tiny.net"), "--data", str(tmp_path)]) == 2
    assert "no spikeport training metadata" in capsys.readouterr().err


def test_keyword_spotter_nir_round_trip(demo, tmp_path, capsys):
    """The demo's keyword spotter (analog input neurons, convs, axonal delays) through
    ``nir export`` and ``nir import``: the same integers, the same spikes on test clips."""
    from spikeport.evaluate import dataset_inputs, network_metadata
    from spikeport.sim.netx_reader import read_network
    from spikeport.sim.simulate import simulate

    out, cache, _ = demo
    net, graph, back = out / "model.net", tmp_path / "kws.nir", tmp_path / "kws_again.net"
    assert main(["nir", "export", str(net), "-o", str(graph)]) == 0
    assert main(["nir", "import", str(graph), "-o", str(back)]) == 0
    assert "bit-exact" in capsys.readouterr().out
    a, b = read_network(net), read_network(back)
    assert len(a) == len(b)
    for la, lb in zip(a, b):
        assert (la.neuron.du, la.neuron.dv, la.neuron.vth) == (lb.neuron.du, lb.neuron.dv, lb.neuron.vth)
        for sa, sb in zip(la.synapses, lb.synapses):
            assert np.array_equal(sa.weight, sb.weight) and sa.weight_exp == sb.weight_exp
            assert (sa.delays is None) == (sb.delays is None)
            assert sa.delays is None or np.array_equal(sa.delays, sb.delays)
    x, _, _ = dataset_inputs(network_metadata(net), corpus_root(cache, **CORPUS), "test", limit=3,
                             cache_dir=cache / "features", progress=False)
    ra = simulate(net, x, backend="fast", record="all")
    rb = simulate(back, x, backend="fast", record="all")
    for la, lb in zip(ra.layers, rb.layers):
        assert np.array_equal(la, lb)
