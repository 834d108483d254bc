"""ANN energy per inference, in the views an accelerator designer asks for (pJ).

Every view is one choice of each of:

* **precision**: ``int8`` (1 byte per weight and activation; MAC = 8-bit multiply
  plus an 8-bit add, up to a 32-bit accumulate) or ``fp32`` (4 bytes; 32-bit float
  multiply plus add); Horowitz's 45 nm figures (:mod:`spikeport.hw.figures`);
* **MACs**: ``dense`` (every in-bounds connection, NeuroBench's ``Dense``) or
  ``effective`` (connections whose input and weight are both nonzero: what a
  zero-skipping accelerator executes; NeuroBench's ``Effective_MACs``, measured on a
  data split and stored in the description at that precision);
* **accounting**: ``arithmetic`` (MACs x E_MAC, plus pooling and bias additions) or
  ``memory`` (arithmetic plus SRAM traffic): *weights* held on chip in the smallest
  45 nm SRAM array that holds each layer's weights (8 KB / 32 KB / 1 MB; a layer
  above 1 MB reads DRAM), read once per inference (weight stationary: the low end)
  up to once per MAC (no reuse: the high end); *activations* in the smallest array
  that holds a layer's inputs and outputs, each input read once and each output
  written once per evaluation (low) up to one input read per MAC (high); a write
  costs as much as a read (Horowitz gives reads).

Each view is ``{"precision", "macs", "accounting", "label", "ops", "pJ": {"low",
"high"}}``; per-layer energies are kept too.
"""
from __future__ import annotations

import spikeport.hw.figures as F
from spikeport.hw.ann_description import PRECISIONS, ann_layers, measured

BYTES = {"int8": 1, "fp32": 4}
MAC_COUNTS = ("dense", "effective")
ACCOUNTING = ("arithmetic", "memory")
LABELS = {"arithmetic": "arithmetic only",
          "memory": "memory-aware (weights on-chip SRAM, read once per inference to once per MAC)"}


def view_label(precision: str, macs: str, accounting: str) -> str:
    """``int8, dense MACs, memory-aware (...)``: how every view is named."""
    return f"{precision}, {macs} MACs, {LABELS[accounting]}"


def _array(nbytes: float) -> tuple[F.Figure, str]:
    """Per-64-bit access energy of the smallest Horowitz SRAM array holding
    ``nbytes`` (DRAM beyond the largest) and its name."""
    for cap, key in F.SRAM_ARRAYS:
        if nbytes <= cap:
            return F.CONVENTIONAL[key], key.replace("_read64", "")
    return F.CONVENTIONAL["dram_read64"], "dram"


def _layer_energy(l: dict, macs: float, p: str) -> dict:
    """One layer's arithmetic and memory energy (low, high) for ``macs`` MACs at ``p``."""
    b = BYTES[p]
    mac, add = F.mac_energy(p), F.add_energy(p)
    arith = (macs * mac.low + l["adds"] * add.low, macs * mac.high + l["adds"] * add.high)
    wfig, wmem = _array(l["weights"] * b)
    afig, amem = _array((l["in_acts"] + l["out_acts"]) * b)
    ev = l["evaluations"]
    w_lo = l["weights"] * b * wfig.low / 8                      # once per inference
    w_hi = macs * b * wfig.high / 8                             # once per MAC
    a_lo = ev * (l["in_acts"] + l["out_acts"]) * b * afig.low / 8
    a_hi = (macs * b + ev * l["out_acts"] * b) * afig.high / 8
    if l["kind"] == "pool":                                     # every input read once, however overlapped
        a_hi = ev * (l["in_acts"] + l["out_acts"]) * b * afig.high / 8
    return {"arithmetic": {"low": arith[0], "high": arith[1]},
            # zero-skipping reads only the weights it uses: fewer than all of them when MACs < weights
            "memory": {"low": arith[0] + min(w_lo, w_hi) + a_lo, "high": arith[1] + max(w_lo, w_hi) + a_hi},
            "weight_memory": wmem, "activation_memory": amem}


def _macs(layers: list[dict], ann: dict, p: str, kind: str) -> list[float] | None:
    """Per-layer MACs per inference: dense counts, or the effective ones measured at ``p``."""
    if kind == "dense":
        return [float(l["macs"]) for l in layers]
    m = measured(ann, p)
    if m is None:
        return None
    eff = iter(m["effective_macs"])
    return [float(next(eff)) if l["kind"] in ("conv", "dense") else 0.0 for l in layers]


def ann_energy(ann: dict, label: str, where: str = "ann") -> dict:
    """Energy per inference of the ANN described by ``ann`` in every view (see the
    module doc); a view whose counts were not measured is left out and listed."""
    layers = ann_layers(ann, where)
    views, per_layer, missing = [], [dict(l, energy_pJ={}) for l in layers], []
    for p in PRECISIONS:
        for kind in MAC_COUNTS:
            macs = _macs(layers, ann, p, kind)
            if macs is None:
                missing.append(f"{p}, {kind} MACs (not measured)")
                continue
            es = [_layer_energy(l, m, p) for l, m in zip(layers, macs)]
            for acc in ACCOUNTING:
                views.append({"precision": p, "macs": kind, "accounting": acc, "label": view_label(p, kind, acc),
                              "ops": float(sum(macs)),
                              "pJ": {end: float(sum(e[acc][end] for e in es)) for end in ("low", "high")}})
            for pl, e in zip(per_layer, es):
                pl["energy_pJ"][f"{p}_{kind}"] = e
    accuracy = {p: (measured(ann, p, where) or {}).get("accuracy") for p in PRECISIONS}
    if accuracy["fp32"] is None and isinstance(ann.get("accuracy"), dict):
        accuracy["fp32"] = ann["accuracy"].get("test")    # a description that states only its float accuracy
    return {"label": label, "name": ann.get("name", label), "source": ann.get("source", ""),
            "frames": ann["frames"], "macs": int(sum(l["macs"] for l in layers)),
            "weights": int(sum(l["weights"] for l in layers)), "layers": per_layer, "views": views,
            "not_measured": missing, "accuracy": accuracy, "assumptions": ASSUMPTIONS, "source_energy": F.HOROWITZ,
            "figures": {"mac_int8": F.mac_energy("int8").to_json(), "mac_fp32": F.mac_energy("fp32").to_json(),
                        **{k: F.CONVENTIONAL[k].to_json() for k in ("sram_8kb_read64", "sram_32kb_read64",
                                                                    "sram_1mb_read64", "dram_read64")}}}


def view(energy: dict, precision: str, macs: str, accounting: str) -> dict | None:
    """The view of an :func:`ann_energy` result with these choices, or None."""
    return next((v for v in energy["views"] if (v["precision"], v["macs"], v["accounting"])
                 == (precision, macs, accounting)), None)


ASSUMPTIONS = [
    "dense MACs: every connection whose kernel tap lies inside the input (NeuroBench's Dense), from the layer "
    "shapes; effective MACs: connections with a nonzero input and a nonzero weight, measured on the stated split "
    "(NeuroBench's Effective_MACs); per-frame layers run once per frame",
    "arithmetic: int8 MAC 0.23-0.3 pJ (8-bit multiply + 8-bit add, or + 32-bit accumulate), fp32 MAC 4.6 pJ; "
    "pooling and bias additions at the add energy of the precision (45 nm, Horowitz 2014)",
    "memory-aware: each layer's weights in the smallest 45 nm SRAM array holding them (8 KB 10 pJ, 32 KB 20 pJ, "
    "1 MB 100 pJ per 64-bit read; DRAM 1.3-2.6 nJ above 1 MB), read once per inference (weight stationary, low) "
    "to once per MAC (high); activations in the smallest array holding a layer's inputs and outputs, each input "
    "read and each output written once per evaluation (low) to an input read per MAC (high); a write costs a read",
    "int8 uses 1 byte per weight and activation, fp32 4 bytes; the int8 network is the post-training quantized one "
    "whose accuracy is measured, not assumed; static power, control and off-chip input are not counted",
]
