"""Glue between the train stage's data path and the sim stage: feed a dataset to an
exported network exactly as training fed the model, and score it.

The network's ``spikeport`` metadata (written at export) says how: feature
parameters and normalisation statistics, encoder, classes, timesteps. A network
from elsewhere (no metadata) cannot be evaluated on a dataset; give it arrays
(``spikeport sim`` / ``spikeport report --input``) instead.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from spikeport.errors import SpikeportError


def network_metadata(net_path: str | os.PathLike) -> dict[str, Any]:
    """The validated export metadata of ``net_path``
    (:func:`spikeport.export.check_metadata`; ``features`` as ``FeatureParams``) after
    the file's own validation; its classes must match the output neurons."""
    from spikeport.export import check_metadata, read_metadata
    from spikeport.sim.netx_file import SIM_TYPES, scan_network

    path = Path(net_path)
    if not path.is_file():
        raise SpikeportError(f"{path}: no such network file")
    entries = scan_network(path, supported=SIM_TYPES + ("average",))
    meta = check_metadata(read_metadata(path), str(path))
    outputs = entries[-1].size
    if outputs is not None and outputs != len(meta["classes"]):
        raise SpikeportError(f"{path}: metadata classes name {len(meta['classes'])} classes, the output "
                             f"layer has {outputs} neurons")
    return meta


def _same_classes(found: list[str], expected: list[str], where: str) -> None:
    if found == expected:
        return
    if sorted(found) == sorted(expected):
        raise SpikeportError(f"{where}: the same {len(found)} classes in another order than the network's "
                             f"(dataset: {', '.join(found)}; network: {', '.join(expected)})")
    extra, missing = sorted(set(found) - set(expected)), sorted(set(expected) - set(found))
    raise SpikeportError(f"{where}: its classes differ from the network's"
                         + (f"; not in the network: {', '.join(extra)}" if extra else "")
                         + (f"; missing here: {', '.join(missing)}" if missing else ""))


def dataset_inputs(meta: dict, data_dir: str | os.PathLike, split: str = "test", limit: int | None = None,
                   cache_dir: str | os.PathLike | None = None, seed: int | None = None,
                   progress: bool = True) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Network inputs for a dataset split, the way training encoded them.

    Returns ``(x, labels, classes)``: ``x`` in netx order ``(clips, inputs..., T)``
    (int32 currents for an input layer with neurons, else 0/1 spikes), ``labels``
    ``(clips,)`` int64 indices into ``classes``.
    """
    from spikeport.export import to_netx_input
    from spikeport.train.features import FeatureParams, compute_features, normalize
    from spikeport.train.config import default_cache_dir
    from spikeport.train.encoders import encode_features
    from spikeport.train.speech_commands import load_split

    seed = meta.get("seed", 0) if seed is None else seed
    s = load_split(data_dir, split, task=meta.get("kws_task", "12"), seed=seed)
    _same_classes(list(s.classes), list(meta["classes"]), str(data_dir))
    if limit is not None and len(s.clips) > limit:
        pick = np.sort(np.random.default_rng(seed).choice(len(s.clips), limit, replace=False))
        s = dataclasses.replace(s, clips=tuple(s.clips[i] for i in pick))
    params = meta["features"]
    if not isinstance(params, FeatureParams):
        params = FeatureParams.from_json(params, "metadata features")
    cache = Path(cache_dir) if cache_dir else default_cache_dir() / "features"
    feats, labels, _ = compute_features(s, params, cache_dir=cache, progress=progress)
    feats = normalize(feats, meta["norm"])
    enc = dict(meta["encoder"])
    spec = meta["spec"]
    x = encode_features(enc.pop("name"), enc, feats, seed, conv=len(spec["input_shape"]) == 3)
    return to_netx_input(x, analog=bool(spec.get("input_neuron"))), np.asarray(labels, np.int64), list(s.classes)


def evaluate_network(net_path: str | os.PathLike, data_dir: str | os.PathLike, split: str = "test",
                     limit: int | None = None, backend: str = "fast", batch_size: int = 128,
                     cache_dir: str | os.PathLike | None = None, progress: bool = True) -> dict[str, Any]:
    """Accuracy and activity of the exported network at ``net_path`` on a dataset split.

    Class = output neuron with the most spikes. Returns a JSON-able dict: accuracy,
    per-class accuracy, confusion matrix ``(classes, classes)`` (rows: truth),
    activity counts (``spikeport-activity/1``) and their mean per inference.
    """
    from spikeport.hw.neurobench import snn_metrics
    from spikeport.sim.simulate import simulate
    from spikeport.sim.activity import activity_json

    if backend == "loihi":
        from spikeport.sim.loihi_backend import require_loihi

        require_loihi()   # one clear message when the hardware extension is missing
    meta = network_metadata(net_path)
    x, labels, classes = dataset_inputs(meta, data_dir, split, limit, cache_dir, progress=progress)
    if len(x) == 0:
        raise SpikeportError(f"{data_dir}: the {split} split is empty")
    preds, activity = [], None
    for i in tqdm(range(0, len(x), batch_size), desc=f"eval ({backend})", unit="batch",
                  disable=None if progress else True):
        # the chip gives spikes, not counts: activity then comes from the bit-exact fast simulator
        res = simulate(net_path, x[i:i + batch_size], backend=backend, counts=backend != "loihi",
                       progress=progress and backend == "lava")
        if backend == "loihi":
            res.activity = simulate(net_path, x[i:i + batch_size], backend="fast", counts=True).activity
        preds.append(res.output.reshape(res.output.shape[0], -1, res.output.shape[-1]).sum(-1).argmax(1))
        activity = res.activity if activity is None else activity.merge(res.activity)
    pred = np.concatenate(preds)
    k = len(classes)
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (labels, pred), 1)
    counts = activity_json(activity, str(net_path), backend)
    accuracy = float((pred == labels).mean())
    per_inf = {name: float(sum(sum(l[name]["per_sample"]) for l in counts["layers"]) / len(x))
               for name in ("spikes", "synops", "neuron_updates")}
    return {
        "network": str(net_path), "data": str(data_dir), "split": split, "clips": int(len(x)),
        "backend": backend, "timesteps": int(x.shape[-1]), "classes": classes,
        "accuracy": accuracy, "neurobench": snn_metrics(net_path, counts, accuracy),
        # None for a class with no clip in this split: no accuracy to speak of
        "per_class_accuracy": {c: float(confusion[i, i] / confusion[i].sum()) if confusion[i].sum() else None
                               for i, c in enumerate(classes)},
        "confusion": confusion.tolist(), "per_inference": per_inf, "activity": counts,
        "predictions": pred.tolist(), "labels": labels.tolist(),
    }


def report_inputs(net_path: str | os.PathLike, ev: dict, data_dir: str | os.PathLike, split: str = "test",
                  cache_dir: str | os.PathLike | None = None) -> tuple[dict, dict, list[np.ndarray]]:
    """What an energy report takes from an evaluation ``ev`` (:func:`evaluate_network`)
    of ``net_path`` on ``data_dir``'s ``split``: the activity counts, the accuracy entry,
    and a raster, every layer's spikes ``(neurons..., T)`` for the split's first clip."""
    from spikeport.sim.simulate import simulate

    x, _, _ = dataset_inputs(network_metadata(net_path), data_dir, split, limit=1, cache_dir=cache_dir,
                             progress=False)
    raster = [l[0] for l in simulate(net_path, x[:1], backend="fast", record="all").layers]
    return ev["activity"], {"snn": ev["accuracy"], "split": split, "clips": ev["clips"]}, raster
