"""The ANN baselines of a keyword-spotting run, trained and measured on their own:
the ANN twin and the reference DS-CNN, float32 and post-training int8, on the run's
features and splits (the code path of ``spikeport train kws``).

    .venv/bin/python bench/ann_baselines.py RUN [--out DIR] [--ann-epochs N] [--reference-epochs N]

RUN: a run folder (its config.json and model.pt give the features and the SNN spec).
Writes ann.json / reference_ann.json (and .pt) into --out (default: RUN itself) and
prints per network: training time, accuracy (fp32, int8), parameters, dense and
effective MACs per inference, and the NeuroBench metrics.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import spikeport  # noqa: F401
from spikeport.hw.neurobench import ann_metrics
from spikeport.train.config import KwsConfig
from spikeport.train.kws import train_baselines
from spikeport.train.kws_data import prepare_data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run")
    ap.add_argument("--out", default=None)
    ap.add_argument("--ann-epochs", type=int, default=None)
    ap.add_argument("--reference-epochs", type=int, default=None)
    a = ap.parse_args()
    run = Path(a.run)
    cfg = KwsConfig.from_json(json.loads((run / "config.json").read_text()))
    cfg.ann_epochs = a.ann_epochs or cfg.ann_epochs
    cfg.reference_epochs = a.reference_epochs or cfg.reference_epochs
    out = Path(a.out) if a.out else run
    out.mkdir(parents=True, exist_ok=True)
    data = prepare_data(cfg, progress=False)
    spec = torch.load(run / "model.pt", map_location="cpu", weights_only=True)["spec"]
    t0 = time.time()
    got = train_baselines(cfg, spec, data, out, progress=True)
    print(f"baselines trained and measured in {time.time() - t0:.0f} s: {json.dumps(got)}")
    for name in ("ann", "reference_ann"):
        path = out / f"{name}.json"
        if not path.is_file():
            continue
        desc = json.loads(path.read_text())
        for p in ("fp32", "int8"):
            m = ann_metrics(desc, p)
            so = m["SynapticOperations"]
            print(f"{desc['name']} {p}: accuracy {m['ClassificationAccuracy']:.4f}, {m['ParameterCount']:,} parameters, "
                  f"Dense {so['Dense']:,.0f}, Effective_MACs {so['Effective_MACs']:,.0f}, "
                  f"ActivationSparsity {m['ActivationSparsity']:.4f}, ConnectionSparsity {m['ConnectionSparsity']:.4f}"
                  f" ({desc['training']['epochs']} epochs, {desc['training']['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
