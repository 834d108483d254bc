"""The reference ANN: a published efficient keyword spotter over the whole log-mel
spectrogram, trained on the same features and splits as the SNN.

DS-CNN after Zhang, Suda, Lai, Chandra, "Hello Edge: Keyword Spotting on
Microcontrollers" (arXiv:1711.07128, 2017), size S (the MLPerf Tiny keyword-spotting
reference uses the same network): one convolution of 64 filters, kernel 10 x 4
(time x frequency), stride 2 x 2, then 4 depthwise-separable blocks (3 x 3
depthwise + 1 x 1 pointwise convolution, 64 channels, each with batch norm and
ReLU), global average pooling and one dense layer. The paper reports 94.4 % on
Speech Commands (12 classes) with 38.6 k parameters and 5.4 M operations on
49 x 10 MFCC frames (as quoted in shared/energy-references.md). Here it sees
spikeport's features, 3 x 40 log-mel bands x 101 frames of 10 ms, so its operation
count differs; :mod:`spikeport.train.ann_measure` counts it exactly.
"""
from __future__ import annotations

import numpy as np
import torch

from spikeport.train.run_folder import safe_load
from spikeport.train.ann_fit import fit_ann

NAME = "DS-CNN-S (Zhang et al. 2017)"
SOURCE = ("Zhang, Suda, Lai, Chandra, 'Hello Edge: Keyword Spotting on Microcontrollers', arXiv:1711.07128 "
          "(2017): DS-CNN, size S (64 channels, 4 depthwise-separable blocks); 94.4% on Speech Commands "
          "(12 classes), 38.6 k parameters, 5.4 M ops on 49x10 MFCC frames")

DSCNN_S = {"channels": 64, "blocks": 4, "kernel": [4, 10], "stride": [2, 2], "padding": [1, 4], "dropout": 0.2}


def build_dscnn(in_channels: int, bands: int, frames: int, classes: int, spec: dict | None = None
                ) -> torch.nn.Sequential:
    """DS-CNN over ``(in_channels, bands, frames)`` inputs (``spec``: :data:`DSCNN_S`
    fields; the kernel is (frequency, time)). Returns a ``Sequential`` ending in logits."""
    s = {**DSCNN_S, **(spec or {})}
    c = int(s["channels"])
    mods: list[torch.nn.Module] = [
        torch.nn.Conv2d(in_channels, c, tuple(s["kernel"]), stride=tuple(s["stride"]),
                        padding=tuple(s["padding"]), bias=False),
        torch.nn.BatchNorm2d(c), torch.nn.ReLU()]
    for _ in range(int(s["blocks"])):
        mods += [torch.nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False), torch.nn.BatchNorm2d(c), torch.nn.ReLU(),
                 torch.nn.Conv2d(c, c, 1, bias=False), torch.nn.BatchNorm2d(c), torch.nn.ReLU()]
    with torch.no_grad():
        h, w = torch.nn.Sequential(*mods)(torch.zeros(1, in_channels, bands, frames)).shape[2:]
    mods += [torch.nn.AvgPool2d((int(h), int(w))), torch.nn.Flatten()]
    if s["dropout"]:
        mods.append(torch.nn.Dropout(float(s["dropout"])))
    mods.append(torch.nn.Linear(c, classes))
    return torch.nn.Sequential(*mods)


def train_reference(data: dict, epochs: int, seed: int = 0, lr: float = 3e-3, batch_size: int = 64,
                    spec: dict | None = None, progress: bool = True, aug=None) -> tuple[torch.nn.Sequential, dict]:
    """Train the DS-CNN on ``data`` (as :func:`spikeport.train.kws.prepare_data`
    returns it: features ``(clips, 3, bands, frames)``): Adam, cosine-annealed,
    cross-entropy, each batch perturbed by the feature augmentation ``aug``
    (:class:`spikeport.train.augment.Augment`) if given. Returns the network (train
    mode left off) and ``{"seconds"}``."""
    torch.manual_seed(seed)
    xtr, ytr = data["train"]
    net = build_dscnn(xtr.shape[1], xtr.shape[2], xtr.shape[3], len(data["classes"]), spec)
    info = fit_ann(net, torch.from_numpy, xtr, ytr, epochs, seed, lr=lr, batch_size=batch_size, cosine=True,
                   desc=f"reference ANN ({NAME})", progress=progress,
                   copies=data.get("train_copies"), aug=aug)
    return net, info


def checkpoint(folded: torch.nn.Sequential, data: dict, name: str = "dscnn", spec: dict | None = None) -> dict:
    """What ``reference_ann.pt`` holds: the batch-norm-folded network's state and
    what rebuilds it (:func:`load_reference`)."""
    x = data["train"][0]
    return {"name": name, "spec": {**DSCNN_S, **(spec or {})}, "input_shape": [int(s) for s in x.shape[1:]],
            "classes": len(data["classes"]), "state_dict": folded.state_dict()}


def load_reference(path) -> torch.nn.Sequential:
    """The folded DS-CNN saved by :func:`checkpoint` (``torch.load`` with
    ``weights_only=True``), in eval mode."""
    from spikeport.train.int8 import fold_batchnorm

    ck = safe_load(path, "cpu")
    c, h, w = ck["input_shape"]
    net = fold_batchnorm(build_dscnn(c, h, w, int(ck["classes"]), ck["spec"]))
    net.load_state_dict(ck["state_dict"])
    return net.eval()


def batches(x: np.ndarray, size: int = 256, dtype=torch.float32):
    """``x`` in batches of ``size`` as tensors of ``dtype`` (inputs for evaluation)."""
    for i in range(0, len(x), size):
        yield torch.from_numpy(np.ascontiguousarray(x[i:i + size])).to(dtype)
