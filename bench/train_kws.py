"""Keyword-spotting training bench: time per epoch and final accuracies on the embedded
eSpeak corpus, against issue #3's targets.

    .venv/bin/python bench/train_kws.py [--epochs 11] [--model conv] [--out /tmp/kws_bench]
                                        [--augment] [--dropout P]

Targets: the default convolutional SNN reaches >= 90 % test accuracy over the 12 classes
within 15 minutes of training on 2 CPU cores, with mean activity under 10 % of neurons
spiking per step; the ANN twin's accuracy beside it. Prints one line per epoch and a JSON
summary (also written to --json).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import torch

import spikeport  # noqa: F401
from spikeport.train.augment import Augment
from spikeport.train.kws import KwsConfig, train_kws


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=KwsConfig.epochs)
    ap.add_argument("--model", default="conv", choices=["conv", "dense"])
    ap.add_argument("--encoder", default="direct", choices=["direct", "rate", "latency", "delta"])
    ap.add_argument("--out", default=None, help="run folder (default: a temporary one, removed)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--augment", action=argparse.BooleanOptionalAction, default=bool(KwsConfig().augment),
                    help="train on perturbed clips (train/augment.py; default: as KwsConfig)")
    ap.add_argument("--dropout", type=float, default=KwsConfig.dropout, help="neuron dropout while training")
    a = ap.parse_args()
    out = Path(a.out) if a.out else Path(tempfile.mkdtemp(prefix="kws_bench_"))
    cfg = KwsConfig(epochs=a.epochs, model=a.model, encoder=a.encoder,
                    augment=Augment().to_json() if a.augment else {}, dropout=a.dropout)
    t0 = time.time()
    try:
        s = train_kws(cfg, out, progress=True)
        metrics = json.loads((out / "metrics.json").read_text())
    finally:
        if not a.out:
            shutil.rmtree(out, ignore_errors=True)
    wall = time.time() - t0
    for m in metrics:
        print(f"epoch {m['epoch']:2d}: {m['seconds']:6.1f} s  train {m['train_accuracy']:.3f}  "
              f"val {m['val_accuracy']:.3f}  firing {m['firing_mean']:.4f}")
    row = {
        "model": a.model, "encoder": a.encoder, "epochs": a.epochs, "augment": cfg.augment,
        "dropout": cfg.dropout, "cpu_threads": torch.get_num_threads(),
        "cores": os.cpu_count(), "seconds_per_epoch": [m["seconds"] for m in metrics],
        "snn_train_seconds": s["train_seconds"], "ann_seconds": s["ann_seconds"], "wall_seconds": wall,
        "test_clips": s["test_clips"], "float_accuracy": s["float_accuracy"],
        "quantized_accuracy": s["quantized_accuracy"], "ann_accuracy": s["ann_accuracy"],
        "firing_mean": s["firing_mean"],
        "target_met": bool(s["quantized_accuracy"] >= 0.90 and s["train_seconds"] <= 900
                           and s["firing_mean"] < 0.10),
    }
    print(f"quantized SNN {row['quantized_accuracy']:.3f} (float {row['float_accuracy']:.3f}), ANN twin "
          f"{row['ann_accuracy']:.3f}, firing {row['firing_mean']:.4f}, SNN training {row['snn_train_seconds']:.0f} s"
          f" -> target (>= 0.90 in <= 900 s, firing < 0.10) {'met' if row['target_met'] else 'NOT met'}")
    print(json.dumps(row))
    if a.json:
        Path(a.json).write_text(json.dumps(row, indent=1) + "\n")


if __name__ == "__main__":
    main()
