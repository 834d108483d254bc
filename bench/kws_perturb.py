"""How much each augmentation's perturbation costs a trained keyword spotter: the
test split, perturbed one way at a time at fixed strengths, scored by a run's
quantized SNN and its ANN twin (issue #18: each augmentation measured on its own).

    .venv/bin/python bench/kws_perturb.py RUN_DIR [RUN_DIR ...] [--json F] [--limit N]

A model trained with an augmentation should lose less on that row than one trained
without it; comparing two runs (e.g. without and with ``audio_augment``) shows what
each augmentation bought. Perturbations (train/audio_augment.py, train/augment.py):
speed x0.85 / x1.15, tempo x0.85 / x1.15, pitch -2 / +2 semitones, reverberation
RT60 0.5 s, random peaking EQ (3 bands, up to +-10 dB, gain +-6 dB), corpus noise at 10
and 0 dB SNR, vocal-tract warp x0.9 / x1.1 and SpecAugment masks (2 x 10 frames + 2 x
5 bands), on the features.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Callable

import numpy as np

import spikeport  # noqa: F401
from spikeport.train import audio_augment as au
from spikeport.train import augment as fa
from spikeport.train.config import default_cache_dir
from spikeport.train.corpus import NOISE_TYPES, corpus_root, noise
from spikeport.train.features import FeatureParams, features_of
from spikeport.train.robust_eval import load_run, score
from spikeport.train.speech_commands import load_split, read_clips

Wave = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def _noise_at(snr: float) -> Wave:
    def f(y, rng):
        kind = NOISE_TYPES[int(rng.integers(len(NOISE_TYPES)))]
        return au.mix_at_snr(y, noise(kind, y.size, rng), snr)
    return f


WAVE: dict[str, Wave] = {
    "speed x0.85": lambda y, rng: au.fit_length(au.change_speed(y, 0.85), y.size, rng),
    "speed x1.15": lambda y, rng: au.fit_length(au.change_speed(y, 1.15), y.size, rng),
    "tempo x0.85": lambda y, rng: au.fit_length(au.stretch_tempo(y, 0.85), y.size, rng),
    "tempo x1.15": lambda y, rng: au.fit_length(au.stretch_tempo(y, 1.15), y.size, rng),
    "pitch -2 st": lambda y, rng: au.shift_pitch(y, -2.0),
    "pitch +2 st": lambda y, rng: au.shift_pitch(y, 2.0),
    "reverb RT60 0.5 s": lambda y, rng: au.reverberate(y, au.room_impulse(0.5, rng)),
    "random EQ": lambda y, rng: au.random_eq(y, rng),
    "noise 10 dB": _noise_at(10.0),
    "noise 0 dB": _noise_at(0.0),
}
FEATURE = {
    "warp x0.9": lambda x, rng: fa.warp_bands(x, np.full(len(x), 0.9)),
    "warp x1.1": lambda x, rng: fa.warp_bands(x, np.full(len(x), 1.1)),
    "SpecAugment masks": lambda x, rng: fa.mask(fa.mask(x, 3, 2, 10, rng), 2, 2, 5, rng),
}


def perturbed_features(audio: np.ndarray, params: FeatureParams, name: str, seed: int = 0) -> np.ndarray:
    """Features ``(clips, 3, bands, frames)`` of ``audio`` ``(clips, samples)`` under
    perturbation ``name`` ("clean", a :data:`WAVE` or a :data:`FEATURE` key)."""
    rng = np.random.default_rng([seed, len(name)])
    if name in WAVE:
        audio = np.stack([WAVE[name](a.astype(np.float64), rng) for a in audio])
    feats = features_of(audio, params)
    if name in FEATURE:
        # per-clip z-scored features: 0 is each band's mean, as in training's masks
        feats = FEATURE[name](feats, rng)
    return feats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--json", default=None)
    ap.add_argument("--limit", type=int, default=None, help="score the first N test clips only")
    a = ap.parse_args()
    loaded = {r: load_run(r) for r in a.runs}
    cfg, meta = next(iter(loaded.values()))[0], next(iter(loaded.values()))[2]
    params = FeatureParams(**meta["features"])
    split = load_split(corpus_root(default_cache_dir(), **cfg.corpus), "test", task=cfg.task, seed=cfg.seed)
    audio, kept, _ = read_clips(split.clips[: a.limit])
    labels = split.labels()[: a.limit][kept]
    audio = audio[kept]
    results: dict[str, dict] = {}
    label = {r: "/".join(Path(r).parts[-2:]) for r in a.runs}
    print("| perturbation | " + " | ".join(f"{label[r]} SNN | {label[r]} ANN twin" for r in a.runs) + " |")
    print("|" + " --- |" * (1 + 2 * len(a.runs)))
    for name in ["clean", *WAVE, *FEATURE]:
        t0 = time.time()
        feats = perturbed_features(audio, params, name)
        results[name] = {}
        for r, run in loaded.items():
            got = score(run, feats, labels)
            results[name][r] = {"snn": got["snn_accuracy"], "ann": got["ann_accuracy"]}
        cells = " | ".join(f"{results[name][r]['snn']:.3f} | {results[name][r]['ann']:.3f}" for r in a.runs)
        print(f"| {name} | {cells} |  ({time.time() - t0:.0f} s)", flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps({"clips": int(len(labels)), "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
