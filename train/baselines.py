"""The ANN baselines a keyword-spotting run is compared with, trained on the same
features and splits as the SNN:

* the **ANN twin**: the SNN's own topology with ReLU units, run frame by frame
  (:class:`spikeport.train.models.AnnTwin`);
* the **reference ANN**: DS-CNN over the whole spectrogram
  (:mod:`spikeport.train.reference_ann`).

Each is measured in float32 and after post-training int8 quantization
(:mod:`spikeport.train.int8`) on the test split: accuracy, effective and dense
MACs per layer, activations (:mod:`spikeport.train.ann_measure`). Each is saved as
``<name>.pt`` (state dict) and ``<name>.json`` (its ``spikeport-ann/1``
description with the measured figures), which the hw stage reads.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import torch

from spikeport.atomic import atomic_path
from spikeport.train import ann_measure, int8, reference_ann
from spikeport.train.ann_fit import fit_ann
from spikeport.train.augment import Augment
from spikeport.train.models import AnnTwin
from spikeport.train.run_folder import safe_load

CALIBRATION_CLIPS = 128


def twin_input(model: str):
    """Features ``(clips, C, bands, frames)`` -> the twin's input."""
    if model == "conv":
        return lambda f: torch.from_numpy(np.ascontiguousarray(f)).unsqueeze(3)
    return lambda f: torch.from_numpy(np.ascontiguousarray(f)).reshape(len(f), -1, f.shape[-1])


def train_twin(model: str, spec: dict, data: dict, epochs: int, seed: int, progress: bool = True,
               aug: Augment | None = None) -> tuple[AnnTwin, dict]:
    """Train the ANN twin of ``spec`` on the analog features (whatever the SNN's
    encoder), with the SNN's feature augmentation ``aug`` if any: Adam 1e-3,
    cross-entropy on the time-averaged readout."""
    torch.manual_seed(seed)
    xtr, ytr = data["train"]
    ann_spec = dict(spec, input_shape=[xtr.shape[1]] + list(spec["input_shape"][1:]))
    if model == "dense":
        ann_spec["input_shape"] = [int(np.prod(xtr.shape[1:3]))]
    ann = AnnTwin(ann_spec)
    info = fit_ann(ann, twin_input(model), xtr, ytr, epochs, seed, lr=1e-3, batch_size=64, desc="ANN twin",
                   progress=progress, copies=data.get("train_copies"), aug=aug)
    return ann, info


def _measure_both(desc: dict, model, seq, qmodel, qseq, to_input, xte, yte) -> dict:
    """Measure the float and the int8 network on the test split into ``desc``."""
    fp = ann_measure.measure(model, seq, (to_input(xte[i:i + 128]) for i in range(0, len(xte), 128)), yte)
    q = ann_measure.measure(qmodel, qseq, (to_input(xte[i:i + 128]).double() for i in range(0, len(xte), 128)),
                            yte)
    ann_measure.attach(desc, "fp32", fp, seq, "test")
    ann_measure.attach(desc, "int8", q, qseq, "test")
    desc["measured"]["int8_scheme"] = int8.SCHEME
    desc["accuracy"] = {"test": fp["accuracy"], "test_int8": q["accuracy"]}
    return desc


def quantize_twin(ann: AnnTwin, to_input, xtr: np.ndarray) -> AnnTwin:
    """The int8 twin: ``ann`` with its per-frame network quantized
    (:func:`spikeport.train.int8.quantize`), calibrated on the frames of the first
    :data:`CALIBRATION_CLIPS` training clips. Feed it float64 inputs."""
    frames = to_input(xtr[:CALIBRATION_CLIPS])
    frames = frames.movedim(-1, 1).reshape((-1,) + tuple(frames.shape[1:-1]))
    qann = copy.deepcopy(ann)
    qann.net = int8.quantize(ann.net, [frames[i:i + 4096] for i in range(0, len(frames), 4096)])
    return qann


def load_twin(path: str | Path) -> AnnTwin:
    """The ANN twin saved as ``ann.pt`` (``torch.load`` with ``weights_only=True``), in eval mode."""
    ck = safe_load(path, "cpu")
    ann = AnnTwin(ck["spec"])
    ann.load_state_dict(ck["state_dict"])
    return ann.eval()


def twin_baseline(model: str, spec: dict, data: dict, epochs: int, seed: int, progress: bool = True,
                  aug: Augment | None = None) -> tuple[AnnTwin, dict]:
    """Train (with feature augmentation ``aug``), quantize and measure the ANN twin;
    returns it and its description."""
    ann, info = train_twin(model, spec, data, epochs, seed, progress, aug)
    to_input = twin_input(model)
    xtr, xte, yte = data["train"][0], *data["test"]
    qann = quantize_twin(ann, to_input, xtr)
    frame_shape = tuple(to_input(xtr[:1]).shape[1:-1])
    desc = ann_measure.describe(ann.net, frame_shape, frames=int(xtr.shape[-1]), per_frame=True,
                                name="ANN twin", source="the SNN's topology with ReLU units, frame by frame",
                                readout="mean over frames of the last layer's outputs")
    desc["training"] = info
    return ann, _measure_both(desc, ann, ann.net, qann, qann.net, to_input, xte, yte)


def reference_baseline(data: dict, epochs: int, seed: int, progress: bool = True,
                       aug: Augment | None = None) -> tuple[torch.nn.Sequential, dict]:
    """Train (with feature augmentation ``aug``), fold, quantize and measure the
    reference DS-CNN; returns the folded float network and its description."""
    net, info = reference_ann.train_reference(data, epochs, seed=seed, progress=progress, aug=aug)
    folded = int8.fold_batchnorm(net)
    xtr, xte, yte = data["train"][0], *data["test"]
    q = int8.quantize(folded, list(reference_ann.batches(xtr[:CALIBRATION_CLIPS], 64)))
    to_input = lambda f: torch.from_numpy(np.ascontiguousarray(f))  # noqa: E731
    desc = ann_measure.describe(folded, tuple(xtr.shape[1:]), frames=1, per_frame=False, name=reference_ann.NAME,
                                source=reference_ann.SOURCE, readout="logits of the last layer")
    desc["training"] = info
    return folded, _measure_both(desc, folded, folded, q, q, to_input, xte, yte)


def save(out: Path, name: str, state: dict, desc: dict) -> None:
    """``out/<name>.pt`` (``state``) and ``out/<name>.json`` (``desc``), atomically."""
    with atomic_path(out / f"{name}.pt") as tmp:
        torch.save(state, tmp)
    with atomic_path(out / f"{name}.json") as tmp:
        Path(tmp).write_text(json.dumps(desc, indent=1) + "\n")
