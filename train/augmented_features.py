"""Cached features of waveform-perturbed copies of a split.

Perturbing audio means computing features again, which costs more per clip than a
training step's share of it on 2 cores; so ``copies`` perturbed versions of every
training clip are computed once (:func:`spikeport.train.audio_augment.perturb`,
seeded per copy and clip), cached as ``.npz`` beside the clean features, and
training draws, for each clip of each batch, the clean version or one of the copies.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm import tqdm

from spikeport.atomic import atomic_path
from spikeport.train import speech_commands as sc
from spikeport.train.audio_augment import AudioAugment, perturb
from spikeport.train.features import FeatureParams, cache_key, features_of


def _chunk(clips: Sequence[sc.Clip], start: int, params: FeatureParams, aug: AudioAugment, seed: int, copy: int):
    audio, kept, _ = sc.read_clips(clips, params.sample_rate, max_bad_fraction=None)
    out = np.stack([perturb(audio[i], aug, np.random.default_rng([seed, copy, start + i]))
                    for i in np.flatnonzero(kept)]) if kept.any() else audio[:0]
    return features_of(out, params)


def _key(clips: Sequence[sc.Clip], params: FeatureParams, aug: AudioAugment, seed: int) -> str:
    h = hashlib.sha256(cache_key(clips, params).encode())
    h.update(json.dumps({"aug": aug.to_json(), "seed": seed}, sort_keys=True).encode())
    return h.hexdigest()[:24]


def augmented_features(split: sc.KwsSplit, params: FeatureParams, aug: AudioAugment, seed: int,
                       cache_dir: str | os.PathLike | None = None, progress: bool = True, workers: int = 2
                       ) -> np.ndarray:
    """Features of ``aug.copies`` perturbed versions of the readable clips of ``split``:
    float32 ``(copies, kept clips, channels, n_mels, frames)``, clip order as
    :func:`~spikeport.train.features.compute_features` returns them (unnormalised)."""
    clips = split.clips
    cache = None
    if cache_dir is not None:
        key = _key(clips, params, aug, seed)
        cache = Path(cache_dir) / f"kws-{split.split}-aug-{key}.npz"
        try:
            with np.load(cache, allow_pickle=False) as z:
                if str(z["key"]) == key:
                    return z["features"]
        except (OSError, ValueError, KeyError):
            pass
    size = max(16, min(256, math.ceil(len(clips) / max(1, 4 * workers))))
    tasks = [(clips[i:i + size], i, c) for c in range(aug.copies) for i in range(0, len(clips), size)]
    parts: dict[int, list] = {c: [] for c in range(aug.copies)}
    bar = tqdm(total=len(clips) * aug.copies, desc=f"augmented copies ({split.split})", unit="clip",
               disable=None if progress else True)
    import multiprocessing as mp

    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    with bar, ProcessPoolExecutor(max_workers=max(1, workers), mp_context=ctx) as ex:
        futures = [ex.submit(_chunk, cl, start, params, aug, seed, c) for cl, start, c in tasks]
        for (cl, _, c), fut in zip(tasks, futures):
            parts[c].append(fut.result())
            bar.update(len(cl))
    out = np.stack([np.concatenate(parts[c]) for c in range(aug.copies)]).astype(np.float32)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cache) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, key=np.array(key), features=out)
    return out


def draw(clean: np.ndarray, copies: np.ndarray | None, idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each clip index in ``idx``, its clean features or one of its perturbed
    copies, uniformly: ``(len(idx), channels, bands, frames)``."""
    if copies is None or len(copies) == 0:
        return clean[idx]
    which = rng.integers(0, len(copies) + 1, len(idx))
    out = clean[idx].copy()
    for k in range(len(copies)):
        sel = which == k + 1
        out[sel] = copies[k][idx[sel]]
    return out
