"""SNN energy per inference on a chip profile (from measured activity counts), the
N-DNS-style operation-count proxy and the latency. Energies in pJ; every result
carries its assumptions and sources. The ANNs' energy is :mod:`spikeport.hw.ann_energy`.

SNN, per inference (sums over layers l)::

    E = synops_l x E_synop + neuron_updates_l x E_neuron + spike messages_l x E_route + T x E_step

low end: E_synop low, inactive neuron updates, one message per spike within a tile;
high end: E_synop high, active neuron updates, one message per spike to every core of
the next layer, each crossing the mesh's worst-case distance at the dearer hop energy.
Terms whose figures are unknown are left out and listed.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from spikeport.errors import SpikeportError
import spikeport.hw.figures as F
from spikeport.hw.counts import per_sample, per_step, validate_activity
from spikeport.hw.profiles import ChipProfile, load_profile

if TYPE_CHECKING:
    from spikeport.hw.mapping import Mapping


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
    _check_mapping(act, mapping)
    src, stand_in = energy_figures(profile)
    e = src.energy
    n, steps, layers = act["samples"], act["steps"], act["layers"]
    assumptions, excluded = [], []
    figs = {"synops": _lh(e["synop"]) if e["synop"].known else None,
            "neuron_updates": _neuron_figure(e, assumptions)}
    figs["routing"], dest = _routing_figure(e, mapping, len(layers), assumptions, excluded)
    for key, what in (("synops", "synaptic operations"), ("neuron_updates", "neuron updates")):
        if figs[key] is None:
            excluded.append(f"{what} (energy unknown)")
    step_e = e["timestep_overhead"]
    if not step_e.known:
        excluded.append("per-timestep overhead (energy unknown)")
    total, comp, out_layers = _layer_energies(layers, figs, dest, n, steps)
    step_part = None
    if step_e.known:
        step_part = {"low": steps * step_e.low, "high": steps * step_e.high}
        total["low"] += step_part["low"]
        total["high"] += step_part["high"]
    known_any = any(f is not None for f in figs.values()) or step_e.known
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
        "excluded": excluded, "assumptions": assumptions,
        "figures": {k: e[k].to_json() for k in USED_FIGURES},
    }


USED_FIGURES = ("synop", "neuron_update_active", "neuron_update_inactive", "spike_within_tile", "hop_east_west",
                "hop_north_south", "timestep_overhead")


def _check_mapping(act: dict, mapping: Mapping | None) -> None:
    """The activity must come from the mapped network: as many layers, as many neurons each."""
    if mapping is None:
        return
    if len(mapping.layers) != len(act["layers"]):
        raise SpikeportError(f"activity has {len(act['layers'])} layers, the network {mapping.network} has "
                             f"{len(mapping.layers)} compute layers")
    for m, l in zip(mapping.layers, act["layers"]):
        if m.topology.neurons != l["neurons"]:
            raise SpikeportError(f"activity layer {l.get('index')} has {l['neurons']} neurons, network layer "
                                 f"{m.topology.name} has {m.topology.neurons}")


def _neuron_figure(e: dict, assumptions: list[str]) -> tuple[float, float] | None:
    """(low, high) pJ per neuron update: all inactive to all active where both are known."""
    na, ni = e["neuron_update_active"], e["neuron_update_inactive"]
    if na.known and ni.known:
        assumptions.append("neuron updates: all inactive (low) to all active (high); the counts do not say "
                           "which updates were active")
        return ni.low, na.high
    if na.known or ni.known:
        f = na if na.known else ni
        return f.low, f.high
    return None


def _routing_figure(e: dict, mapping: Mapping | None, n_layers: int, assumptions: list[str],
                    excluded: list[str]) -> tuple[tuple[float, float] | None, list[int]]:
    """(low, high) pJ per spike message and, per layer, the messages one spike sends at
    the high end (the next layer's cores; 1 without a mapping)."""
    tile = e["spike_within_tile"]
    hops = [f for f in (e["hop_east_west"], e["hop_north_south"]) if f.known]
    if mapping is not None:
        side = math.ceil(math.sqrt(max(mapping.cores, 1)))
        worst_hops = 2 * (side - 1)
        dest = [mapping.layers[i + 1].cores if i + 1 < len(mapping.layers) else 1 for i in range(n_layers)]
        assumptions.append(f"spike routing high end: one message per spike to each of the next layer's cores, "
                           f"each crossing {worst_hops} hops (worst case for {mapping.cores} cores in a square "
                           f"mesh, one core per node) at the dearer hop energy")
    else:
        worst_hops, dest = 0, [1] * n_layers
        assumptions.append("spike routing: one message per spike, no hops (no mapping given)")
    assumptions.append("spike routing low end: one message per spike within a tile, no hops")
    if not tile.known:
        excluded.append("spike routing (energy unknown)")
        return None, dest
    if worst_hops and not hops:
        excluded.append("router hops (energy unknown)")
    return (tile.low, tile.high + worst_hops * max((f.high for f in hops), default=0.0)), dest


def _layer_energies(layers: list[dict], figs: dict, dest: list[int], n: int, steps: int
                    ) -> tuple[dict, dict, list[dict]]:
    """Per-sample low/high totals ``(n,)`` pJ, per-component totals and per-layer rows."""
    total = {"low": np.zeros(n), "high": np.zeros(n)}
    comp = {k: {"low": np.zeros(n), "high": np.zeros(n)} for k in ("synops", "neuron_updates", "routing")}
    rows = []
    for i, l in enumerate(layers):
        counts = {"synops": per_sample(l, "synops"), "neuron_updates": per_sample(l, "neuron_updates"),
                  "routing": per_sample(l, "spikes")}
        le = {"low": np.zeros(n), "high": np.zeros(n)}
        for key, fig in figs.items():
            if fig is None:
                continue
            part = {"low": counts[key] * fig[0], "high": counts[key] * (dest[i] if key == "routing" else 1) * fig[1]}
            for end in ("low", "high"):
                comp[key][end] += part[end]
                le[end] += part[end]
        for end in ("low", "high"):
            total[end] += le[end]
        spk = counts["routing"]
        rows.append({
            "index": i, "name": l.get("name", f"layer{i}"), "kind": l.get("kind"), "neurons": l["neurons"],
            "synapses": l["synapses"],
            "counts_mean": {c: float(per_sample(l, c).mean()) for c in ("synops", "spikes", "neuron_updates")},
            "firing_rate": float(spk.mean() / (l["neurons"] * steps)) if l["neurons"] else 0.0,
            "energy_pJ": {"low": float(le["low"].mean()), "high": float(le["high"].mean())},
        })
    return total, comp, rows


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
