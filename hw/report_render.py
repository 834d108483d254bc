"""The energy report's text: one renderer per section, each writing HTML or Markdown
from the ``energy.json`` document alone.

Every number shown in HTML carries its place in the document (``data-key``, a dotted
path) and its exact value (``data-value``), so page and JSON cannot disagree and a
test can check them.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Callable

from spikeport.hw.figures import Figure
from spikeport.hw.mapping import PACKING_MODEL
from spikeport.units import si

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1150px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6em 0;font-size:.88em}td,th{border:1px solid #ccc;padding:.25em .5em;
text-align:left;vertical-align:top}th{background:#f3f3f3}.headline{background:#eef5ff;border-left:5px solid #3972c4;
padding:.8em 1em;font-size:1.05em}.warn{background:#fff1f0;border-left:5px solid #c43939;padding:.6em 1em}
.check{background:#f0fff2;border-left:5px solid #2f9e44;padding:.5em 1em}
table.nb td:first-child{white-space:nowrap}table.nb{font-size:.82em}
.small{font-size:.85em;color:#555}img{max-width:100%;margin:.5em 0}code{background:#f3f3f3;padding:0 .2em}
"""


def fmt(v: Any, kind: str) -> str:
    """A number as shown: ``pJ``/``ns`` with SI prefixes, ``x`` ratios, ``int``, ``pct``, ``acc`` (3 decimals)."""
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
    if kind == "acc":
        return f"{float(v):.3f}"
    if kind == "frac":
        return f"{float(v):.4f}"
    return f"{float(v):.3g}"


def lookup(doc: Any, key: str) -> Any:
    """The value at dotted path ``key`` (list indices as numbers) in ``doc``."""
    cur = doc
    for part in key.split("."):
        cur = cur[int(part)] if isinstance(cur, list) else cur[part]
    return cur


class Page:
    """Accumulates one report body, HTML or Markdown, from the document."""

    def __init__(self, doc: dict, md: bool, images: dict[str, str]):
        self.doc, self.md, self.images, self.out = doc, md, images, []

    def esc(self, s: Any) -> str:
        return str(s) if self.md else html.escape(str(s))

    def num(self, key: str, kind: str) -> str:
        v = lookup(self.doc, key)
        if self.md:
            return fmt(v, kind)
        data = "" if v is None else f' data-value="{float(v)!r}"'
        return f'<span class="num" data-key="{html.escape(key)}"{data}>{html.escape(fmt(v, kind))}</span>'

    def rng(self, base: str, kind: str) -> str:
        if lookup(self.doc, base) is None:
            return "unknown"
        return f"{self.num(base + '.low', kind)} – {self.num(base + '.high', kind)}"

    def h2(self, text: str) -> None:
        self.out.append(f"\n## {text}\n" if self.md else f"<h2>{self.esc(text)}</h2>")

    def para(self, text: str, cls: str = "") -> None:
        """``text`` is already escaped (it may hold numbers' markup)."""
        if self.md:
            self.out.append(f"\n{text}\n")
        else:
            self.out.append(f'<p class="{cls}">{text}</p>' if cls else f"<p>{text}</p>")

    def table(self, head: list[str], rows: list[list[str]], cls: str = "") -> None:
        if self.md:
            self.out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            self.out += ["| " + " | ".join(str(x).replace("|", "/") for x in r) + " |" for r in rows] + [""]
        else:
            attr = f' class="{cls}"' if cls else ""
            self.out.append(f"<table{attr}><tr>" + "".join(f"<th>{self.esc(h)}</th>" for h in head) + "</tr>")
            self.out += ["<tr>" + "".join(f"<td>{x}</td>" for x in r) + "</tr>" for r in rows]
            self.out.append("</table>")

    def items(self, lines: list[str]) -> None:
        if self.md:
            self.out += [f"- {a}" for a in lines]
        else:
            self.out.append("<ul>" + "".join(f"<li>{self.esc(a)}</li>" for a in lines) + "</ul>")

    def image(self, key: str, alt: str, caption: str = "") -> None:
        if key in self.images:
            src = self.images[key]
            self.out.append(f"\n![{alt}]({src})\n" if self.md else f'<img alt="{self.esc(alt)}" src="{src}">')
            if caption:
                self.para(self.esc(caption), "small")
        else:
            self.para(self.esc(self.doc["plots"].get(key + "_note", f"{alt}: not produced")), "small")


def _headline(p: Page) -> None:
    d, h = p.doc, p.doc["headline"]
    if p.md:
        p.out.append(f"**{h['text']}**\n")
    else:
        r = ("" if h["ratio"] is None else
             f"<b>ANN/SNN energy per inference: {p.num('headline.ratio.low', 'x')} to "
             f"{p.num('headline.ratio.high', 'x')}</b><br>")
        text = h["text"].split(": ", 1)[1] if h["ratio"] is not None else h["text"]
        p.out.append(f'<div class="headline">{r}<span class="small">{p.esc(text)}</span></div>')
    acc = d.get("accuracy") or {}
    if acc.get("snn") is not None:
        p.para(f"SNN accuracy: {p.num('accuracy.snn', 'acc')} on the {p.esc(acc.get('split', '?'))} split "
               f"({p.num('accuracy.clips', 'int')} clips), the exported fixed-point network in the fast simulator; "
               f"ANN accuracies measured on the same split.", "small")
    check = d.get("check")
    if check:
        p.para(f"Check, not an accuracy: Lava fixed_pt agreed with the fast simulator on "
               f"{p.num('check.clips', 'int')} clips: {p.num('check.spikes_compared', 'int')} spikes compared, "
               f"{p.num('check.mismatched', 'int')} mismatched.", "check")
    if not d["mapping"]["fits"]:
        lines = "; ".join(e["text"] for e in d["mapping"]["exceeded"])
        p.para(f"<b>The network does not fit {p.esc(d['chip'])}:</b> {p.esc(lines)}" if not p.md
               else f"**The network does not fit {d['chip']}:** {lines}", "warn")


def _energy(p: Page) -> None:
    d, snn = p.doc, p.doc["snn"]
    p.h2("Energy per inference")
    base = "snn.per_inference_pJ"
    label = f"SNN on {snn['chip']}" + (f" ({snn['figures_from']} figures, stand-in)" if snn["stand_in"] else "")
    rows = [[p.esc(label), "chip estimate", p.num("accuracy.snn", "acc") if (d.get("accuracy") or {}).get("snn")
             is not None else "unknown",
             "unknown" if snn["per_inference_pJ"] is None else
             f"{p.num(base + '.low.mean', 'pJ')} – {p.num(base + '.high.mean', 'pJ')}", "—"]]
    for i, row in enumerate(d["comparison"]):
        rows.append([p.esc(row["ann"]), p.esc(row["view"]),
                     "unknown" if row["accuracy"] is None else p.num(f"comparison.{i}.accuracy", "acc"),
                     p.rng(f"comparison.{i}.ann_pJ", "pJ"),
                     "unknown" if row["ratio"] is None else p.rng(f"comparison.{i}.ratio", "x")])
    p.table(["system", "view", "accuracy", "energy per inference (low – high)", "ANN/SNN"], rows)
    act = d["activity"]
    p.para(p.esc(f"SNN: {act['samples']} inference(s) of {act['steps']} timesteps counted with the "
                 f"{act['backend']} backend. A ratio above 1 means the SNN uses less energy."), "small")
    if snn["excluded"]:
        p.para(p.esc("Left out of the SNN figure (unknown): " + "; ".join(snn["excluded"]) + "."), "small")
    for a in d["anns"]:
        if a["not_measured"]:
            p.para(p.esc(f"{a['label']}: views not shown, their counts were not measured: "
                         + "; ".join(a["not_measured"]) + "."), "small")


NB_COLUMNS = [("ClassificationAccuracy", "Classification Accuracy", "acc"),
              ("Footprint", "Footprint (bytes)", "int"), ("ParameterCount", "Parameter Count", "int"),
              ("ConnectionSparsity", "Connection Sparsity", "frac"),
              ("ActivationSparsity", "Activation Sparsity", "frac"),
              ("SynapticOperations_Dense", "Synaptic Operations: Dense", "int"),
              ("SynapticOperations_Effective_MACs", "Synaptic Operations: Effective_MACs", "int"),
              ("SynapticOperations_Effective_ACs", "Synaptic Operations: Effective_ACs", "int"),
              ("MembraneUpdates", "Membrane Updates", "int")]


def _neurobench(p: Page) -> None:
    nb = p.doc["neurobench"]
    p.h2("NeuroBench metrics")
    rows = []
    for i, r in enumerate(nb["table"]):
        rows.append([p.esc(r["system"])] + ["unknown" if r.get(k) is None else p.num(f"neurobench.table.{i}.{k}", f)
                                            for k, _, f in NB_COLUMNS])
    p.table(["system"] + [h for _, h, _ in NB_COLUMNS], rows, cls="nb")
    p.para(p.esc(f"Per inference, NeuroBench's names and definitions ({nb['source']}). The SNN's figures come "
                 "from the exported fixed-point network and its simulation, the ANNs' from the networks that were "
                 "evaluated (float32, and the post-training int8 network)."), "small")
    snn = nb["systems"].get("SNN")
    if snn:
        chip = [f"{k} = {fmt(v, 'int')}" for k, v in snn["chip"].items()]
        p.para(p.esc("SNN as the chip counts it: " + "; ".join(chip) + "."), "small")
        p.items([f"{k}: {v}" for k, v in snn["notes"].items()])


def _anchors(p: Page) -> None:
    p.h2("Measured hardware anchors (context)")
    rows = [[p.esc(a["system"]), p.esc(a["network"]), p.num(f"hardware_anchors.{i}.energy_pJ", "pJ"),
             p.esc(a["source"])] for i, a in enumerate(p.doc["hardware_anchors"])]
    p.table(["hardware", "network (not this one)", "energy per inference", "source"], rows)
    p.para(p.esc("Each row is a different keyword-spotting network measured on real hardware by its authors: "
                 "context for the order of magnitude, not a comparison with the networks above."), "small")


def _ops_proxy(p: Page) -> None:
    op = p.doc["ops_proxy"]
    p.h2("Loihi 2 operation-count proxy (N-DNS Challenge)")
    rows = [["synaptic ops per inference", p.num("ops_proxy.synops_per_inference.mean", "int")],
            ["neuron ops per inference", p.num("ops_proxy.neuron_ops_per_inference.mean", "int")],
            ["ops per inference (mean ± std)", f"{p.num('ops_proxy.ops_per_inference.mean', 'int')} ± "
                                               f"{p.num('ops_proxy.ops_per_inference.std', 'int')}"],
            ["ops per timestep", p.num("ops_proxy.ops_per_step", "int")]]
    if op["power_proxy_ops_per_s"] is not None:
        rows += [["power proxy (ops/s)", p.num("ops_proxy.power_proxy_ops_per_s", "g")],
                 ["power-delay-product proxy (ops)", p.num("ops_proxy.pdp_proxy_ops", "g")]]
    p.table(["quantity", "value"], rows)
    p.para(p.esc(op["note"] + ". Source: " + op["source"]), "small")


def _latency(p: Page) -> None:
    lat = p.doc["latency"]
    p.h2("Latency per inference")
    if lat["per_inference_ns"] is None:
        p.para(p.esc(f"{lat['steps']} timesteps × time per step: unknown ({lat['note']})."))
    elif lat["kind"] == "lower_bound":
        p.para(f"{p.esc(lat['steps'])} timesteps; at least {p.num('latency.per_inference_ns.low', 'ns')} "
               f"({p.esc(lat['note'])}).")
    else:
        p.para(f"{p.esc(lat['steps'])} timesteps × time per step = {p.rng('latency.per_inference_ns', 'ns')}.")


def _plots(p: Page) -> None:
    p.h2("Plots")
    p.image("accuracy_energy", "Accuracy against energy per inference",
            "Each system at its measured accuracy on the same split; horizontal bars: its energy range "
            "(ANNs: int8 or fp32, dense MACs, memory-aware; the SNN: its chip estimate).")
    p.image("energy_per_layer", "Energy per layer, SNN and ANNs",
            "Bars: geometric middle of each layer's low-high energy range; whiskers: the range.")
    p.image("firing_rate", "Firing rate per layer")
    p.image("raster", "Spike raster of one sample")


def _snn_layers(p: Page) -> None:
    d = p.doc
    p.h2("Per layer: SNN")
    rows = []
    for i, l in enumerate(d["snn"]["layers"]):
        m = d["mapping"]["layers"][i]
        ti = next((j for j, t in enumerate(d["ann_topology"]["layers"]) if t["name"] == m["name"]), None)
        rows.append([p.esc(f"{l['name']} ({m['label']})"), p.num(f"mapping.layers.{i}.neurons", "int"),
                     p.num(f"mapping.layers.{i}.synapses", "int"), p.num(f"mapping.layers.{i}.cores", "int"),
                     p.num(f"snn.layers.{i}.counts_mean.spikes", "int"),
                     p.num(f"snn.layers.{i}.counts_mean.synops", "int"), p.num(f"snn.layers.{i}.firing_rate", "g"),
                     p.rng(f"snn.layers.{i}.energy_pJ", "pJ"),
                     "—" if ti is None else p.num(f"ann_topology.layers.{ti}.macs", "int")])
    p.table(["layer", "neurons", "synapses", "cores", "spikes / inference", "synops / inference",
             "spikes / neuron / step", "SNN energy / inference", "same topology as ANN: dense MACs"], rows)


def _ann_layers(p: Page) -> None:
    for a_i, a in enumerate(p.doc["anns"]):
        p.h2(f"Per layer: {a['label']}")
        if a.get("source"):
            p.para(p.esc(f"{a['name']}: {a['source']}"), "small")
        rows = []
        for i, l in enumerate(a["layers"]):
            key = f"anns.{a_i}.layers.{i}"
            e = l["energy_pJ"]
            rows.append([p.esc(l["name"]), p.esc(l["kind"]), p.num(f"{key}.macs", "int"),
                         p.num(f"{key}.weights", "int"), p.num(f"{key}.evaluations", "int"),
                         p.rng(f"{key}.energy_pJ.int8_dense.memory", "pJ") if "int8_dense" in e else "—",
                         p.rng(f"{key}.energy_pJ.int8_effective.memory", "pJ") if "int8_effective" in e else "—"])
        p.table(["layer", "kind", "dense MACs / inference", "weights", "evaluations / inference",
                 "int8 dense, memory-aware", "int8 effective, memory-aware"], rows)


def _mapping(p: Page) -> None:
    d, mp = p.doc, p.doc["mapping"]
    p.h2(f"Mapping onto {d['chip']}")
    p.para(f"{p.num('mapping.cores', 'int')} cores on {p.num('mapping.chips', 'int')} chip(s); "
           f"{p.num('mapping.neurons', 'int')} neurons, {p.num('mapping.synapses', 'int')} synapses. "
           + p.esc("Every known limit is met." if mp["fits"] else f"{len(mp['exceeded'])} limit(s) exceeded."))
    if mp["exceeded"]:
        p.table(["layer", "limit", "needs", "allowed", "over by"],
                [[p.esc(e["layer"]), p.esc(e["limit"]), p.num(f"mapping.exceeded.{i}.value", "g"),
                  p.num(f"mapping.exceeded.{i}.allowed", "g"), p.num(f"mapping.exceeded.{i}.amount", "g")]
                 for i, e in enumerate(mp["exceeded"])])
    if mp["unchecked"]:
        p.para(p.esc(f"Not checked (unknown for {d['chip']}): {', '.join(mp['unchecked'])}."), "small")
    p.para(p.esc("Packing model: " + PACKING_MODEL), "small")


def _assumptions(p: Page) -> None:
    d = p.doc
    p.h2("Assumptions")
    p.items(d["snn"]["assumptions"] + d["ann_topology"]["assumptions"]
            + ["SNN topology as dense ANN: every synapse's full weight tensor (zeros included) evaluated once per "
               "timestep; input layers without synapses have no MACs; axonal delays ignored",
               f"headline: {d['headline']['basis']}; accuracy window {d['headline']['window']:g}"])


def _fig_text(f: dict) -> str:
    return Figure(f["low"], f["high"], f["unit"], f["source"], f["note"]).text()


def _sources(p: Page) -> None:
    d, snn, prof = p.doc, p.doc["snn"], p.doc["profile"]
    p.h2("Figures and their sources")
    rows = []
    for section in ("energy_pJ", "time_ns", "limits"):
        for k, f in prof[section].items():
            rows.append([p.esc(f"{prof['name']} {section.split('_')[0]}.{k}"), p.esc(_fig_text(f)),
                         p.esc(f["source"] or "—"), p.esc(f["note"])])
    if snn["stand_in"]:
        for k, f in snn["figures"].items():
            rows.append([p.esc(f"{snn['figures_from']} energy.{k} (stand-in)"), p.esc(_fig_text(f)),
                         p.esc(f["source"] or "—"), p.esc(f["note"])])
    for k, f in d["ann_topology"]["figures"].items():
        rows.append([p.esc(k), p.esc(_fig_text(f)), p.esc(f["source"]), p.esc(f["note"])])
    p.table(["figure", "value", "source", "note"], rows)
    for n in prof["notes"]:
        p.para(p.esc(n), "small")


SECTIONS: list[Callable[[Page], None]] = [_headline, _energy, _neurobench, _anchors, _ops_proxy, _latency, _plots,
                                          _snn_layers, _ann_layers, _mapping, _assumptions, _sources]


def _body(doc: dict, md: bool, images: dict[str, str]) -> str:
    page = Page(doc, md, images)
    for section in SECTIONS:
        section(page)
    return "\n".join(page.out)


def render_html(doc: dict, images: dict[str, str]) -> str:
    """The self-contained page (``images``: plot key -> data URI)."""
    title = f"spikeport energy report: {Path(doc['network']).name} on {doc['chip']}"
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body>\n<h1>{html.escape(title)}</h1>\n"
            f"<p class=\"small\">network <code>{html.escape(doc['network'])}</code></p>\n"
            f"{_body(doc, False, images)}\n</body></html>\n")


def render_md(doc: dict, images: dict[str, str]) -> str:
    """The Markdown report (``images``: plot key -> file name beside it)."""
    title = f"# spikeport energy report: {Path(doc['network']).name} on {doc['chip']}\n\nnetwork `{doc['network']}`\n"
    return title + _body(doc, True, images) + "\n"
