"""The report's PNG plots (matplotlib, Agg backend). Each function writes one PNG
atomically and returns its path. Energies in pJ."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from spikeport.atomic import atomic_path

RASTER_MAX_NEURONS = 256


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike) -> Path:
    plt = _plt()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


def _range_bars(ax, x, lows, highs, width, label, color):
    lows, highs = np.asarray(lows, float), np.asarray(highs, float)
    mid = np.sqrt(np.maximum(lows, 1e-30) * np.maximum(highs, 1e-30))
    mid[(lows <= 0) & (highs <= 0)] = np.nan
    err = np.vstack([mid - lows, highs - mid])
    ax.bar(x, mid, width, label=label, color=color, yerr=err, capsize=3, error_kw={"elinewidth": 1})


def energy_per_layer(path: str | os.PathLike, snn: dict, topo_ann: dict | None, topo_names: list[str],
                     anns: list[dict] | None = None) -> Path:
    """Bars (geometric middle, whiskers = low..high) of each SNN layer's energy per
    inference next to the same layer run as a dense int8 ANN (memory-aware); a panel
    per ANN with its layers' int8 energy (dense and, when measured, effective MACs)."""
    plt = _plt()
    anns = list(anns or [])
    fig, axes = plt.subplots(1, 1 + len(anns), figsize=(6.5 * (1 + len(anns)), 4.2), squeeze=False)
    ax = axes[0][0]
    labels = [f"{l['name']}" for l in snn["layers"]]
    x = np.arange(len(labels))
    _range_bars(ax, x - 0.2, [l["energy_pJ"]["low"] for l in snn["layers"]],
                [l["energy_pJ"]["high"] for l in snn["layers"]], 0.4,
                f"SNN on {snn['chip']}" + (" (stand-in figures)" if snn["stand_in"] else ""), "tab:blue")
    if topo_ann is not None:
        by_name = {l["name"]: l["energy_pJ"]["int8_dense"]["memory"] for l in topo_ann["layers"]}
        lo = [by_name.get(n, {"low": 0})["low"] for n in topo_names]
        hi = [by_name.get(n, {"high": 0})["high"] for n in topo_names]
        _range_bars(ax, x + 0.2, lo, hi, 0.4, "same topology as dense ANN (int8, memory-aware)", "tab:orange")
    ax.set_xticks(x, labels, rotation=30, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("energy per inference (pJ)")
    ax.set_title("Energy per layer: SNN vs. its topology as an ANN")
    ax.legend(fontsize=8)
    for ax, a in zip(axes[0][1:], anns):
        layers = [l for l in a["layers"] if l["kind"] != "flatten"]
        x = np.arange(len(layers))
        for off, key, color in ((-0.2, "int8_dense", "tab:green"), (0.2, "int8_effective", "tab:red")):
            if all(key in l["energy_pJ"] for l in layers):
                _range_bars(ax, x + off, [l["energy_pJ"][key]["memory"]["low"] for l in layers],
                            [l["energy_pJ"][key]["memory"]["high"] for l in layers], 0.4,
                            f"{key.replace('_', ', ')} MACs, memory-aware", color)
        ax.set_xticks(x, [l["name"] for l in layers], rotation=45, ha="right", fontsize=7)
        ax.set_yscale("log")
        ax.set_title(f"Energy per layer: {a['label']}")
        ax.legend(fontsize=8)
    return _save(fig, path)


def firing_rates(path: str | os.PathLike, snn: dict) -> Path:
    """Mean spikes per neuron per timestep of each layer."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    names = [l["name"] for l in snn["layers"]]
    rates = [l["firing_rate"] for l in snn["layers"]]
    ax.bar(np.arange(len(names)), rates, color="tab:blue")
    ax.set_xticks(np.arange(len(names)), names, rotation=30, ha="right")
    ax.set_ylabel("spikes / neuron / timestep")
    ax.set_title(f"Firing rate per layer (mean of {snn['samples']} inference{'s' if snn['samples'] != 1 else ''})")
    return _save(fig, path)


def raster(path: str | os.PathLike, spikes: list[np.ndarray], names: list[str]) -> Path:
    """One sample's spikes: a panel per layer (``spikes[i]`` shaped ``(neurons..., T)``),
    the first :data:`RASTER_MAX_NEURONS` neurons of larger layers."""
    plt = _plt()
    n = len(spikes)
    fig, axes = plt.subplots(n, 1, figsize=(7, 1.2 + 1.4 * n), sharex=True, squeeze=False)
    for ax, s, name in zip(axes[:, 0], spikes, names):
        s = np.asarray(s)
        flat = s.reshape(-1, s.shape[-1])
        total = flat.shape[0]
        shown = (flat[:RASTER_MAX_NEURONS] != 0).astype(float)
        ax.imshow(shown, aspect="auto", cmap="Greys", vmin=0, vmax=1, interpolation="nearest", origin="lower")
        ax.set_ylabel(name, fontsize=8)
        note = "" if total <= RASTER_MAX_NEURONS else f" (first {RASTER_MAX_NEURONS} of {total} neurons)"
        ax.set_title(f"{name}: {int(np.count_nonzero(flat))} spikes{note}", fontsize=8, loc="left")
    axes[-1, 0].set_xlabel("timestep")
    fig.suptitle("Spike raster of one sample", fontsize=10)
    return _save(fig, path)


def accuracy_energy(path: str | os.PathLike, points: list[dict]) -> Path:
    """Accuracy against energy per inference; ``points``: dicts with ``name``,
    ``accuracy`` (0..1), ``low`` and ``high`` (pJ); a range shows as a horizontal bar."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for i, p in enumerate(points):
        lo, hi = p["low"] / 1e6, p["high"] / 1e6                   # pJ -> µJ
        mid = float(np.sqrt(lo * hi))
        ax.errorbar([mid], [p["accuracy"]], xerr=[[mid - lo], [hi - mid]], fmt="o", capsize=4, label=p["name"],
                    color=f"C{i}")
    ax.set_xscale("log")
    ax.set_xlabel("energy per inference (µJ)")
    ax.set_ylabel("accuracy")
    ax.set_title("Accuracy against energy per inference (measured on the same split)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return _save(fig, path)
