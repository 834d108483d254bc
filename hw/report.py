"""The SNN-vs-ANN energy report: ``energy.json``, ``report.md``, a self-contained
``report.html`` (PNG plots embedded) and the PNG files, in one output folder.

Every number the HTML shows is rendered from the ``energy.json`` document and carries
its place in it (``data-key``, a dotted path) and its exact value (``data-value``), so
the two cannot disagree and a test can check them.
"""
from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from spikeport.atomic import atomic_path
from spikeport.errors import SpikeportError
from spikeport.hw import energy as E
from spikeport.hw import plots
from spikeport.hw.figures import Figure
from spikeport.hw.activity import validate_activity
from spikeport.hw.mapping import PACKING_MODEL, map_network
from spikeport.hw.profiles import ChipProfile

FORMAT = "spikeport-energy/1"
PLOTS = {
    "energy_per_layer": "energy_per_layer.png",
    "firing_rate": "firing_rate.png",
    "raster": "raster.png",
    "accuracy_energy": "accuracy_energy.png",
}


# ----------------------------------------------------------- formatting -------

def si(v: float | None, unit: str) -> str:
    """``v`` in ``unit`` (pJ, ns) scaled to a readable SI prefix, 3 significant digits."""
    if v is None:
        return "unknown"
    scales = {"pJ": [(1e12, "J"), (1e9, "mJ"), (1e6, "µJ"), (1e3, "nJ"), (1, "pJ")],
              "ns": [(1e9, "s"), (1e6, "ms"), (1e3, "µs"), (1, "ns")]}[unit]
    for f, name in scales:
        if abs(v) >= f:
            return f"{v / f:.3g} {name}"
    return f"{v:.3g} {unit}"


def fmt(v: Any, kind: str) -> str:
    if v is None:
        return "unknown"
    if kind in ("pJ", "ns"):
        return si(float(v), kind)
    if kind == "x":
        return f"{float(v):.3g}×"
    if kind == "int":
        return f"{int(round(float(v))):,}"
    if kind == "pct":
        return f"{100 * float(v):.1f}%"
    return f"{float(v):.3g}"


def lookup(doc: Any, key: str) -> Any:
    """The value at dotted path ``key`` (list indices as numbers) in ``doc``."""
    cur = doc
    for part in key.split("."):
        cur = cur[int(part)] if isinstance(cur, list) else cur[part]
    return cur


def _fig_text(f: dict) -> str:
    """A figure's JSON form as text (see :meth:`spikeport.hw.figures.Figure.text`)."""
    return Figure(f["low"], f["high"], f["unit"], f["source"], f["note"]).text()


class _Cells:
    """Renders numbers of the document into HTML cells and Markdown text."""

    def __init__(self, doc: dict):
        self.doc = doc

    def html(self, key: str, kind: str) -> str:
        v = lookup(self.doc, key)
        data = "" if v is None else f' data-value="{float(v)!r}"'
        return f'<span class="num" data-key="{html.escape(key)}"{data}>{html.escape(fmt(v, kind))}</span>'

    def md(self, key: str, kind: str) -> str:
        return fmt(lookup(self.doc, key), kind)

    def range_html(self, base: str, kind: str) -> str:
        if lookup(self.doc, base) is None:
            return "unknown"
        return f"{self.html(base + '.low', kind)} – {self.html(base + '.high', kind)}"

    def range_md(self, base: str, kind: str) -> str:
        if lookup(self.doc, base) is None:
            return "unknown"
        return f"{self.md(base + '.low', kind)} – {self.md(base + '.high', kind)}"


# ----------------------------------------------------------- the document -----

def _accuracy_points(accuracy: dict | None, snn: dict, twin: dict | None) -> tuple[list[dict], str]:
    """Points for the accuracy-energy plot and a note on what is missing."""
    points: list[dict] = []
    acc = dict(accuracy or {})
    if "points" in acc:
        for p in acc["points"]:
            if not {"name", "accuracy", "low", "high"} <= set(p):
                raise SpikeportError("accuracy points need name, accuracy, low and high (pJ)")
            points.append({k: p[k] for k in ("name", "accuracy", "low", "high")})
        return points, ""
    s = snn.get("per_inference_pJ")
    snn_acc = next(((k, acc[k]) for k in ("lava", "quantized", "float") if acc.get(k) is not None), None)
    if snn_acc and s:
        points.append({"name": f"SNN on {snn['chip']} ({snn_acc[0]} accuracy)", "accuracy": float(snn_acc[1]),
                       "low": s["low"]["mean"], "high": s["high"]["mean"]})
    ann_acc = acc.get("ann")
    if ann_acc is None and twin and isinstance(twin.get("accuracy"), dict):
        ann_acc = twin["accuracy"].get("test")
    if ann_acc is not None and twin:
        for p in ("int8", "fp32"):
            e = twin["total_pJ"][p]["sram"]
            points.append({"name": f"ANN twin {p} (SRAM)", "accuracy": float(ann_acc), "low": e["low"],
                           "high": e["high"]})
    note = ""
    if not points:
        note = "no accuracy known: plot skipped"
    elif ann_acc is not None and twin:
        note = "the ANN twin's int8 point uses its measured (float) accuracy: int8 accuracy was not measured"
    return points, note


def build_document(net_path: str | os.PathLike, activity: dict, profile: ChipProfile, ann: dict | None = None,
                   accuracy: dict | None = None, step_seconds: float | None = None) -> dict:
    """The ``energy.json`` content (without plot file names)."""
    act = validate_activity(activity)
    mapping = map_network(net_path, profile)
    snn = E.snn_energy(act, profile, mapping)
    topo = E.ann_energy(E.topology_ann(mapping, act["steps"]), "SNN topology as ANN")
    twin = E.ann_energy(ann, "ANN twin") if ann is not None else None
    anns = {"SNN topology as dense ANN": topo} | ({"ANN twin": twin} if twin else {})
    head_label = "ANN twin" if twin else "SNN topology as dense ANN"
    points, acc_note = _accuracy_points(accuracy, snn, twin)
    return {
        "format": FORMAT,
        "network": str(net_path),
        "chip": profile.name,
        "activity": {"backend": act.get("backend"), "samples": act["samples"], "steps": act["steps"]},
        "headline": E.headline(snn, anns[head_label], head_label),
        "snn": snn,
        "ops_proxy": E.ops_proxy(act, step_seconds),
        "latency": E.latency(act, profile, mapping),
        "ann_twin": twin,
        "ann_topology": topo,
        "comparison": E.comparison(snn, anns),
        "mapping": mapping.to_json(),
        "accuracy": accuracy,
        "accuracy_points": points,
        "accuracy_note": acc_note,
        "profile": profile.to_json(),
        "plots": {},
    }


# ----------------------------------------------------------- rendering --------

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}td,th{border:1px solid #ccc;padding:.25em .5em;
text-align:left;vertical-align:top}th{background:#f3f3f3}.headline{background:#eef5ff;border-left:5px solid #3972c4;
padding:.8em 1em;font-size:1.05em}.warn{background:#fff1f0;border-left:5px solid #c43939;padding:.6em 1em}
.small{font-size:.85em;color:#555}img{max-width:100%;margin:.5em 0}code{background:#f3f3f3;padding:0 .2em}
"""

_ACCOUNTING = {"arithmetic": "arithmetic only", "sram": "memory-aware, on-chip SRAM",
               "dram_weights": "memory-aware, weights from DRAM"}


def _sections(doc: dict, c: _Cells, md: bool, images: dict[str, str]) -> list[str]:
    """The report body as HTML (``md`` False) or Markdown lines."""
    out: list[str] = []
    num = c.md if md else c.html
    rng = c.range_md if md else c.range_html
    esc = (lambda s: str(s)) if md else (lambda s: html.escape(str(s)))

    def h2(t):
        out.append(f"\n## {t}\n" if md else f"<h2>{esc(t)}</h2>")

    def para(t, cls=""):
        if md:
            out.append(f"\n{t}\n")
        else:
            out.append(f'<p class="{cls}">{t}</p>' if cls else f"<p>{t}</p>")

    def table(head, rows):
        if md:
            out.append("| " + " | ".join(head) + " |")
            out.append("|" + "---|" * len(head))
            out.extend("| " + " | ".join(str(x).replace("|", "/") for x in r) + " |" for r in rows)
            out.append("")
        else:
            out.append("<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr>")
            out.extend("<tr>" + "".join(f"<td>{x}</td>" for x in r) + "</tr>" for r in rows)
            out.append("</table>")

    def image(key, alt, caption=""):
        if key in images:
            out.append(f"\n![{alt}]({images[key]})\n" if md else f'<img alt="{esc(alt)}" src="{images[key]}">')
            if caption:
                para(esc(caption), "small")
        else:
            para(esc(doc["plots"].get(key + "_note", f"{alt}: not produced")), "small")

    snn, act = doc["snn"], doc["activity"]
    head = doc["headline"]
    # headline
    if md:
        out.append(f"**{head['text']}**\n")
    else:
        r = ("unknown" if head["ratio"] is None else
             f"{c.html('headline.ratio.low', 'x')} to {c.html('headline.ratio.high', 'x')}")
        out.append(f'<div class="headline"><b>ANN/SNN energy per inference: {r}</b><br>'
                   f'<span class="small">{esc(head["text"])}</span></div>')
    mp = doc["mapping"]
    if not mp["fits"]:
        lines = "; ".join(e["text"] for e in mp["exceeded"])
        para(f"<b>The network does not fit {esc(doc['chip'])}:</b> {esc(lines)}" if not md
             else f"**The network does not fit {doc['chip']}:** {lines}", "warn")

    h2("Energy per inference")
    s_per = "snn.per_inference_pJ"
    rows = []
    if snn["per_inference_pJ"] is not None:
        rows.append([esc(f"SNN on {snn['chip']}" + (f" ({snn['figures_from']} figures, stand-in)"
                                                    if snn["stand_in"] else "")),
                     f"{num(s_per + '.low.mean', 'pJ')} – {num(s_per + '.high.mean', 'pJ')}",
                     f"± {num(s_per + '.low.std', 'pJ')} / ± {num(s_per + '.high.std', 'pJ')}", "—"])
    else:
        rows.append([esc(f"SNN on {snn['chip']}"), "unknown", "—", "—"])
    for i, row in enumerate(doc["comparison"]):
        base = f"comparison.{i}"
        rows.append([esc(f"{row['ann']}, {row['precision']}, {_ACCOUNTING[row['accounting']]}"),
                     rng(base + ".ann_pJ", "pJ"), "—",
                     "unknown" if row["ratio"] is None else rng(base + ".ratio", "x")])
    table(["what", "energy per inference (low – high)", "spread over inferences (std, low / high end)",
           "ANN/SNN ratio"], rows)
    para(esc(f"{act['samples']} inference(s) of {act['steps']} timesteps counted with the "
             f"{act['backend']} backend. A ratio above 1 means the SNN uses less energy."), "small")
    if snn["excluded"]:
        para(esc("Left out of the SNN figure (unknown): " + "; ".join(snn["excluded"]) + "."), "small")

    h2("Loihi 2 operation-count proxy (N-DNS Challenge)")
    op = doc["ops_proxy"]
    rows = [["synaptic ops per inference", num("ops_proxy.synops_per_inference.mean", "int")],
            ["neuron ops per inference", num("ops_proxy.neuron_ops_per_inference.mean", "int")],
            ["ops per inference (mean ± std)",
             f"{num('ops_proxy.ops_per_inference.mean', 'int')} ± {num('ops_proxy.ops_per_inference.std', 'int')}"],
            ["ops per timestep", num("ops_proxy.ops_per_step", "int")]]
    if op["power_proxy_ops_per_s"] is not None:
        rows += [["power proxy (ops/s)", num("ops_proxy.power_proxy_ops_per_s", "g")],
                 ["power-delay-product proxy (ops)", num("ops_proxy.pdp_proxy_ops", "g")]]
    table(["quantity", "value"], rows)
    para(esc(op["note"] + ". Source: " + op["source"]), "small")

    h2("Latency per inference")
    lat = doc["latency"]
    if lat["per_inference_ns"] is None:
        para(esc(f"{lat['steps']} timesteps × time per step: unknown ({lat['note']})."))
    elif lat["kind"] == "lower_bound":
        para(f"{esc(lat['steps'])} timesteps; at least {num('latency.per_inference_ns.low', 'ns')} "
             f"({esc(lat['note'])}).")
    else:
        para(f"{esc(lat['steps'])} timesteps × time per step = {rng('latency.per_inference_ns', 'ns')}.")

    h2("Plots")
    image("energy_per_layer", "Energy per layer, SNN vs ANN",
          "Bars: geometric middle of each layer's low-high energy range; whiskers: the range. The dense ANN "
          "runs the same synapses once per timestep with int8 arithmetic and on-chip SRAM.")
    image("firing_rate", "Firing rate per layer")
    image("raster", "Spike raster of one sample")
    image("accuracy_energy", "Accuracy against energy per inference")

    h2("Per layer")
    rows = []
    for i, l in enumerate(snn["layers"]):
        m = mp["layers"][i]
        ti = next((j for j, t in enumerate(doc["ann_topology"]["layers"]) if t["name"] == m["name"]), None)
        rows.append([esc(f"{l['name']} ({m['label']})"), num(f"mapping.layers.{i}.neurons", "int"),
                     num(f"mapping.layers.{i}.synapses", "int"), num(f"mapping.layers.{i}.cores", "int"),
                     num(f"snn.layers.{i}.counts_mean.spikes", "int"),
                     num(f"snn.layers.{i}.counts_mean.synops", "int"), num(f"snn.layers.{i}.firing_rate", "g"),
                     f"{num(f'snn.layers.{i}.energy_pJ.low', 'pJ')} – {num(f'snn.layers.{i}.energy_pJ.high', 'pJ')}",
                     "—" if ti is None else num(f"ann_topology.layers.{ti}.macs", "int")])
    table(["layer", "neurons", "synapses", "cores", "spikes / inference", "synops / inference",
           "spikes / neuron / step", "SNN energy / inference", "dense-ANN MACs / inference"], rows)
    if doc["ann_twin"]:
        rows = [[esc(l["name"]), esc(l["kind"]), num(f"ann_twin.layers.{i}.macs", "int"),
                 num(f"ann_twin.layers.{i}.weights", "int"),
                 rng(f"ann_twin.layers.{i}.energy_pJ.int8.sram", "pJ"),
                 rng(f"ann_twin.layers.{i}.energy_pJ.fp32.sram", "pJ")]
                for i, l in enumerate(doc["ann_twin"]["layers"])]
        table(["ANN twin layer", "kind", "MACs / inference", "weights", "int8 (SRAM)", "fp32 (SRAM)"], rows)

    h2(f"Mapping onto {doc['chip']}")
    para(f"{num('mapping.cores', 'int')} cores on {num('mapping.chips', 'int')} chip(s); "
         f"{num('mapping.neurons', 'int')} neurons, {num('mapping.synapses', 'int')} synapses. "
         + esc("Every known limit is met." if mp["fits"] else f"{len(mp['exceeded'])} limit(s) exceeded."))
    if mp["exceeded"]:
        table(["layer", "limit", "needs", "allowed", "over by"],
              [[esc(e["layer"]), esc(e["limit"]), num(f"mapping.exceeded.{i}.value", "g"),
                num(f"mapping.exceeded.{i}.allowed", "g"), num(f"mapping.exceeded.{i}.amount", "g")]
               for i, e in enumerate(mp["exceeded"])])
    if mp["unchecked"]:
        para(esc(f"Not checked (unknown for {doc['chip']}): {', '.join(mp['unchecked'])}."), "small")
    para(esc("Packing model: " + PACKING_MODEL), "small")

    h2("Assumptions")
    items = (snn["assumptions"] + doc["ann_topology"]["assumptions"]
             + ["SNN topology as dense ANN: every synapse's full weight tensor (zeros included) evaluated once "
                "per timestep; input layers without synapses have no MACs; axonal delays ignored"]
             + ([doc["accuracy_note"]] if doc["accuracy_note"] else []))
    if md:
        out.extend(f"- {a}" for a in items)
    else:
        out.append("<ul>" + "".join(f"<li>{esc(a)}</li>" for a in items) + "</ul>")

    h2("Figures and their sources")
    rows = []
    prof = doc["profile"]
    for section, unit_key in (("energy_pJ", "pJ"), ("time_ns", "ns"), ("limits", None)):
        for k, f in prof[section].items():
            rows.append([esc(f"{prof['name']} {section.split('_')[0]}.{k}"), esc(_fig_text(f)),
                         esc(f["source"] or "—"), esc(f["note"])])
    if snn["stand_in"]:
        for k, f in snn["figures"].items():
            rows.append([esc(f"{snn['figures_from']} energy.{k} (stand-in)"), esc(_fig_text(f)),
                         esc(f["source"] or "—"),
                         esc(f["note"])])
    for k, f in doc["ann_topology"]["figures"].items():
        rows.append([esc(k), esc(_fig_text(f)), esc(f["source"]), esc(f["note"])])
    table(["figure", "value", "source", "note"], rows)
    for n in prof["notes"]:
        para(esc(n), "small")
    return out


def _render_html(doc: dict, images: dict[str, str]) -> str:
    c = _Cells(doc)
    body = "\n".join(_sections(doc, c, md=False, images=images))
    title = f"spikeport energy report: {Path(doc['network']).name} on {doc['chip']}"
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>\n<h1>{html.escape(title)}</h1>\n"
            f"<p class=\"small\">network <code>{html.escape(doc['network'])}</code></p>\n{body}\n</body></html>\n")


def _render_md(doc: dict, images: dict[str, str]) -> str:
    c = _Cells(doc)
    title = f"# spikeport energy report: {Path(doc['network']).name} on {doc['chip']}\n\nnetwork `{doc['network']}`\n"
    return title + "\n".join(_sections(doc, c, md=True, images=images)) + "\n"


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_report(out_dir: str | os.PathLike, net_path: str | os.PathLike, activity: dict, profile: ChipProfile,
                 ann: dict | None = None, accuracy: dict | None = None, raster: list[np.ndarray] | None = None,
                 step_seconds: float | None = None) -> dict:
    """Write ``energy.json``, ``report.md``, ``report.html`` and the PNG plots into
    ``out_dir``; returns the ``energy.json`` content.

    ``activity``: Contract-1 counts of the network at ``net_path``; ``ann``: the ANN
    twin's Contract-2 description (optional; the SNN's own topology as a dense ANN is
    always reported); ``accuracy``: optional ``{"float": .., "quantized": .., "lava": ..,
    "ann": ..}`` (fractions) or ``{"points": [{"name", "accuracy", "low", "high"}]}``
    (pJ) for the accuracy-energy plot; ``raster``: one sample's spikes per layer
    ``[(neurons..., T), ...]``; ``step_seconds``: real time per timestep, for the
    N-DNS power proxy.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = build_document(net_path, activity, profile, ann, accuracy, step_seconds)
    snn = doc["snn"]
    topo_names = [m["name"] for m in doc["mapping"]["layers"]]
    made: dict[str, Path] = {}
    made["energy_per_layer"] = plots.energy_per_layer(out / PLOTS["energy_per_layer"], snn, doc["ann_topology"],
                                                      topo_names, doc["ann_twin"])
    made["firing_rate"] = plots.firing_rates(out / PLOTS["firing_rate"], snn)
    if raster is not None:
        if len(raster) != len(snn["layers"]):
            raise SpikeportError(f"raster has {len(raster)} layers, the activity {len(snn['layers'])}")
        made["raster"] = plots.raster(out / PLOTS["raster"], raster, [l["name"] for l in snn["layers"]])
    else:
        doc["plots"]["raster_note"] = "no spike raster given: plot skipped"
    if doc["accuracy_points"]:
        made["accuracy_energy"] = plots.accuracy_energy(out / PLOTS["accuracy_energy"], doc["accuracy_points"])
    else:
        doc["plots"]["accuracy_energy_note"] = doc["accuracy_note"] or "no accuracy known: plot skipped"
    for key in PLOTS:
        doc["plots"][key] = made[key].name if key in made else None

    embedded = {k: "data:image/png;base64," + base64.b64encode(p.read_bytes()).decode("ascii")
                for k, p in made.items()}
    _write_text(out / "energy.json", json.dumps(doc, indent=1, default=_json_default, allow_nan=False) + "\n")
    _write_text(out / "report.md", _render_md(doc, {k: p.name for k, p in made.items()}))
    _write_text(out / "report.html", _render_html(doc, embedded))
    return doc
