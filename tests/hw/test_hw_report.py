"""The report: files exist, PNGs decode, the HTML is self-contained and every number
it shows equals energy.json; the ``spikeport report`` command and its errors."""
from __future__ import annotations

import json
import re

import h5py
import numpy as np
import pytest
from matplotlib.image import imread

from spikeport.cli import main
from spikeport.hw.counts import count_activity
from spikeport.hw.profiles import load_profile
from spikeport.hw.report import write_report
from spikeport.hw.report_render import lookup

SPAN = re.compile(r'<span class="num" data-key="([^"]+)"(?: data-value="([^"]+)")?>([^<]*)</span>')
SCALE = {"pJ": 1, "nJ": 1e3, "µJ": 1e6, "mJ": 1e9, "J": 1e12, "ns": 1, "µs": 1e3, "ms": 1e6, "s": 1e9}


def _net(path, sizes=(6, 5, 3), seed=0):
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as h:
        g = h.create_group("layer")
        l = g.create_group("0")
        l.create_dataset("type", data=np.array([b"input"]))
        l.create_dataset("shape", data=np.array([sizes[0]]))
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            l = g.create_group(str(i))
            l.create_dataset("type", data=np.array([b"dense"]))
            l.create_dataset("shape", data=np.array([b]))
            w = rng.integers(-40, 41, size=(b, a)) * 2
            w[0, 0] = 60                                   # never all zero
            l.create_dataset("weight", data=w.astype(np.float32))
            n = l.create_group("neuron")
            n.create_dataset("type", data=b"CUBA")
            for k, v in (("iDecay", 1024), ("vDecay", 128), ("vThMant", 80), ("refDelay", 1)):
                n.create_dataset(k, data=v)


ANN = {"format": "spikeport-ann/1", "name": "small ANN", "frames": 12, "input_shape": [6],
       "layers": [{"name": "fc1", "kind": "dense", "in_features": 6, "out_features": 5, "bias": True, "per_frame": True},
                  {"name": "fc2", "kind": "dense", "in_features": 5, "out_features": 3, "bias": True,
                   "per_frame": False}],
       "measured": {"split": "test",
                    **{p: {"clips": 10, "accuracy": acc, "effective_macs": [300.0, 12.0], "effective_acs": [0.0, 0.0],
                           "dense": [360.0, 15.0], "zero_weights": [z, 0], "activations_nonzero": 40.0,
                           "activations_total": 60.0} for p, acc, z in (("fp32", 0.93, 0), ("int8", 0.92, 2))}}}


def _activity(net, samples=4, steps=12, seed=1):
    """Activity counted by the fast simulator on random input spikes, and a raster."""
    rng = np.random.default_rng(seed)
    x = (rng.random((samples, 6, steps)) < 0.4).astype(np.int32)
    return count_activity(net, x, progress=False)


def _parse(text: str) -> float:
    text = text.strip()
    if text.endswith("×"):
        return float(text[:-1])
    parts = text.split()
    if len(parts) == 2 and parts[1] in SCALE:
        return float(parts[0]) * SCALE[parts[1]]
    return float(text.replace(",", ""))


def _check_html_numbers(html: str, doc: dict) -> int:
    spans = SPAN.findall(html)
    for key, raw, shown in spans:
        v = lookup(doc, key)
        if v is None:
            assert raw == "" and shown == "unknown", key
            continue
        assert float(raw) == float(v), key                    # exactly the JSON number
        assert _parse(shown) == pytest.approx(float(v), rel=6e-3, abs=0.5), (key, shown, v)
    return len(spans)


def test_report_files_images_and_numbers(tmp_path):
    _net(tmp_path / "n.net")
    act, raster = _activity(tmp_path / "n.net")
    out = tmp_path / "report"
    doc = write_report(out, tmp_path / "n.net", act, load_profile("loihi1"), anns=[("small ANN", ANN)],
                       accuracy={"snn": 0.925, "split": "test", "clips": 4}, raster=raster,
                       check={"clips": 2, "spikes_compared": 100, "mismatched": 0})
    for name in ("energy.json", "report.md", "report.html", "energy_per_layer.png", "firing_rate.png",
                 "raster.png", "accuracy_energy.png"):
        assert (out / name).is_file(), name
    for png in out.glob("*.png"):
        img = imread(png)
        assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100 and img.std() > 0, png
    saved = json.loads((out / "energy.json").read_text())
    assert saved == json.loads(json.dumps(doc))
    assert saved["plots"]["raster"] == "raster.png" and saved["plots"]["accuracy_energy"] == "accuracy_energy.png"

    html = (out / "report.html").read_text()
    n = _check_html_numbers(html, saved)
    assert n > 60
    keys = {k for k, _, _ in SPAN.findall(html)}
    assert {"headline.ratio.low", "headline.ratio.high", "snn.per_inference_pJ.low.mean",
            "ops_proxy.ops_per_inference.mean", "mapping.cores", "neurobench.table.0.ParameterCount",
            "check.mismatched", "accuracy.snn"} <= keys
    # self-contained: every image embedded, nothing fetched from elsewhere
    assert html.count('src="data:image/png;base64,') == 4
    assert not re.search(r'(src|href)="(?!data:)', html)
    # headline: both precisions of the ANN are within 1 point of the SNN's 0.925; the cheaper one (int8) wins
    h = saved["headline"]
    assert h["match"]["precision"] == "int8" and h["match"]["accuracy"] == 0.92
    s = saved["snn"]["per_inference_pJ"]
    e = next(v for v in saved["anns"][0]["views"] if (v["precision"], v["macs"], v["accounting"])
             == ("int8", "dense", "memory"))["pJ"]
    assert h["ratio"]["low"] == pytest.approx(e["low"] / s["high"]["mean"])
    assert h["ratio"]["high"] == pytest.approx(e["high"] / s["low"]["mean"])
    assert "small ANN int8" in h["text"] and "within 1 point" in h["text"]
    md = (out / "report.md").read_text()
    assert "](energy_per_layer.png)" in md and h["text"] in md
    # every source quoted, the hardware anchors labelled as other networks
    assert "Davies et al." in html and "Horowitz" in html and "Timcheck et al." in html and "Blouw" in html
    assert "network (not this one)" in html and "Yik et al." in html
    names = [p["name"] for p in saved["accuracy_points"]]
    assert names == ["SNN on loihi1", "small ANN fp32", "small ANN int8"]
    assert saved["accuracy_points"][0]["accuracy"] == 0.925
    systems = [r["system"] for r in saved["neurobench"]["table"]]
    assert systems == ["SNN", "small ANN fp32", "small ANN int8"]


def test_report_without_accuracy_or_raster_skips_those_plots(tmp_path):
    _net(tmp_path / "n.net")
    act, _ = _activity(tmp_path / "n.net", samples=1)
    out = tmp_path / "r"
    doc = write_report(out, tmp_path / "n.net", act, load_profile("loihi2"))
    assert doc["plots"]["accuracy_energy"] is None and doc["plots"]["raster"] is None
    assert not (out / "accuracy_energy.png").exists() and not (out / "raster.png").exists()
    html = (out / "report.html").read_text()
    assert "plot skipped" in html and "no spike raster given" in html
    assert doc["anns"] == [] and "the SNN's accuracy is unknown" in doc["headline"]["text"]
    assert doc["snn"]["stand_in"] and "stand-in" in html
    _check_html_numbers(html, json.loads((out / "energy.json").read_text()))


def test_report_on_a_net_that_does_not_fit(tmp_path):
    _net(tmp_path / "n.net", sizes=(6, 5, 3))
    with h5py.File(tmp_path / "n.net", "a") as h:
        w = h["layer/2/weight"]
        w[0, 0] = 197                              # odd beside negative weights: 8 bits + sign
    act, _ = _activity(tmp_path / "n.net", samples=2)
    doc = write_report(tmp_path / "r", tmp_path / "n.net", act, load_profile("loihi1"))
    assert not doc["mapping"]["fits"]
    html = (tmp_path / "r" / "report.html").read_text()
    assert "does not fit loihi1" in html and "weight_bits needs 9 bits" in html


def test_cli_report_from_activity_json(tmp_path, capsys):
    _net(tmp_path / "n.net")
    act, _ = _activity(tmp_path / "n.net")
    (tmp_path / "act.json").write_text(json.dumps(act))
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "ann.json").write_text(json.dumps(ANN))
    out = tmp_path / "out"
    assert main(["report", str(tmp_path / "n.net"), "--activity", str(tmp_path / "act.json"), "--ann",
                 str(tmp_path / "ann"), "--chip", "loihi1", "-o", str(out)]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["fits"] and "the SNN's accuracy is unknown" in line["headline"]
    assert (out / "report.html").is_file() and (out / "energy.json").is_file()


def test_cli_report_from_input_counts_the_simulated_spikes(tmp_path, capsys):
    """--input runs the fast backend; the synops in energy.json equal a hand count
    from the spikes the simulator produces for the same input."""
    from spikeport.sim import run_fast

    _net(tmp_path / "n.net")
    rng = np.random.default_rng(3)
    x = (rng.random((3, 6, 16)) < 0.5).astype(float)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "out"
    assert main(["report", str(tmp_path / "n.net"), "--input", str(tmp_path / "x.npy"), "--quiet",
                 "--chip", "loihi1", "-o", str(out)]) == 0
    doc = json.loads((out / "energy.json").read_text())
    with h5py.File(tmp_path / "n.net") as h:
        w1, w2 = h["layer/1/weight"][()], h["layer/2/weight"][()]
    hand = np.zeros(2)
    for k in range(len(x)):
        s1 = run_fast(tmp_path / "n.net", x[k], all_layers=True)[0]
        hand[0] += sum(np.count_nonzero(w1[:, i]) for i, t in zip(*np.nonzero(x[k])))
        hand[1] += sum(np.count_nonzero(w2[:, i]) for i, t in zip(*np.nonzero(s1)))
    means = [l["counts_mean"]["synops"] for l in doc["snn"]["layers"]]
    assert means == pytest.approx(hand / len(x))
    assert hand[1] > 0 and doc["activity"] == {"backend": "fast", "samples": 3, "steps": 16}
    assert doc["plots"]["raster"] == "raster.png"


@pytest.mark.parametrize("args,message", [
    (["--chip", "loihi9"], "unknown chip 'loihi9'"),
    ([], "--input X.npy"),
    (["--data", "somewhere"], "--data somewhere: no such folder"),
    (["--input", "MISSING.npy"], "MISSING.npy: cannot read the input (No such file or directory)"),
    (["--activity", "BAD.json"], "BAD.json: not valid JSON"),
    (["--activity", "WRONG.json"], "has 4 neurons, network layer layer1 has 5"),
    (["--input", "SHAPE.npy"], "SHAPE.npy: shape (7, 12) does not fit the input"),
    (["--activity", "GOOD.json", "--ann", "BADANN.json"], "format is None, expected 'spikeport-ann/1'"),
    (["--activity", "GOOD.json", "--ann", "KINDANN.json"], "KINDANN.json: layer 'x': unknown layer kind 'lstm'"),
    (["--activity", "GOOD.json", "--ann", "FIELDANN.json"], "FIELDANN.json: layer 'fc': missing field 'out_features'"),
])
def test_cli_report_errors_are_one_line(tmp_path, capsys, args, message):
    _net(tmp_path / "n.net")
    act, _ = _activity(tmp_path / "n.net")
    (tmp_path / "GOOD.json").write_text(json.dumps(act))
    (tmp_path / "BAD.json").write_text("{not json")
    act["layers"][0]["neurons"] = 4
    (tmp_path / "WRONG.json").write_text(json.dumps(act))
    (tmp_path / "BADANN.json").write_text(json.dumps({"frames": 1}))
    (tmp_path / "KINDANN.json").write_text(json.dumps({"format": "spikeport-ann/1", "frames": 1,
                                                       "layers": [{"name": "x", "kind": "lstm"}]}))
    (tmp_path / "FIELDANN.json").write_text(json.dumps({"format": "spikeport-ann/1", "frames": 1, "layers": [
        {"name": "fc", "kind": "dense", "in_features": 3}]}))
    np.save(tmp_path / "SHAPE.npy", np.zeros((7, 12)))
    args = [str(tmp_path / a) if a.endswith((".json", ".npy")) else a for a in args]
    out = tmp_path / "out"
    assert main(["report", str(tmp_path / "n.net"), *args, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("spikeport: error:") and message in err and err.count("\n") == 1
    assert not (out / "report.html").exists()
