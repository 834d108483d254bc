"""The SNN against the ANNs: energy ratios in every view, the accuracy-matched headline,
and the systems of the accuracy-energy plot.

Headline rule: among the ANNs at every precision whose accuracy was measured on the
same split as the SNN's, the most energy-efficient one (by the geometric middle of
its ``int8/fp32, dense MACs, memory-aware`` range) whose accuracy is within
:data:`ACCURACY_WINDOW` of the SNN's; when none is, the nearest in accuracy on each
side, each with its ratio. A ratio is ANN energy / SNN energy, as a low-high range
(ANN low / SNN high to ANN high / SNN low): above 1 the SNN uses less energy.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from spikeport.errors import SpikeportError
from spikeport.hw.ann_description import PRECISIONS
from spikeport.hw.ann_energy import view, view_label
from spikeport.hw.topology import DENSE_KINDS

if TYPE_CHECKING:
    from spikeport.hw.mapping import Mapping

ACCURACY_WINDOW = 0.01          # "within 1 point" of accuracy
HEADLINE_MACS, HEADLINE_ACCOUNTING = "dense", "memory"


def topology_description(mapping: "Mapping", steps: int) -> dict:
    """The SNN's topology as a dense ANN (``spikeport-ann/1``) run once per timestep:
    every synapse's full weight tensor (zeros included) as a dense or conv layer,
    ``frames`` = ``steps``. Input layers (no synapse) have no MACs and are left out;
    axonal delays are ignored."""
    layers = []
    for m in mapping.layers:
        t = m.topology
        if t.kind in DENSE_KINDS:
            # a dense_rec layer also reads its own neurons; a complex one has two weight matrices
            n_in = t.in_neurons + (t.neurons if t.kind == "dense_rec" else 0)
            layers.append({"name": t.name, "kind": "dense", "in_features": n_in * (2 if t.kind == "complex_dense" else 1),
                           "out_features": t.neurons, "bias": False, "per_frame": True})
        elif t.kind == "conv":
            c = t.conv
            layers.append({"name": t.name, "kind": "conv", "in_shape": list(t.in_shape), "out_shape": list(t.shape),
                           "kernel": c["kernel"], "stride": c["stride"], "padding": c["padding"],
                           "dilation": c["dilation"], "groups": c["groups"], "bias": False, "per_frame": True})
    if not layers:
        raise SpikeportError(f"{mapping.network}: no synapse layers to run as an ANN")
    return {"format": "spikeport-ann/1", "name": "SNN topology as dense ANN", "frames": int(steps),
            "layers": layers}


def snn_range(snn: dict) -> dict | None:
    """The SNN's mean energy per inference as ``{"low", "high"}`` (pJ), or None."""
    s = snn.get("per_inference_pJ")
    return None if not s else {"low": s["low"]["mean"], "high": s["high"]["mean"]}


def ratio(ann_pJ: dict, snn: dict) -> dict | None:
    """ANN/SNN energy ratio range: low = ANN low / SNN high, high = ANN high / SNN low
    (mean energies per inference); above 1 the SNN uses less energy."""
    s = snn_range(snn)
    if not s or s["low"] <= 0 or s["high"] <= 0:
        return None
    return {"low": ann_pJ["low"] / s["high"], "high": ann_pJ["high"] / s["low"]}


def comparison(snn: dict, anns: list[dict]) -> list[dict]:
    """Every view of every ANN (:func:`spikeport.hw.ann_energy.ann_energy` results)
    against the SNN: rows with the ANN's label, the view, its energy and the ratio."""
    return [{"ann": a["label"], "precision": v["precision"], "macs": v["macs"], "accounting": v["accounting"],
             "view": v["label"], "ann_pJ": dict(v["pJ"]), "ratio": ratio(v["pJ"], snn),
             "accuracy": a["accuracy"].get(v["precision"])}
            for a in anns for v in a["views"]]


def _mid(r: dict) -> float:
    return math.sqrt(max(r["low"], 1e-300) * max(r["high"], 1e-300))


def candidates(anns: list[dict]) -> list[dict]:
    """(ANN, precision) pairs with a measured accuracy, each with its headline view."""
    out = []
    for a in anns:
        for p in PRECISIONS:
            acc = a["accuracy"].get(p)
            v = view(a, p, HEADLINE_MACS, HEADLINE_ACCOUNTING)
            if acc is not None and v is not None:
                out.append({"ann": a["label"], "name": a["name"], "precision": p, "accuracy": float(acc),
                            "view": v["label"], "ann_pJ": dict(v["pJ"])})
    return out


def _entry(c: dict, snn: dict) -> dict:
    r = ratio(c["ann_pJ"], snn)
    return {**c, "ratio": r, "text": (f"{c['ann']} {c['precision']} (accuracy {c['accuracy']:.3f}): ANN/SNN "
                                      + ("unknown" if r is None else f"{r['low']:.3g}x to {r['high']:.3g}x"))}


def _better(cands: list[dict], snn: dict, snn_accuracy: float) -> list[dict]:
    """ANNs more accurate than the SNN (beyond the window) whose whole energy range lies below the SNN's."""
    s = snn_range(snn)
    return [_entry(c, snn) for c in cands
            if c["accuracy"] > snn_accuracy + ACCURACY_WINDOW and c["ann_pJ"]["high"] < s["low"]]


def _nearest(cands: list[dict], closest, snn: dict) -> dict | None:
    """The most efficient of the candidates whose accuracy is ``closest`` (min or max) of them."""
    if not cands:
        return None
    acc = closest(c["accuracy"] for c in cands)
    return _entry(min((c for c in cands if c["accuracy"] == acc), key=lambda c: _mid(c["ann_pJ"])), snn)


def headline(snn: dict, anns: list[dict], snn_accuracy: float | None) -> dict[str, Any]:
    """The report's headline (see the module doc). ``snn_accuracy``: the exported
    network's accuracy on the split the ANNs were measured on, or None."""
    cands = candidates(anns)
    chip = snn["chip"] + (f" ({snn['figures_from']} figures as a stand-in)" if snn["stand_in"] else "")
    basis = f"{HEADLINE_MACS} MACs, memory-aware; the SNN on {chip}; above 1 the SNN uses less energy"
    out = {"snn_pJ": snn_range(snn), "snn_accuracy": snn_accuracy, "window": ACCURACY_WINDOW, "basis": basis,
           "match": None, "nearest_above": None, "nearest_below": None, "better": [], "ratio": None}
    if snn_range(snn) is None:
        out["text"] = f"ANN/SNN energy ratio: unknown (no energy figures for {snn['chip']})"
        return out
    if snn_accuracy is None or not cands:
        why = "the SNN's accuracy is unknown" if snn_accuracy is None else "no ANN has a measured accuracy"
        out["text"] = f"no accuracy-matched comparison: {why}; the report lists every ANN view"
        return out
    within = [c for c in cands if abs(c["accuracy"] - snn_accuracy) <= ACCURACY_WINDOW + 1e-12]
    if within:
        best = _entry(min(within, key=lambda c: _mid(c["ann_pJ"])), snn)
        out.update(match=best, ratio=best["ratio"])
        r = best["ratio"]
        out["text"] = (f"ANN/SNN energy per inference: {r['low']:.3g}x to {r['high']:.3g}x against {best['ann']} "
                       f"{best['precision']} (accuracy {best['accuracy']:.3f} vs the SNN's {snn_accuracy:.3f}), the "
                       f"most energy-efficient ANN within 1 point of the SNN's accuracy ({basis})")
        out["better"] = _better(cands, snn, snn_accuracy)
        if out["better"]:
            out["text"] += "; more accurate and cheaper: " + "; ".join(e["text"] for e in out["better"])
        return out
    above = [c for c in cands if c["accuracy"] > snn_accuracy]
    below = [c for c in cands if c["accuracy"] < snn_accuracy]
    out["nearest_above"], out["nearest_below"] = _nearest(above, min, snn), _nearest(below, max, snn)
    sides = "; ".join(f"nearest {k}: {e['text']}" for k, e in (("above", out["nearest_above"]),
                                                                 ("below", out["nearest_below"])) if e)
    out["text"] = (f"no ANN is within 1 point of the SNN's accuracy ({snn_accuracy:.3f}); {sides} ({basis})")
    return out


def accuracy_points(snn: dict, snn_accuracy: float | None, anns: list[dict]) -> list[dict]:
    """Systems for the accuracy-energy plot, each at its measured accuracy with the
    energy range of its headline view (the SNN: its chip estimate)."""
    points = []
    s = snn_range(snn)
    if s is not None and snn_accuracy is not None:
        points.append({"name": f"SNN on {snn['chip']}", "accuracy": float(snn_accuracy), **s,
                       "view": "chip estimate (low-high)"})
    for c in candidates(anns):
        points.append({"name": f"{c['ann']} {c['precision']}", "accuracy": c["accuracy"], **c["ann_pJ"],
                       "view": view_label(c["precision"], HEADLINE_MACS, HEADLINE_ACCOUNTING)})
    return points
