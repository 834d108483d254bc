"""NeuroBench's metrics for the deployed SNN and for the ANNs, under NeuroBench's names
and definitions (Yik et al., "The neurobench framework for benchmarking neuromorphic
computing algorithms and systems", Nature Communications 2025; package neurobench 2.3).

The SNN's figures come from the exported netx file and the fixed-point simulation
(what the chip runs), the ANNs' from their ``spikeport-ann/1`` descriptions and what
was measured on them (:mod:`spikeport.train.ann_measure`). Per inference, as
NeuroBench normalises its workload metrics:

* ``Footprint``: bytes of every parameter and buffer at its storage dtype, as
  NeuroBench counts the trained PyTorch model: float32 parameters, plus (SNN) the two
  float32 state buffers SLAYER keeps per CUBA neuron for one sample;
* ``ParameterCount``: parameter elements (SNN: stored weights, a convolution kernel
  counted once, delays, biases, and the current and voltage decays of every neuron
  layer, as SLAYER holds them);
* ``ConnectionSparsity``: zero weights / all weights of the synapse layers (NeuroBench
  rounds it to 4 decimals; spikeport gives it unrounded);
* ``ActivationSparsity``: 1 - nonzero activations / all activations, over every
  spiking layer's events at every step (ANN: every ReLU output);
* ``SynapticOperations``: ``Effective_ACs`` (events with values in {-1, 0, 1} times
  their nonzero fan-out), ``Effective_MACs`` (graded inputs likewise), ``Dense``
  (every in-bounds connection at every step);
* ``MembraneUpdates``: neurons whose membrane changed in a step, all of them at step
  0 (ANN: 0, as NeuroBench counts for networks without spiking neurons);
* ``ClassificationAccuracy``.

Where the chip's natural figure differs, it is given beside under another name in
``chip`` with the reason in ``notes``.
"""
from __future__ import annotations

import math
import os

from spikeport.hw.counts import per_sample, validate_activity
from spikeport.hw.ann_description import ann_layers, measured
from spikeport.hw.topology import compute_layers, read_topology

SOURCE = ("Yik et al., 'The neurobench framework for benchmarking neuromorphic computing algorithms and systems', "
          "Nature Communications 2025; definitions of the neurobench 2.3 package")
FLOAT32 = 4
STATE_BUFFERS = {"CUBA": 2, "LOIHI": 2}        # SLAYER's current_state and voltage_state per neuron
NAMES = ("Footprint", "ParameterCount", "ConnectionSparsity", "ActivationSparsity", "SynapticOperations",
         "MembraneUpdates", "ClassificationAccuracy")

SNN_NOTES = {
    "Footprint": "NeuroBench counts the trained float32 model (parameters + SLAYER's state buffers for one sample); "
                 "the chip stores integers: chip.Footprint_fixed_point_bytes counts the exported weights at their "
                 "weight bits and the delays at their delay bits (neuron constants and routing tables excluded)",
    "MembraneUpdates": "counted in the fixed-point simulation (a CUBA neuron's voltage after its reset); the chip "
                       "updates every compartment at every step: chip.NeuronUpdates",
    "SynapticOperations": "from the fixed-point simulation's events and each source neuron's nonzero fan-out; "
                          "Effective_ACs are the chip's synaptic operations",
}


def _stats_of(layers) -> dict:
    """Summed stored-tensor counts of the compute layers of a network."""
    keys = ("weights", "zero_weights", "delays", "biases", "decays", "input_params")
    tot = {k: sum(int(l.params.get(k, 0)) for l in layers) for k in keys}
    tot["weight_bytes_fixed"] = sum(math.ceil((l.params.get("weights", 0) * max(l.weight_bits, 1)
                                               + l.params.get("delays", 0) * l.delay_bits) / 8) for l in layers)
    return tot


def snn_metrics(net_path: str | os.PathLike, activity: dict, accuracy: float | None = None) -> dict:
    """NeuroBench's metrics of the netx network at ``net_path`` from its measured
    ``activity`` (Contract 1; membrane updates when the backend recorded them) and
    its ``accuracy`` on the same inputs (None: unknown)."""
    act = validate_activity(activity)
    layers = compute_layers(read_topology(net_path))
    n, steps = act["samples"], act["steps"]
    tot = _stats_of(layers)
    params = tot["weights"] + tot["delays"] + tot["biases"] + tot["decays"] + tot["input_params"]
    states = [STATE_BUFFERS.get(l.neuron_type) for l in layers]
    footprint = None if None in states else FLOAT32 * (params + sum(s * l.neurons for s, l in zip(states, layers)))
    events = sum(float(per_sample(l, "spikes").sum()) for l in act["layers"])
    slots = n * steps * sum(l["neurons"] for l in act["layers"])
    eff = {"Effective_MACs": 0.0, "Effective_ACs": 0.0}
    for l in act["layers"]:
        eff["Effective_MACs" if l.get("graded_input") else "Effective_ACs"] += float(per_sample(l, "synops").mean())
    membrane = None
    if all("membrane_updates" in l for l in act["layers"]):
        membrane = float(sum(per_sample(l, "membrane_updates") for l in act["layers"]).mean())
    return {
        "Footprint": footprint, "ParameterCount": params,
        "ConnectionSparsity": tot["zero_weights"] / tot["weights"] if tot["weights"] else None,
        "ActivationSparsity": 1.0 - events / slots if slots else None,
        "SynapticOperations": {**eff, "Dense": float(steps * sum(l.connections for l in layers))},
        "MembraneUpdates": membrane, "ClassificationAccuracy": accuracy,
        "chip": {"Footprint_fixed_point_bytes": tot["weight_bytes_fixed"],
                 "NeuronUpdates": float(steps * sum(l.neurons for l in layers)),
                 "SynapticOperations": eff["Effective_ACs"] + eff["Effective_MACs"]},
        "samples": n, "steps": steps, "notes": SNN_NOTES, "source": SOURCE,
    }


def ann_metrics(ann: dict, precision: str, where: str = "ann") -> dict | None:
    """NeuroBench's metrics of the ANN ``ann`` at ``precision`` (``fp32`` or ``int8``)
    from its measured figures; None when that precision was not measured."""
    m = measured(ann, precision, where)
    if m is None:
        return None
    layers = ann_layers(ann, where)
    weights = sum(l["weights"] for l in layers)
    params = weights + sum(l["biases"] for l in layers)
    int8_bytes = sum(l["weights"] for l in layers) + 4 * sum(l["biases"] for l in layers)
    return {
        "Footprint": FLOAT32 * params, "ParameterCount": params,
        "ConnectionSparsity": sum(m["zero_weights"]) / weights if weights else None,
        "ActivationSparsity": (1.0 - m["activations_nonzero"] / m["activations_total"]
                               if m["activations_total"] else None),
        "SynapticOperations": {"Effective_MACs": float(sum(m["effective_macs"])),
                               "Effective_ACs": float(sum(m["effective_acs"])), "Dense": float(sum(m["dense"]))},
        "MembraneUpdates": 0.0, "ClassificationAccuracy": float(m["accuracy"]),
        "chip": {"Footprint_int8_bytes": int8_bytes} if precision == "int8" else {},
        "samples": int(m["clips"]), "source": SOURCE,
        "notes": {"Footprint": "float32 parameters, as NeuroBench counts the PyTorch model; int8 deployment: "
                               "chip.Footprint_int8_bytes (1-byte weights, 4-byte biases; scales not counted)",
                  "MembraneUpdates": "no membrane: NeuroBench gives 0 for networks without spiking neurons"},
    }


def table(systems: dict[str, dict | None]) -> list[dict]:
    """Rows in NeuroBench's layout: one per system, its metrics flattened
    (``SynapticOperations_Dense`` ...); None entries are skipped."""
    rows = []
    for name, m in systems.items():
        if m is None:
            continue
        row = {"system": name}
        for k in NAMES:
            v = m.get(k)
            if isinstance(v, dict):
                row.update({f"{k}_{s}": v[s] for s in ("Effective_MACs", "Effective_ACs", "Dense")})
            else:
                row[k] = v
        rows.append(row)
    return rows

