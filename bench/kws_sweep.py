"""Keyword-spotting recipe sweep on the whole embedded corpus: each variant is a real
``train_kws`` run (cosine schedule, full validation and test splits, quantization-aware),
changed by a few keys. Where ``bench/kws_recipe.py`` probes on a few hundred clips, this
answers "what does the full run reach", so it wants a GPU or a lot of patience (about
75 s per epoch on 2 CPU cores). Variants run one after another; run several processes
side by side on a GPU.

    python bench/kws_sweep.py 'base' 'ls ls=0.1' 'wide hidden=256 ema=0.998' [--device cuda]

Prints one line per epoch and a final ``<name> RESULT {json}`` line per variant.

Keys, defaults from :class:`KwsConfig` and :func:`kws_spec` where not given:
training: epochs, lr, bs (batch size), gain (CE gain), pen (spike penalty), seed,
ls (label smoothing), wd (weight decay), ema (weight-average decay), tail, delays (0/1),
drop (neuron dropout), aug (0/1: train/augment.py's defaults), limit (clips per split),
fnorm (feature normalisation, "dataset" or "clip": FeatureParams.normalize);
neurons (all layers): vdecay, cdecay, thr; the hidden dense layers only: hv, hc; the
output layer only: ov, oc;
architecture: conv (channels, "32/64/64"), stride (over frequency, "1/2/2"), kf (kernel
over frequency), hidden (dense neurons), hidden2 (a second hidden dense layer, 0: none),
dinit (axonal delays spread over [0, dinit) at the start).
"""
from __future__ import annotations

import argparse
import ast
import json
import shutil
import sys
import tempfile
import time

import spikeport  # noqa: F401
from spikeport.train.augment import Augment
from spikeport.train.kws import KwsConfig, train_kws
from spikeport.train.models import kws_spec

TRAIN_KEYS = {"epochs": "epochs", "lr": "lr", "bs": "batch_size", "gain": "ce_gain", "pen": "penalty",
              "seed": "seed", "ls": "label_smoothing", "wd": "weight_decay", "ema": "ema", "tail": "tail",
              "delays": "delays", "drop": "dropout"}
NEURON_KEYS = {"vdecay": "voltage_decay", "cdecay": "current_decay", "thr": "threshold"}
LAYER_NEURON_KEYS = {"hv": ("hidden", "voltage_decay"), "hc": ("hidden", "current_decay"),
                     "ov": ("output", "voltage_decay"), "oc": ("output", "current_decay")}
ARCH_KEYS = {"conv", "stride", "kf", "hidden", "hidden2", "dinit"}
KEYS = set(TRAIN_KEYS) | set(NEURON_KEYS) | set(LAYER_NEURON_KEYS) | ARCH_KEYS | {"aug", "limit", "fnorm"}


def variant_config(items: list[str], device: str) -> KwsConfig:
    """A :class:`KwsConfig` for ``key=value`` items (see the module doc)."""
    o = {}
    for item in items:
        key, value = item.split("=", 1)
        if key not in KEYS:
            raise SystemExit(f"unknown key {key!r} (known: {', '.join(sorted(KEYS))})")
        o[key] = value if key in ("conv", "stride", "fnorm") else ast.literal_eval(value)
    cfg = KwsConfig(device=device, ann_epochs=0)
    for key, name in TRAIN_KEYS.items():
        if key in o:
            setattr(cfg, name, type(getattr(cfg, name))(o[key]))
    if "fnorm" in o:
        cfg.features = {"normalize": o["fnorm"]}
    if "limit" in o:
        cfg.limit = int(o["limit"])
    if o.get("aug"):
        cfg.augment = Augment().to_json()
    spec = kws_spec("conv", delays=cfg.delays)
    layers = spec["layers"]
    convs = [layer for layer in layers if layer["kind"] == "conv"]
    if "conv" in o or "stride" in o:
        widths = str(o.get("conv", "/".join(str(c["out"]) for c in convs))).split("/")
        strides = str(o.get("stride", "/".join(str(c["stride"][0]) for c in convs))).split("/")
        convs = [{"kind": "conv", "out": int(w), "kernel": [3, 1], "stride": [int(s), 1], "padding": [1, 0]}
                 for w, s in zip(widths, strides)]
    if "kf" in o:
        for c in convs:
            c["kernel"], c["padding"] = [int(o["kf"]), 1], [int(o["kf"]) // 2, 0]
    hidden = dict(layers[-2])
    if "hidden" in o:
        hidden["out"] = int(o["hidden"])
    if "dinit" in o:
        hidden["delay_init"] = int(o["dinit"])
    dense = [hidden]
    if o.get("hidden2"):
        dense.append(dict(hidden, out=int(o["hidden2"])))
    output = dict(layers[-1])
    for key, (where, name) in LAYER_NEURON_KEYS.items():
        if key in o:
            for layer in (dense if where == "hidden" else [output]):
                layer.setdefault("neuron", {})[name] = float(o[key])
    if o.keys() & (ARCH_KEYS | set(LAYER_NEURON_KEYS)):  # otherwise kws_spec's layers as they are
        cfg.arch["layers"] = convs + [{"kind": "flatten"}] + dense + [output]
    if o.keys() & set(NEURON_KEYS):
        cfg.arch["neuron"] = {NEURON_KEYS[k]: float(o[k]) for k in NEURON_KEYS if k in o}
    return cfg


def run(name: str, cfg: KwsConfig) -> dict:
    out = tempfile.mkdtemp(prefix=f"kws_sweep_{name}_")
    t0 = time.time()
    try:
        s = train_kws(cfg, out, progress=True)
        metrics = json.loads(open(f"{out}/metrics.json").read())
    finally:
        shutil.rmtree(out, ignore_errors=True)
    for m in metrics:
        print(f"{name} epoch {m['epoch']:2d}: train {m['train_accuracy']:.3f}  val {m['val_accuracy']:.3f}  "
              f"firing {m['firing_mean']:.4f}  {m['seconds']:.1f} s", flush=True)
    row = {"name": name, "val": [round(m["val_accuracy"], 4) for m in metrics],
           "train": [round(m["train_accuracy"], 4) for m in metrics],
           "test_quantized": s["quantized_accuracy"], "test_float": s["float_accuracy"],
           "firing": round(s["firing_mean"], 4), "train_seconds": round(s["train_seconds"], 1),
           "wall_seconds": round(time.time() - t0, 1), "config": cfg.to_json()}
    print(f"{name} RESULT {json.dumps(row)}", flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("variants", nargs="+", help="'name key=value ...'")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    a = ap.parse_args()
    for v in a.variants:
        name, *items = v.split()
        run(name, variant_config(items, a.device))


if __name__ == "__main__":
    sys.exit(main())
