"""Energy per inference: the SNN on a chip profile (from measured activity counts), the
N-DNS-style operation-count proxy, and the ANN (exact MACs, arithmetic-only and
memory-aware). Energies in pJ; every result carries its assumptions and sources.

SNN, per inference (sums over layers l)::

    E = synops_l x E_synop + neuron_updates_l x E_neuron + spike messages_l x E_route + T x E_step

low end: E_synop low, inactive neuron updates, one message per spike within a tile;
high end: E_synop high, active neuron updates, one message per spike to every core of
the next layer, each crossing the mesh's worst-case distance at the dearer hop energy.
Terms whose figures are unknown are left out and listed.

ANN: MACs of a conv layer = out_C·out_H·out_W·(in_C/groups)·kh·kw, of a dense layer
in·out, times the frames for per-frame layers. Arithmetic-only: MACs x E_MAC.
Memory-aware adds SRAM (or DRAM) reads of weights and activations, see :func:`ann_energy`.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from spikeport.errors import SpikeportError
from spikeport.hw import figures as F
from spikeport.hw.activity import per_sample, per_step, validate_activity
from spikeport.hw.mapping import Mapping
from spikeport.hw.profiles import ChipProfile, load_profile

BYTES = {"int8": 1, "fp32": 4}


def _stats(a: np.ndarray) -> dict:
    a = np.asarray(a, dtype=np.float64)
    return {"mean": float(a.mean()), "std": float(a.std()), "min": float(a.min()), "max": float(a.max())}


def energy_figures(profile: ChipProfile) -> tuple[ChipProfile, bool]:
    """The profile whose energies to use: ``profile`` itself when its synop and neuron
    energies are known, else its declared stand-in (second value True)."""
    if profile.energy_known:
        return profile, False
    if profile.energy_stand_in:
        return load_profile(profile.energy_stand_in), True
    return profile, False


def _lh(f: F.Figure) -> tuple[float, float]:
    return f.low, f.high


def snn_energy(activity: dict, profile: ChipProfile, mapping: Mapping | None = None) -> dict:
    """SNN dynamic energy per inference (pJ) from Contract-1 ``activity``.

    With ``mapping`` (the same network on ``profile``), spike routing counts the
    next layer's cores and the mesh distance; without it one message per spike, no
    hops. Where ``profile`` has no published energies (Loihi 2) its stand-in's
    figures are used and the result says so. Returns a JSON-ready dict; its
    ``per_inference_pJ`` is None when no energy figure is known at all.
    """
    act = validate_activity(activity)
    if mapping is not None and len(mapping.layers) != len(act["layers"]):
        raise SpikeportError(f"activity has {len(act['layers'])} layers, the network {mapping.network} has "
                             f"{len(mapping.layers)} compute layers")
    if mapping is not None:
        for m, l in zip(mapping.layers, act["layers"]):
            if m.topology.neurons != l["neurons"]:
                raise SpikeportError(f"activity layer {l.get('index')} has {l['neurons']} neurons, network layer "
                                     f"{m.topology.name} has {m.topology.neurons}")
    src, stand_in = energy_figures(profile)
    e = src.energy
    n, steps = act["samples"], act["steps"]
    layers = act["layers"]
    assumptions, excluded = [], []

    syn_e = _lh(e["synop"]) if e["synop"].known else None
    na, ni = e["neuron_update_active"], e["neuron_update_inactive"]
    if na.known and ni.known:
        neu_e = (ni.low, na.high)
        assumptions.append("neuron updates: all inactive (low) to all active (high); the counts do not say "
                           "which updates were active")
    elif na.known or ni.known:
        f = na if na.known else ni
        neu_e = (f.low, f.high)
    else:
        neu_e = None
    tile = e["spike_within_tile"]
    hops = [f for f in (e["hop_east_west"], e["hop_north_south"]) if f.known]
    if mapping is not None:
        side = math.ceil(math.sqrt(max(mapping.cores, 1)))
        worst_hops = 2 * (side - 1)
        dest = [mapping.layers[i + 1].cores if i + 1 < len(mapping.layers) else 1 for i in range(len(layers))]
        assumptions.append(f"spike routing high end: one message per spike to each of the next layer's cores, "
                           f"each crossing {worst_hops} hops (worst case for {mapping.cores} cores in a square "
                           f"mesh, one core per node) at the dearer hop energy")
    else:
        worst_hops, dest = 0, [1] * len(layers)
        assumptions.append("spike routing: one message per spike, no hops (no mapping given)")
    assumptions.append("spike routing low end: one message per spike within a tile, no hops")
    route_e = None
    if tile.known:
        hop_hi = max((f.high for f in hops), default=0.0)
        if worst_hops and not hops:
            excluded.append("router hops (energy unknown)")
        route_e = (tile.low, tile.high + worst_hops * hop_hi)
    else:
        excluded.append("spike routing (energy unknown)")
    if syn_e is None:
        excluded.append("synaptic operations (energy unknown)")
    if neu_e is None:
        excluded.append("neuron updates (energy unknown)")
    step_e = e["timestep_overhead"]
    if not step_e.known:
        excluded.append("per-timestep overhead (energy unknown)")

    total = {"low": np.zeros(n), "high": np.zeros(n)}
    comp = {k: {"low": np.zeros(n), "high": np.zeros(n)} for k in ("synops", "neuron_updates", "routing")}
    out_layers = []
    for i, l in enumerate(layers):
        syn, upd, spk = per_sample(l, "synops"), per_sample(l, "neuron_updates"), per_sample(l, "spikes")
        le = {"low": np.zeros(n), "high": np.zeros(n)}
        for key, count, fig, mult_hi in (("synops", syn, syn_e, 1), ("neuron_updates", upd, neu_e, 1),
                                         ("routing", spk, route_e, dest[i])):
            if fig is None:
                continue
            lo, hi = count * fig[0], count * mult_hi * fig[1]
            comp[key]["low"] += lo
            comp[key]["high"] += hi
            le["low"] += lo
            le["high"] += hi
        total["low"] += le["low"]
        total["high"] += le["high"]
        out_layers.append({
            "index": i, "name": l.get("name", f"layer{i}"), "kind": l.get("kind"), "neurons": l["neurons"],
            "synapses": l["synapses"],
            "counts_mean": {c: float(per_sample(l, c).mean()) for c in ("synops", "spikes", "neuron_updates")},
            "firing_rate": float(spk.mean() / (l["neurons"] * steps)) if l["neurons"] else 0.0,
            "energy_pJ": {"low": float(le["low"].mean()), "high": float(le["high"].mean())},
        })
    step_part = None
    if step_e.known:
        step_part = {"low": steps * step_e.low, "high": steps * step_e.high}
        total["low"] += step_part["low"]
        total["high"] += step_part["high"]

    known_any = any(x is not None for x in (syn_e, neu_e, route_e)) or step_e.known
    used = {k: e[k].to_json() for k in ("synop", "neuron_update_active", "neuron_update_inactive",
                                        "spike_within_tile", "hop_east_west", "hop_north_south",
                                        "timestep_overhead")}
    if stand_in:
        assumptions.insert(0, f"{profile.name} per-operation energies are unpublished: {src.name}'s measured "
                              f"figures stand in for them (an assumption)")
    assumptions.append("dynamic energy only: static (leakage) power and off-chip input/output are not included")
    return {
        "chip": profile.name, "figures_from": src.name, "stand_in": stand_in,
        "samples": n, "steps": steps,
        "per_inference_pJ": ({"low": _stats(total["low"]), "high": _stats(total["high"])} if known_any else None),
        "components_pJ": {k: {"low": float(v["low"].mean()), "high": float(v["high"].mean())}
                          for k, v in comp.items()} | {"timestep_overhead": step_part},
        "layers": out_layers,
        "counts_mean": {c: float(sum(per_sample(l, c) for l in layers).mean())
                        for c in ("synops", "spikes", "neuron_updates")},
        "excluded": excluded, "assumptions": assumptions, "figures": used,
    }


def ops_proxy(activity: dict, step_seconds: float | None = None) -> dict:
    """The Intel N-DNS Challenge's operation-count proxy (how Loihi 2 solutions are
    scored without joules): synaptic + neuron operations, per inference and per step;
    with ``step_seconds`` (the input's real time per timestep) the power proxy in
    ops/s and the power-delay-product proxy (ops/s x latency, latency = T x step)."""
    act = validate_activity(activity)
    n, steps = act["samples"], act["steps"]
    syn = sum(per_sample(l, "synops") for l in act["layers"])
    neu = sum(per_sample(l, "neuron_updates") for l in act["layers"])
    ops = syn + neu
    out = {"source": F.NDNS, "samples": n, "steps": steps,
           "synops_per_inference": _stats(syn), "neuron_ops_per_inference": _stats(neu),
           "ops_per_inference": _stats(ops), "ops_per_step": float(ops.mean() / steps),
           "step_seconds": step_seconds, "power_proxy_ops_per_s": None, "pdp_proxy_ops": None,
           "note": "ops = synaptic ops + neuron updates, unweighted, as the N-DNS metricsboard's power proxy "
                   "(M-Ops/s); PDP proxy = power proxy x latency (metricsboard rows: 11.59 M-Ops/s x 8.036 ms "
                   "= 0.09 M-Ops)"}
    if step_seconds:
        rate = float(ops.mean() / (steps * step_seconds))
        out["power_proxy_ops_per_s"] = rate
        out["pdp_proxy_ops"] = rate * steps * step_seconds
    return out


def latency(activity: dict, profile: ChipProfile, mapping: Mapping | None = None) -> dict:
    """Latency per inference = timesteps x time per step (ns). The profile's time per
    step when known; else a lower bound from the synaptic ops of the busiest core
    (each layer's synops of a step spread evenly over its cores, at the time per synop)."""
    act = validate_activity(activity)
    steps, n = act["steps"], act["samples"]
    step_t = profile.time["timestep"]
    out = {"steps": steps, "time_per_step_ns": step_t.to_json(), "per_inference_ns": None, "kind": None,
           "figures_from": profile.name, "note": ""}
    if step_t.known:
        out.update(per_inference_ns={"low": steps * step_t.low, "high": steps * step_t.high}, kind="profile")
        return out
    src, stand_in = (profile, False) if profile.time["synop"].known else energy_figures(profile)
    syn_t = src.time["synop"]
    if not syn_t.known:
        out["note"] = "time per step unknown for this chip"
        return out
    cores = [m.cores for m in mapping.layers] if mapping is not None else [1] * len(act["layers"])
    busiest = np.max([per_step(l, "synops") / n / c for l, c in zip(act["layers"], cores)], axis=0)
    bound = float(busiest.sum() * syn_t.high)
    out.update(per_inference_ns={"low": bound, "high": None}, kind="lower_bound", figures_from=src.name,
               note=(f"lower bound: per step, the busiest core's synaptic ops at {syn_t.high:g} ns each "
                     f"({src.name}{' stand-in' if stand_in else ''}); neuron updates, spike routing and barrier "
                     f"synchronisation are not counted (their times are unknown)"))
    return out


# ---------------------------------------------------------------- ANN ----------

def _ints(layer: dict, key: str, n: int | None, where: str) -> list[int]:
    v = layer.get(key)
    if isinstance(v, int) and not isinstance(v, bool) and n is not None:
        v = [v] * n
    if (not isinstance(v, list) or (n is not None and len(v) != n)
            or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in v)):
        raise SpikeportError(f"{where}: '{key}' must be a list of {n or 'some'} non-negative integers")
    return v


def ann_layers(ann: dict, where: str = "ann") -> list[dict]:
    """Validate a Contract-2 description and count each layer: ``macs`` (per
    inference), ``weights``, ``in_acts``/``out_acts`` (per evaluation), ``evaluations``
    (frames for per-frame layers, else 1). Layers of kinds other than conv/dense are
    counted as 0 MACs and noted."""
    if not isinstance(ann, dict):
        raise SpikeportError(f"{where}: not a JSON object")
    if ann.get("format") != "spikeport-ann/1":
        raise SpikeportError(f"{where}: format is {ann.get('format')!r}, expected 'spikeport-ann/1'")
    frames = ann.get("frames")
    if not isinstance(frames, int) or isinstance(frames, bool) or frames < 1:
        raise SpikeportError(f"{where}: 'frames' must be a positive integer")
    layers = ann.get("layers")
    if not isinstance(layers, list) or not layers:
        raise SpikeportError(f"{where}: 'layers' must be a non-empty list")
    out = []
    for i, l in enumerate(layers):
        if not isinstance(l, dict):
            raise SpikeportError(f"{where}: layers[{i}] is not an object")
        name = str(l.get("name", f"layer{i}"))
        lw = f"{where}: layer '{name}'"
        kind = l.get("kind")
        per_frame = l.get("per_frame", True)
        if not isinstance(per_frame, bool):
            raise SpikeportError(f"{lw}: 'per_frame' must be true or false")
        ev = frames if per_frame else 1
        if kind == "conv":
            cin, *ins = _ints(l, "in_shape", None, lw)
            cout, *outs = _ints(l, "out_shape", None, lw)
            k = _ints(l, "kernel", len(outs), lw)
            groups = l.get("groups", 1)
            if not isinstance(groups, int) or groups < 1 or cin % groups or cout % groups:
                raise SpikeportError(f"{lw}: 'groups' {groups!r} does not divide the channels {cin} -> {cout}")
            per_eval = cout * int(np.prod(outs)) * (cin // groups) * int(np.prod(k))
            weights = cout * (cin // groups) * int(np.prod(k))
            in_acts, out_acts = cin * int(np.prod(ins)), cout * int(np.prod(outs))
        elif kind == "dense":
            fin = _ints(l, "in_features", 1, lw)[0]
            fout = _ints(l, "out_features", 1, lw)[0]
            per_eval = weights = fin * fout
            in_acts, out_acts = fin, fout
        elif isinstance(kind, str):
            out.append({"name": name, "kind": kind, "macs": 0, "macs_per_evaluation": 0, "weights": 0,
                        "in_acts": 0, "out_acts": 0, "evaluations": ev,
                        "note": f"kind '{kind}': no MAC formula in the contract, counted as 0 MACs"})
            continue
        else:
            raise SpikeportError(f"{lw}: missing 'kind'")
        out.append({"name": name, "kind": kind, "macs": per_eval * ev, "macs_per_evaluation": per_eval,
                    "weights": weights, "in_acts": in_acts, "out_acts": out_acts, "evaluations": ev, "note": ""})
    return out


def _array_energy(nbytes: int) -> tuple[F.Figure, str]:
    """Per-64-bit access energy of the smallest Horowitz SRAM array holding ``nbytes``
    (DRAM beyond 1 MB) and its label."""
    for cap, key in F.SRAM_ARRAYS:
        if nbytes <= cap:
            return F.CONVENTIONAL[key], key.replace("_read64", "")
    return F.CONVENTIONAL["dram_read64"], "dram"


def ann_energy(ann: dict, where: str = "ann") -> dict:
    """ANN energy per inference (pJ) of a Contract-2 description, for int8 and fp32.

    ``arithmetic``: MACs x E_MAC only. ``sram`` (memory-aware, weights on chip): each
    layer's weights in the smallest 45 nm SRAM array that holds them (8 KB / 32 KB /
    1 MB; DRAM above), its activations likewise; low end = every weight and input
    activation read once and every output written once per evaluation (full reuse),
    high end = a weight and an input activation read per MAC (no reuse). ``dram_weights``:
    weights fetched from DRAM once per evaluation (activations as in ``sram``). Writes
    cost as much as reads (Horowitz gives reads only); biases are not counted.
    """
    layers = ann_layers(ann, where)
    result_layers = []
    totals = {p: {k: {"low": 0.0, "high": 0.0} for k in ("arithmetic", "sram", "dram_weights")} for p in BYTES}
    dram = F.CONVENTIONAL["dram_read64"]
    for l in layers:
        per = {}
        for p, b in BYTES.items():
            mac = F.mac_energy(p)
            ar = (l["macs"] * mac.low, l["macs"] * mac.high)
            wfig, wmem = _array_energy(l["weights"] * b)
            afig, amem = _array_energy((l["in_acts"] + l["out_acts"]) * b)
            ev = l["evaluations"]
            acts_reuse = ev * (l["in_acts"] + l["out_acts"]) * b * afig.low / 8
            acts_noreuse = (l["macs"] * b + ev * l["out_acts"] * b) * afig.high / 8
            w_reuse = ev * l["weights"] * b * wfig.low / 8
            w_noreuse = l["macs"] * b * wfig.high / 8
            w_dram = (ev * l["weights"] * b * dram.low / 8, ev * l["weights"] * b * dram.high / 8)
            per[p] = {
                "arithmetic": {"low": ar[0], "high": ar[1]},
                "sram": {"low": ar[0] + w_reuse + acts_reuse, "high": ar[1] + w_noreuse + acts_noreuse},
                "dram_weights": {"low": ar[0] + w_dram[0] + acts_reuse, "high": ar[1] + w_dram[1] + acts_noreuse},
                "weight_memory": wmem, "activation_memory": amem,
            }
            for k in ("arithmetic", "sram", "dram_weights"):
                for end in ("low", "high"):
                    totals[p][k][end] += per[p][k][end]
        result_layers.append({**l, "energy_pJ": per})
    return {
        "frames": ann["frames"], "macs": int(sum(l["macs"] for l in layers)),
        "weights": int(sum(l["weights"] for l in layers)), "layers": result_layers, "total_pJ": totals,
        "accuracy": ann.get("accuracy"),
        "figures": {"mac_int8": F.mac_energy("int8").to_json(), "mac_fp32": F.mac_energy("fp32").to_json(),
                    **{k: F.CONVENTIONAL[k].to_json() for k in ("sram_8kb_read64", "sram_32kb_read64",
                                                                "sram_1mb_read64", "dram_read64")}},
        "assumptions": [
            "MACs exact from the layer shapes (conv: out_C*out_H*out_W*in_C/groups*kh*kw; dense: in*out), "
            "times the frames for per-frame layers; biases and activation functions not counted",
            "arithmetic-only: int8 MAC 0.23-0.3 pJ (8-bit multiply + 8- or 32-bit add), fp32 MAC 4.6 pJ "
            "(45 nm, Horowitz 2014)",
            "memory-aware 'sram': weights and activations of each layer in the smallest 45 nm SRAM array that "
            "holds them (8 KB 10 pJ / 32 KB 20 pJ / 1 MB 100 pJ per 64-bit read, DRAM above 1 MB); low = each "
            "weight/input read once and each output written once per evaluation, high = a weight and an input "
            "read per MAC; a write costs as much as a read",
            "memory-aware 'dram_weights': weights read from DRAM (1.3-2.6 nJ per 64 bits) once per evaluation",
            "int8 uses 1 byte per weight/activation, fp32 4 bytes",
        ],
        "source": F.HOROWITZ,
    }


def topology_ann(mapping: Mapping, steps: int) -> dict:
    """The SNN's topology as a dense ANN (Contract 2) run once per timestep: every
    synapse's full weight tensor (zeros included) as a dense or conv layer, ``frames``
    = ``steps``. Input layers (no synapse) have no MACs and are left out; axonal
    delays are ignored."""
    layers = []
    for m in mapping.layers:
        t = m.topology
        if t.kind in ("dense", "delay_dense"):
            layers.append({"name": t.name, "kind": "dense", "in_features": t.in_neurons, "out_features": t.neurons,
                           "bias": False, "per_frame": True})
        elif t.kind == "conv":
            c = t.conv
            layers.append({"name": t.name, "kind": "conv", "in_shape": list(t.in_shape), "out_shape": list(t.shape),
                           "kernel": c["kernel"], "stride": c["stride"], "padding": c["padding"],
                           "dilation": c["dilation"], "groups": c["groups"], "bias": False, "per_frame": True})
    if not layers:
        raise SpikeportError(f"{mapping.network}: no synapse layers to run as an ANN")
    return {"format": "spikeport-ann/1", "frames": int(steps), "layers": layers}


def ratio(ann_pJ: dict, snn: dict) -> dict | None:
    """ANN/SNN energy ratio range: low = ANN low / SNN high, high = ANN high / SNN low
    (mean energies per inference); > 1 means the SNN uses less energy."""
    s = snn.get("per_inference_pJ")
    if not s or s["low"]["mean"] <= 0 or s["high"]["mean"] <= 0:
        return None
    return {"low": ann_pJ["low"] / s["high"]["mean"], "high": ann_pJ["high"] / s["low"]["mean"]}


def comparison(snn: dict, anns: dict[str, dict]) -> list[dict]:
    """Every ANN (``anns``: label -> :func:`ann_energy` result) x precision x
    accounting against the SNN: rows with the ANN range and the ratio range."""
    rows = []
    for label, a in anns.items():
        for p in BYTES:
            for acc in ("arithmetic", "sram", "dram_weights"):
                e = a["total_pJ"][p][acc]
                rows.append({"ann": label, "precision": p, "accounting": acc, "ann_pJ": dict(e),
                             "ratio": ratio(e, snn)})
    return rows


def headline(snn: dict, ann: dict, ann_label: str) -> dict[str, Any]:
    """The report's headline: ANN (``ann_label``, int8, memory-aware 'sram') over SNN."""
    e = ann["total_pJ"]["int8"]["sram"]
    r = ratio(e, snn)
    chip = snn["chip"] + (f" ({snn['figures_from']} figures as a stand-in)" if snn["stand_in"] else "")
    if r is None:
        text = f"ANN/SNN energy ratio: unknown (no energy figures for {snn['chip']})"
    else:
        text = (f"ANN/SNN energy per inference: {r['low']:.3g}x to {r['high']:.3g}x "
                f"({ann_label}, int8, weights and activations in on-chip SRAM, vs. the SNN on {chip}; "
                f"above 1 the SNN uses less energy)")
    return {"ratio": r, "ann": ann_label, "precision": "int8", "accounting": "sram", "ann_pJ": dict(e),
            "snn_pJ": (None if snn["per_inference_pJ"] is None else
                       {"low": snn["per_inference_pJ"]["low"]["mean"], "high": snn["per_inference_pJ"]["high"]["mean"]}),
            "text": text}
