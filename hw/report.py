"""The SNN-vs-ANN energy report: ``energy.json``, ``report.md``, a self-contained
``report.html`` (PNG plots embedded) and the PNG files, in one output folder.

:func:`build_document` assembles ``energy.json`` (the SNN on a chip profile, every
ANN in every view, NeuroBench's metrics for each system, the accuracy-matched
headline); :mod:`spikeport.hw.report_render` writes the pages from it alone.
"""
from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import numpy as np

from spikeport.errors import SpikeportError
import spikeport.hw.comparison as C
import spikeport.hw.energy as E
import spikeport.hw.neurobench as NB
import spikeport.hw.plots as plots
from spikeport.hw.counts import validate_activity
from spikeport.hw.ann_description import PRECISIONS
from spikeport.hw.ann_energy import ann_energy
from spikeport.hw.figures import HARDWARE_ANCHORS
from spikeport.hw.mapping import map_network
from spikeport.hw.profiles import ChipProfile
from spikeport.hw.report_render import render_html, render_md

FORMAT = "spikeport-energy/1"
PLOTS = {
    "accuracy_energy": "accuracy_energy.png",
    "energy_per_layer": "energy_per_layer.png",
    "firing_rate": "firing_rate.png",
    "raster": "raster.png",
}


def _check_accuracy(accuracy: dict | None) -> dict | None:
    if accuracy is None:
        return None
    snn = accuracy.get("snn")
    if snn is not None and (isinstance(snn, bool) or not isinstance(snn, (int, float)) or not 0 <= snn <= 1):
        raise SpikeportError(f"accuracy: 'snn' must be a fraction in [0, 1], not {snn!r}")
    return dict(accuracy)


def build_document(net_path: str | os.PathLike, activity: dict, profile: ChipProfile,
                   anns: list[tuple[str, dict]] | None = None, accuracy: dict | None = None,
                   check: dict | None = None, step_seconds: float | None = None) -> dict:
    """The ``energy.json`` content (without plot file names). ``anns``: (label,
    ``spikeport-ann/1`` description) pairs; ``accuracy``: ``{"snn": fraction, "split",
    "clips"}`` of the exported network on the split the ANNs were measured on;
    ``check``: the Lava agreement (``clips``, ``spikes_compared``, ``mismatched``)."""
    act = validate_activity(activity)
    mapping = map_network(net_path, profile)
    snn = E.snn_energy(act, profile, mapping)
    topo = ann_energy(C.topology_description(mapping, act["steps"]), "SNN topology as dense ANN")
    energies = [ann_energy(desc, label, label) for label, desc in (anns or [])]
    accuracy = _check_accuracy(accuracy)
    snn_acc = (accuracy or {}).get("snn")
    systems = {"SNN": NB.snn_metrics(net_path, act, snn_acc)}
    for label, desc in anns or []:
        for p in PRECISIONS:
            systems[f"{label} {p}"] = NB.ann_metrics(desc, p, label)
    return {
        "format": FORMAT, "network": str(net_path), "chip": profile.name,
        "activity": {"backend": act.get("backend"), "samples": act["samples"], "steps": act["steps"]},
        "headline": C.headline(snn, energies, snn_acc),
        "accuracy": accuracy, "check": check,
        "snn": snn, "ops_proxy": E.ops_proxy(act, step_seconds), "latency": E.latency(act, profile, mapping),
        "anns": energies, "ann_topology": topo, "comparison": C.comparison(snn, energies + [topo]),
        "neurobench": {"systems": systems, "table": NB.table(systems), "source": NB.SOURCE},
        "hardware_anchors": HARDWARE_ANCHORS,
        "accuracy_points": C.accuracy_points(snn, snn_acc, energies),
        "mapping": mapping.to_json(), "profile": profile.to_json(), "plots": {},
    }


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


TEXT_FILES = ("energy.json", "report.md", "report.html")


def output_files(out_dir: str | os.PathLike) -> list[Path]:
    """Every file :func:`write_report` may write into ``out_dir``."""
    return [Path(out_dir) / n for n in TEXT_FILES + tuple(PLOTS.values())]


def _plots(tmp: Path, doc: dict, raster) -> dict[str, Path]:
    """The PNGs of ``doc`` written into ``tmp`` (notes for those skipped)."""
    snn, made = doc["snn"], {}
    if doc["accuracy_points"]:
        made["accuracy_energy"] = plots.accuracy_energy(tmp / PLOTS["accuracy_energy"], doc["accuracy_points"])
    else:
        doc["plots"]["accuracy_energy_note"] = ("no system with both an accuracy and an energy: plot skipped "
                                                "(give --data for the SNN's accuracy)")
    topo_names = [m["name"] for m in doc["mapping"]["layers"]]
    made["energy_per_layer"] = plots.energy_per_layer(tmp / PLOTS["energy_per_layer"], snn, doc["ann_topology"],
                                                      topo_names, doc["anns"])
    made["firing_rate"] = plots.firing_rates(tmp / PLOTS["firing_rate"], snn)
    if raster is not None:
        if len(raster) != len(snn["layers"]):
            raise SpikeportError(f"raster has {len(raster)} layers, the activity {len(snn['layers'])}")
        made["raster"] = plots.raster(tmp / PLOTS["raster"], raster, [l["name"] for l in snn["layers"]])
    else:
        doc["plots"]["raster_note"] = "no spike raster given: plot skipped"
    return made


def write_report(out_dir: str | os.PathLike, net_path: str | os.PathLike, activity: dict, profile: ChipProfile,
                 anns: list[tuple[str, dict]] | None = None, accuracy: dict | None = None,
                 raster: list[np.ndarray] | None = None, check: dict | None = None,
                 step_seconds: float | None = None) -> dict:
    """Write ``energy.json``, ``report.md``, ``report.html`` and the PNG plots into
    ``out_dir``; returns the ``energy.json`` content (arguments as
    :func:`build_document`; ``raster``: one sample's events per layer
    ``[(neurons..., T), ...]``; ``step_seconds``: real time per timestep, for the
    N-DNS power proxy). Every file is made in a temporary folder first and moved into
    ``out_dir`` only when all of them exist: a failure leaves ``out_dir`` as it was."""
    import shutil
    import tempfile

    out = Path(out_dir)
    doc = build_document(net_path, activity, profile, anns, accuracy, check, step_seconds)
    try:
        text = json.dumps(doc, indent=1, default=_json_default, allow_nan=False) + "\n"
    except ValueError:
        raise SpikeportError(f"{profile.path or profile.name}: its figures make the energies overflow to "
                             f"infinity; no report written") from None
    try:
        out.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".report-", dir=out))
    except OSError as e:
        raise SpikeportError(f"{out}: cannot write the report ({e.strerror or e})") from None
    try:
        made = _plots(tmp, doc, raster)
        for key in PLOTS:
            doc["plots"][key] = made[key].name if key in made else None
        embedded = {k: "data:image/png;base64," + base64.b64encode(p.read_bytes()).decode("ascii")
                    for k, p in made.items()}
        text = json.dumps(doc, indent=1, default=_json_default, allow_nan=False) + "\n"
        (tmp / "energy.json").write_text(text, encoding="utf-8")
        (tmp / "report.md").write_text(render_md(doc, {k: p.name for k, p in made.items()}), encoding="utf-8")
        (tmp / "report.html").write_text(render_html(doc, embedded), encoding="utf-8")
        for f in tmp.iterdir():
            os.replace(f, out / f.name)
    except OSError as e:
        raise SpikeportError(f"{out}: cannot write the report ({e.strerror or e})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return doc
