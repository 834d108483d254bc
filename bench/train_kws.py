"""Keyword-spotting training bench (issue #18): the default recipe on several seeds,
each scored on the embedded test split and on the robustness set, against the targets.

    .venv/bin/python bench/train_kws.py [--seeds 0 1 2] [--out /tmp/kws_bench] [--json F] [--table F]
                                        [--set key=json ...] [--reuse]

For each seed: ``train_kws`` with the default ``KwsConfig`` (``--set`` overrides a
field, e.g. ``--set epochs=9 --set 'audio_augment={}'``) into ``<out>/seed<N>``, then
:func:`spikeport.train.robust_eval.evaluate_run` on the robustness set
(:mod:`spikeport.train.robust_corpus`, built once in the cache). ``--reuse`` scores
runs already finished in ``<out>`` instead of training them again.

Targets: quantized test accuracy >= 0.93 on every seed; SNN training (feature and
augmentation caches of the run included) <= 900 s on 2 CPU cores; firing < 10 %;
at most 1 point below the ANN twin; robustness-set accuracy within 8 points of the
test split. Prints one row per seed and writes a Markdown table (--table) and JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

import spikeport  # noqa: F401
from spikeport.train.config import KwsConfig, default_cache_dir
from spikeport.train.kws import train_kws
from spikeport.train.robust_corpus import build_robustness_set
from spikeport.train.robust_eval import evaluate_run

TARGETS = {"accuracy": 0.93, "train_seconds": 900.0, "firing": 0.10, "ann_gap": 0.01, "robust_drop": 0.08}


def _config(seed: int, sets: list[str]) -> KwsConfig:
    fields = KwsConfig(seed=seed).to_json()
    for item in sets:
        key, _, value = item.partition("=")
        if key not in fields:
            raise SystemExit(f"--set {item}: no KwsConfig field {key!r}")
        fields[key] = json.loads(value)
    return KwsConfig.from_json(fields, "--set")


def _row(seed: int, s: dict, robust: dict, wall: float) -> dict:
    train_s = s["train_seconds"] + s.get("data_seconds", 0.0)
    row = {"seed": seed, "quantized": s["quantized_accuracy"], "float": s["float_accuracy"],
           "ann_twin": s["ann_accuracy"], "ann_gap": s["ann_accuracy"] - s["quantized_accuracy"],
           "firing": s["firing_mean"], "epochs": s["epochs"], "epoch_seconds": s["train_seconds"],
           "data_seconds": s.get("data_seconds"), "train_seconds": train_s, "wall_seconds": wall,
           "robust_snn": robust["snn_accuracy"], "robust_ann": robust["ann_accuracy"],
           "robust_drop": s["quantized_accuracy"] - robust["snn_accuracy"], "robust_clips": robust["clips"],
           "robust_snn_by_condition": robust["snn_by_condition"],
           "robust_ann_by_condition": robust["ann_by_condition"]}
    row["targets_met"] = {
        "accuracy": row["quantized"] >= TARGETS["accuracy"], "train_seconds": train_s <= TARGETS["train_seconds"],
        "firing": row["firing"] < TARGETS["firing"], "ann_gap": row["ann_gap"] <= TARGETS["ann_gap"],
        "robust_drop": row["robust_drop"] <= TARGETS["robust_drop"]}
    return row


def _split(by_condition: dict) -> str:
    """'speaker only / held-out acoustics' accuracies of a robustness-set result."""
    part = by_condition.get("acoustics", {})
    return " / ".join(f"{part[k]:.3f}" if k in part else "-" for k in ("speaker only", "held-out acoustics"))


def table(rows: list[dict]) -> str:
    """The Markdown table of ``rows`` (one per seed)."""
    lines = ["| seed | test quantized | float | ANN twin | gap | firing | SNN training (s) | robust SNN "
             "(speaker only / acoustics) | robust ANN twin (speaker only / acoustics) | robust drop |",
             "|" + " --- |" * 10]
    for r in rows:
        lines.append(f"| {r['seed']} | {r['quantized']:.3f} | {r['float']:.3f} | {r['ann_twin']:.3f} | "
                     f"{r['ann_gap'] * 100:+.1f} pt | {r['firing']:.3f} | {r['train_seconds']:.0f} "
                     f"({r['epochs']} epochs {r['epoch_seconds']:.0f} + data {r['data_seconds'] or 0:.0f}) | "
                     f"{r['robust_snn']:.3f} ({_split(r['robust_snn_by_condition'])}) | "
                     f"{r['robust_ann']:.3f} ({_split(r['robust_ann_by_condition'])}) | "
                     f"{r['robust_drop'] * 100:.1f} pt |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--out", default="/tmp/kws_bench", help="folder of the runs, one per seed (kept)")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=JSON", help="override a KwsConfig field")
    ap.add_argument("--reuse", action="store_true", help="score finished runs in --out instead of training")
    ap.add_argument("--json", default=None)
    ap.add_argument("--table", default=None)
    a = ap.parse_args()
    robust = build_robustness_set(default_cache_dir() / "robust")
    rows = []
    for seed in a.seeds:
        out = Path(a.out) / f"seed{seed}"
        t0 = time.time()
        if not (a.reuse and (out / "summary.json").is_file()):
            train_kws(_config(seed, a.set), out, progress=True)
        s = json.loads((out / "summary.json").read_text())
        r = evaluate_run(out, robust, cache_dir=default_cache_dir() / "features")
        rows.append(_row(seed, s, r, time.time() - t0))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    met = {k: all(r["targets_met"][k] for r in rows) for k in TARGETS}
    print(table(rows))
    print(f"cpu threads {torch.get_num_threads()}, cores {os.cpu_count()}; targets: "
          + ", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in met.items()))
    result = {"rows": rows, "targets": TARGETS, "targets_met": met, "overrides": a.set}
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=1) + "\n")
    if a.table:
        Path(a.table).write_text(table(rows))


if __name__ == "__main__":
    main()
