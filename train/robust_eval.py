"""Score a finished keyword-spotting run (its quantized SNN and its ANN twin) on
another dataset in the Speech Commands layout, such as the robustness set
(:mod:`spikeport.train.robust_corpus`), fed exactly as training fed its test split:
the run's feature parameters, its training split's normalisation, its encoder.
"""
from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from spikeport.train.config import KwsConfig


def _conditions(root: Path, clips) -> list[dict | None]:
    """Each clip's recorded conditions (robustness-set manifest), None where unknown."""
    from spikeport.train.robust_corpus import MANIFEST

    try:
        recorded = json.loads((root / MANIFEST).read_text())["clips"]
    except (OSError, ValueError, KeyError):
        recorded = {}
    return [recorded.get(f"{Path(c.path).parent.name}/{Path(c.path).name}") if c.offset == 0 else None
            for c in clips]


def breakdown(correct: np.ndarray, conditions: list[dict | None]) -> dict[str, dict[str, float]]:
    """Accuracy per value of each recorded condition: ``{"noise": {"babble": 0.8, ...},
    "eq": {...}, "reverb": {"yes": .., "no": ..}}`` (clips without conditions left out)."""
    groups: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for ok, cond in zip(correct, conditions):
        if cond is None:
            continue
        clean = cond["rt60"] is None and cond["eq"] is None and cond["noise"] == "corpus"
        groups["acoustics"]["speaker only" if clean else "held-out acoustics"].append(bool(ok))
        groups["noise"][cond["noise"]].append(bool(ok))
        groups["eq"][cond["eq"] or "none"].append(bool(ok))
        groups["reverb"]["yes" if cond["rt60"] is not None else "no"].append(bool(ok))
        groups["voice"][cond["voice"]].append(bool(ok))
    return {k: {v: float(np.mean(x)) for v, x in sorted(g.items())} for k, g in groups.items()}


def load_run(run_dir: str | os.PathLike) -> tuple[KwsConfig, object, dict, object]:
    """``(config, quantized SNN, its metadata, ANN twin)`` of a finished run folder."""
    from spikeport.train.baselines import load_twin
    from spikeport.train.kws import load_snn
    from spikeport.train.run_folder import CONFIG, read_json

    run = Path(run_dir)
    cfg = KwsConfig.from_json(read_json(run / CONFIG, "run configuration"), str(run / CONFIG))
    net, meta = load_snn(run / "model.pt")
    return cfg, net, meta, load_twin(run / "ann.pt")


def score(loaded: tuple, feats: np.ndarray, labels: np.ndarray, progress: bool = False, desc: str = "SNN") -> dict:
    """Predictions and accuracies of a :func:`load_run` result on unnormalised features
    ``(clips, 3, bands, frames)``: ``{"snn_accuracy", "snn_firing_mean", "ann_accuracy",
    "snn_predictions", "ann_predictions"}``."""
    from spikeport.train.baselines import twin_input
    from spikeport.train.features import normalize
    from spikeport.train.kws import evaluate_snn

    cfg, net, meta, ann = loaded
    x = normalize(feats, meta["norm"])
    snn = evaluate_snn(cfg, net, x, labels, seed=cfg.seed + 11, device=torch.device("cpu"), progress=progress,
                       desc=desc)
    to_input = twin_input(cfg.model)
    with torch.no_grad():
        ann_pred = np.concatenate([ann(to_input(x[i:i + 128])).argmax(1).numpy() for i in range(0, len(x), 128)])
    return {"snn_accuracy": snn["accuracy"], "snn_firing_mean": snn["firing_mean"],
            "ann_accuracy": float(np.mean(ann_pred == labels)), "snn_predictions": snn["predictions"],
            "ann_predictions": ann_pred}


def evaluate_run(run_dir: str | os.PathLike, data_root: str | os.PathLike, split: str = "test",
                 cache_dir: str | os.PathLike | None = None, progress: bool = True) -> dict:
    """Accuracy of ``run_dir``'s quantized SNN (``model.pt``) and ANN twin (``ann.pt``)
    on ``split`` of ``data_root``; with per-condition breakdowns where the dataset
    records conditions. Returns ``{"clips", "snn_accuracy", "snn_firing_mean",
    "ann_accuracy", "snn_by_condition", "ann_by_condition"}``."""
    from spikeport.train.features import FeatureParams, compute_features
    from spikeport.train.speech_commands import load_split

    root = Path(data_root)
    loaded = load_run(run_dir)
    cfg, meta = loaded[0], loaded[2]
    s = load_split(root, split, task=cfg.task, seed=cfg.seed)
    feats, labels, kept = compute_features(s, FeatureParams(**meta["features"]), cache_dir=cache_dir,
                                           progress=progress)
    got = score(loaded, feats, labels, progress, desc=f"SNN on {root.name}")
    conds = [c for c, k in zip(_conditions(root, s.clips), kept) if k]
    return {"clips": int(len(labels)), **{k: got[k] for k in ("snn_accuracy", "snn_firing_mean", "ann_accuracy")},
            "snn_by_condition": breakdown(got["snn_predictions"] == labels, conds),
            "ann_by_condition": breakdown(got["ann_predictions"] == labels, conds)}
