"""The whole pipeline on the embedded corpus (``spikeport demo`` / ``make demo``):
corpus -> train SNN + ANN twin -> export netx -> Lava vs fast, every spike ->
fast eval on the test split -> both networks on the robustness set -> Loihi 2
mapping -> energy report.

Each stage records what it was computed from in ``<out>/stages.json`` (parameters
and the size and modification time of its inputs) and is skipped when that still
holds and its outputs exist; ``force`` reruns everything.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from spikeport.atomic import atomic_path


def _stamp(paths: list[Path]) -> list:
    return [[str(p), p.stat().st_size, p.stat().st_mtime_ns] if p.exists() else [str(p), None, None]
            for p in paths]


class _Stages:
    """Up-to-date bookkeeping in ``stages.json``."""

    def __init__(self, out: Path, force: bool):
        self.path = out / "stages.json"
        self.force = force
        self.done = {} if force or not self.path.is_file() else json.loads(self.path.read_text())

    def run(self, name: str, params: dict, inputs: list[Path], outputs: list[Path],
            fn: Callable[[], Any]) -> bool:
        """Run ``fn`` unless stage ``name`` is up to date; True when it ran."""
        key = {"params": params, "inputs": _stamp(inputs)}
        if self.done.get(name, {}).get("key") == key and all(p.exists() for p in outputs):
            print(f"[{name}] up to date, skipped", flush=True)
            return False
        print(f"[{name}] running", flush=True)
        t0 = time.time()
        fn()
        self.done[name] = {"key": key, "seconds": round(time.time() - t0, 1)}
        with atomic_path(self.path) as tmp:
            Path(tmp).write_text(json.dumps(self.done, indent=1) + "\n")
        return True


def verify_bit_exact(net_path: Path, run_dir: Path, x_netx: np.ndarray, progress: bool = True) -> dict:
    """Run clips through Lava (fixed_pt), the fast backend and the trained PyTorch
    model (quantized); compare every spike of every layer at every timestep.

    ``x_netx``: ``(clips, inputs..., T)`` as the network takes it. Returns counts of
    compared and mismatched spikes per pair of backends and the Lava predictions.
    """
    import torch
    from tqdm.auto import tqdm

    from spikeport.export import from_netx_layer
    from spikeport.fixed_point import WEIGHT_SCALE
    from spikeport.sim.simulate import simulate
    from spikeport.train.kws import load_snn

    net, meta = load_snn(run_dir / "model.pt")
    analog = bool(net.spec.get("input_neuron"))
    fast = simulate(net_path, x_netx, backend="fast", record="all", counts=True)
    # back to the model's layout: int currents / 64 are the model's quantized inputs
    x_model = from_netx_layer(x_netx).astype(np.float32)
    if analog:
        x_model = x_model / WEIGHT_SCALE
    with torch.no_grad():
        torch_layers = [o.numpy() for o in net(torch.from_numpy(x_model), return_all=True)]
    compared = {"lava_vs_fast": 0, "lava_vs_pytorch": 0}
    mismatched = {"lava_vs_fast": 0, "lava_vs_pytorch": 0}
    lava_pred = []
    lava_act = None
    for k in tqdm(range(len(x_netx)), desc="Lava fixed_pt", unit="clip", disable=None if progress else True):
        lava = simulate(net_path, x_netx[k:k + 1], backend="lava", record="all", counts=True)
        lava_act = lava.activity if lava_act is None else lava_act.merge(lava.activity)
        for i, l in enumerate(lava.layers):
            f = fast.layers[i][k:k + 1]
            t = torch_layers[i][k:k + 1]
            compared["lava_vs_fast"] += l.size
            mismatched["lava_vs_fast"] += int((l != f).sum())
            compared["lava_vs_pytorch"] += l.size
            mismatched["lava_vs_pytorch"] += int((from_netx_layer(l).reshape(t.shape) != t).sum())
        out = lava.output.reshape(1, -1, lava.output.shape[-1])
        lava_pred.append(int(out.sum(-1).argmax(1)[0]))
    from spikeport.sim.activity import activity_json

    fast_counts = {k: v for k, v in activity_json(fast.activity, str(net_path), "fast").items()
                   if k not in ("backend",)}
    lava_counts = {k: v for k, v in activity_json(lava_act, str(net_path), "lava").items()
                   if k not in ("backend",)}
    return {"clips": int(len(x_netx)), "timesteps": int(x_netx.shape[-1]), "layers": len(fast.layers),
            "compared": compared, "mismatched": mismatched, "lava_predictions": lava_pred,
            "activity_counts_equal": fast_counts == lava_counts}


def run_demo(out: str | os.PathLike = "runs/demo", epochs: int = 11, ann_epochs: int = 8, reference: str = "dscnn",
             reference_epochs: int = 8,
             corpus: dict | None = None, lava_clips: int = 5, limit: int | None = None, seed: int = 0,
             force: bool = False, progress: bool = True, cache_dir: str | os.PathLike | None = None,
             robust: dict | None = None) -> dict:
    """Run (or bring up to date) the whole pipeline into ``out``; returns the summary
    that is also written to ``out/demo.json``. ``robust``: robustness-set sizes
    (``clips_per_word``, ``clips_per_unknown``; default the module's). A second demo
    into the same folder is refused at once (one line), before any stage runs."""
    from spikeport.locks import locked

    with locked(out, "demo run", lock_file=Path(out) / DEMO_LOCK):
        return _run_demo(Path(out), epochs, ann_epochs, reference, reference_epochs, corpus, lava_clips, limit,
                         seed, force, progress, cache_dir, dict(robust or {}))


DEMO_LOCK = ".spikeport-demo.lock"


def _run_demo(out: Path, epochs, ann_epochs, reference, reference_epochs, corpus, lava_clips, limit, seed, force,
              progress, cache_dir, robust: dict) -> dict:
    from spikeport.evaluate import evaluate_network
    from spikeport.export import export_run
    from spikeport.hw.mapping import map_network
    from spikeport.hw.profiles import load_profile
    from spikeport.sim.netx_validate import problems
    from spikeport.train.config import KwsConfig, default_cache_dir
    from spikeport.train.corpus import MANIFEST, build_corpus, corpus_root

    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    stages = _Stages(out, force)
    corpus = dict(corpus or {})
    root = corpus_root(cache, **corpus)
    stages.run("corpus", {"corpus": corpus, "seed": seed}, [], [root / MANIFEST],
               lambda: build_corpus(root, progress=progress, **corpus))
    cfg = KwsConfig(epochs=epochs, ann_epochs=ann_epochs, reference=reference, reference_epochs=reference_epochs,
                    corpus=corpus, seed=seed, limit=limit)
    anns = [out / "ann.json"] + ([out / "reference_ann.json"] if cfg.reference != "none" else [])
    stages.run("train", cfg.to_json(), [], [out / "model.pt", *anns, out / "summary.json"],
               lambda: _train(cfg, out, cache, progress))
    net_path = out / "model.net"
    stages.run("export", {}, [out / "model.pt"], [net_path], lambda: export_run(out, net_path, check=problems))
    stages.run("verify", {"lava_clips": lava_clips}, [net_path], [out / "verify.json"],
               lambda: _verify(net_path, out, root, lava_clips, cache / "features", progress))
    stages.run("eval", {"limit": limit}, [net_path], [out / "eval.json"],
               lambda: _write_json(out / "eval.json", evaluate_network(
                   net_path, root, "test", limit=limit, cache_dir=cache / "features", progress=progress)))
    stages.run("robust", robust, [out / "model.pt", out / "ann.pt"], [out / "robust.json"],
               lambda: _robust(out, cache, robust, progress))
    profile = load_profile("loihi2")
    stages.run("map", {"chip": "loihi2"}, [net_path], [out / "mapping.json"],
               lambda: _write_json(out / "mapping.json", map_network(net_path, profile).to_json()))
    stages.run("report", {"chip": "loihi2"}, [net_path, out / "eval.json", out / "verify.json", *anns],
               [out / "report" / "report.html", out / "report" / "energy.json"],
               lambda: _report(net_path, out, root, profile, cache / "features"))
    s = _summary(out, net_path)
    _write_json(out / "demo.json", s)
    return s


def _train(cfg, out: Path, cache: Path, progress: bool) -> None:
    """Train, resuming a checkpoint of the same configuration (another one is cleared)."""
    from spikeport.train.config import KwsConfig
    from spikeport.train.kws import train_kws

    resume = (out / "checkpoint.pt").is_file() and (out / "config.json").is_file()
    if resume:
        saved = json.loads((out / "config.json").read_text())
        if KwsConfig.from_json(saved).to_json() != cfg.to_json():
            for name in ("checkpoint.pt", "config.json", "metrics.json", "summary.json"):
                (out / name).unlink(missing_ok=True)
            resume = False
    train_kws(cfg, out, resume=resume, cache_dir=cache, progress=progress)


def _verify(net_path: Path, out: Path, root: Path, clips: int, features: Path, progress: bool) -> None:
    """``verify.json``: Lava, fast and PyTorch on ``clips`` test clips (:func:`verify_bit_exact`)."""
    from spikeport.evaluate import dataset_inputs, network_metadata

    x, labels, _ = dataset_inputs(network_metadata(net_path), root, "test", limit=clips, cache_dir=features,
                                  progress=False)
    v = verify_bit_exact(net_path, out, x, progress=progress)
    v["labels"] = labels.tolist()
    v["lava_accuracy"] = float(np.mean(np.array(v["lava_predictions"]) == labels))
    _write_json(out / "verify.json", v)


def _robust(out: Path, cache: Path, sizes: dict, progress: bool) -> None:
    """``robust.json``: the SNN and its ANN twin on the robustness set (voices, rooms
    and noises training never met; :mod:`spikeport.train.robust_corpus`)."""
    from spikeport.train.robust_corpus import build_robustness_set, robust_root
    from spikeport.train.robust_eval import evaluate_run

    root = build_robustness_set(robust_root(cache, **sizes), progress=progress, **sizes)
    _write_json(out / "robust.json", evaluate_run(out, root, cache_dir=cache / "features", progress=progress))


def _report(net_path: Path, out: Path, root: Path, profile, features: Path) -> None:
    """The energy report of the evaluated network against the run's ANNs (``out/report``)."""
    from spikeport.evaluate import report_inputs
    from spikeport.hw.ann_description import load_anns
    from spikeport.hw.report import write_report

    ev = json.loads((out / "eval.json").read_text())
    ver = json.loads((out / "verify.json").read_text())
    activity, accuracy, raster = report_inputs(net_path, ev, root, "test", cache_dir=features)
    check = {"clips": ver["clips"], "spikes_compared": ver["compared"]["lava_vs_fast"],
             "mismatched": ver["mismatched"]["lava_vs_fast"]}
    write_report(out / "report", net_path, activity, profile, anns=load_anns([str(out)]), accuracy=accuracy,
                 check=check, raster=raster, step_seconds=None)


def _summary(out: Path, net_path: Path) -> dict:
    """``demo.json``: the figures of every stage's output."""
    summary_t, ev, ver, energy, mapping, robust = (json.loads((out / name).read_text()) for name in (
        "summary.json", "eval.json", "verify.json", "report/energy.json", "mapping.json", "robust.json"))
    head = energy["headline"]
    return {
        "float_accuracy": summary_t["float_accuracy"], "quantized_accuracy": ev["accuracy"],
        "test_clips": ev["clips"], "ann_accuracy": summary_t["ann_accuracy"],
        "ann_int8_accuracy": summary_t.get("ann_int8_accuracy"),
        "reference_accuracy": summary_t.get("reference_accuracy"),
        "reference_int8_accuracy": summary_t.get("reference_int8_accuracy"),
        "lava_accuracy": ver["lava_accuracy"], "lava_clips": ver["clips"],
        "spikes_compared": ver["compared"], "spikes_mismatched": ver["mismatched"],
        "activity_counts_equal": ver["activity_counts_equal"],
        "robust_accuracy": robust["snn_accuracy"], "robust_ann_accuracy": robust["ann_accuracy"],
        "robust_clips": robust["clips"],
        "firing_mean": summary_t["firing_mean"], "loihi2_cores": mapping["cores"], "fits": mapping["fits"],
        "snn_pJ": head["snn_pJ"], "ratio": head["ratio"], "headline": head["text"],
        "neurobench": energy["neurobench"]["table"],
        "report": str(out / "report" / "report.html"), "net": str(net_path),
        "bit_exact": sum(ver["mismatched"].values()) == 0,
    }


def _write_json(path: Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(obj, indent=1) + "\n")
