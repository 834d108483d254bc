"""The keyword-spotting data path of a training run: features and labels of the
splits (z-scored with the training split's statistics), and the encoded batches the
SNN takes."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spikeport.train.config import KwsConfig, default_cache_dir
from spikeport.train.encoders import encode_features


def prepare_data(cfg: KwsConfig, cache_dir: Path | None = None, progress: bool = True) -> dict[str, Any]:
    """Features and labels of the train/validation/test splits.

    Features are z-scored per (channel, band) with the training split's statistics
    (``"norm"``, which the exported model carries). Returns ``{"root", "classes",
    "params", "norm", "<split>": (features (clips, 3, bands, frames) float32,
    labels (clips,) int64), "train_copies": perturbed training features (copies,
    clips, 3, bands, frames) or None}``.
    """
    from spikeport.train.corpus import build_corpus, corpus_root
    from spikeport.train.features import FeatureParams, band_stats, compute_features, normalize
    from spikeport.train.speech_commands import load_split

    cache_dir = Path(cache_dir or default_cache_dir())
    if cfg.data is None:
        root = build_corpus(corpus_root(cache_dir, **cfg.corpus), progress=progress, **cfg.corpus)
    else:
        root = Path(cfg.data)
    params = FeatureParams.from_json(cfg.features, "config: features")
    out: dict[str, Any] = {"root": str(root), "params": params}
    for split in ("train", "validation", "test"):
        s = load_split(root, split, task=cfg.task, seed=cfg.seed)
        if cfg.limit is not None and len(s.clips) > cfg.limit:
            pick = np.sort(np.random.default_rng(cfg.seed).choice(len(s.clips), cfg.limit, replace=False))
            s = dataclasses.replace(s, clips=[s.clips[i] for i in pick])
        feats, labels, _ = compute_features(s, params, cache_dir=cache_dir / "features", progress=progress)
        if split == "train":
            out["norm"] = band_stats(feats)
            out["train_copies"] = _copies(cfg, s, params, out["norm"], cache_dir, progress)
        out[split] = (normalize(feats, out["norm"]), np.asarray(labels, dtype=np.int64))
        out["classes"] = list(s.classes)
    return out


def _copies(cfg: KwsConfig, split, params, norm: dict, cache_dir: Path, progress: bool) -> np.ndarray | None:
    """The normalised waveform-perturbed copies of the training split
    ``(copies, clips, 3, bands, frames)``, or None without ``cfg.audio_augment``."""
    if not cfg.audio_augment:
        return None
    from spikeport.train.audio_augment import AudioAugment
    from spikeport.train.augmented_features import augmented_features
    from spikeport.train.features import normalize

    aug = AudioAugment.from_json(cfg.audio_augment, "config: audio_augment")
    copies = augmented_features(split, params, aug, cfg.seed, cache_dir / "features", progress)
    return np.stack([normalize(c, norm) for c in copies])


def encoder_params(cfg: KwsConfig) -> dict:
    """The encoder's parameters as training uses them and the export records them
    (``cfg.encoder_params`` plus the ``tail``)."""
    return {**cfg.encoder_params, "tail": cfg.tail}


def encode_batch(cfg: KwsConfig, feats: np.ndarray, seed: int) -> torch.Tensor:
    """:func:`encode_features` for ``cfg``, as a tensor."""
    return torch.from_numpy(encode_features(cfg.encoder, encoder_params(cfg), feats, seed, cfg.model == "conv"))
