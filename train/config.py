"""The configuration of a keyword-spotting run (``config.json``), importable without
torch: the command line builds its options from these defaults."""
from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from spikeport.errors import SpikeportError

# (lo, hi, open ends) of every numeric field: the one definition the command line and
# KwsConfig.validate share. tail: each step of tail is a step of every clip's input.
INT_LIMITS = {"tail": (0, 1000), "epochs": (1, 100_000), "batch_size": (1, 65_536), "ann_epochs": (1, 100_000),
              "reference_epochs": (1, 100_000), "seed": (0, 2 ** 32 - 1), "limit": (1, 10 ** 9)}
FLOAT_LIMITS = {"lr": (0.0, 10.0, True, False), "weight_decay": (0.0, 100.0, False, False),
                "dropout": (0.0, 1.0, False, True), "label_smoothing": (0.0, 1.0, False, True),
                "ema": (0.0, 1.0, False, True), "penalty": (0.0, 1e6, False, False),
                "ce_gain": (0.0, 1e6, True, False), "true_rate": (0.0, 1.0, False, False),
                "false_rate": (0.0, 1.0, False, False)}
CHOICES = {"task": ("12", "all"), "model": ("conv", "dense"), "encoder": ("direct", "rate", "latency", "delta"),
           "loss": ("ce", "rate"), "reference": ("dscnn", "none"), "device": ("auto", "cpu", "cuda")}
CORPUS_KEYS = {"clips_per_word": (1, 100_000), "clips_per_unknown": (0, 100_000), "seed": (0, 2 ** 32 - 1),
               "carrier_percent": (0, 100)}


def default_cache_dir() -> Path:
    """Where the embedded corpus and feature caches live (``$SPIKEPORT_CACHE`` or
    ``~/.cache/spikeport``)."""
    return Path(os.environ.get("SPIKEPORT_CACHE", Path.home() / ".cache" / "spikeport"))


@dataclass
class KwsConfig:
    """Everything that decides a keyword-spotting run (saved as ``config.json``)."""

    data: str | None = None             # Speech Commands folder; None: the embedded eSpeak corpus
    task: str = "12"                    # "12" (standard) or "all" (every word)
    model: str = "conv"                 # "conv" or "dense"
    encoder: str = "direct"             # direct | rate | latency | delta
    encoder_params: dict = field(default_factory=dict)
    tail: int = 50                      # timesteps of no input after each clip (see encode_features)
    augment: dict = field(default_factory=dict)  # train/augment.Augment fields; {}: none
    audio_augment: dict = field(default_factory=dict)  # train/audio_augment.AudioAugment fields; {}: none
    delays: bool = True                 # learnable axonal delays in the hidden dense layer
    dropout: float = 0.0                # SLAYER neuron dropout while training (input and hidden layers)
    epochs: int = 11
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.0           # AdamW's decoupled weight decay (not on delays)
    label_smoothing: float = 0.1        # cross-entropy label smoothing ("ce" loss)
    ema: float = 0.998                  # > 0: validate, test and save an exponential moving average
                                        # of the weights, updated every step with this decay; 0: off
    arch: dict = field(default_factory=dict)     # spec overrides: "layers", "neuron", "weight_scale"
    penalty: float = 0.1                # spike-count penalty weight (Zimmer et al.: 0.1)
    loss: str = "ce"                    # "ce": cross-entropy on output rates x ce_gain; "rate": MSE to target rates
    ce_gain: float = 20.0               # logits = output spikes per step x ce_gain
    true_rate: float = 0.25             # "rate" loss: target output firing (spikes per step), true class
    false_rate: float = 0.02            # ... other classes
    ann_epochs: int = 8
    reference: str = "dscnn"            # reference ANN over the whole spectrogram: "dscnn" or "none"
    reference_epochs: int = 8
    seed: int = 0
    corpus: dict = field(default_factory=dict)   # build_corpus options for the embedded corpus
    features: dict = field(default_factory=dict)  # FeatureParams overrides (train/features.py)
    limit: int | None = None            # use at most this many clips per split (quick runs)
    device: str = "auto"                # auto | cpu | cuda

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict, where: str = "config") -> "KwsConfig":
        """A validated configuration from ``d`` (``config.json``); unknown or bad fields are one-line errors."""
        if not isinstance(d, dict):
            raise SpikeportError(f"{where}: not a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise SpikeportError(f"{where}: unknown field(s) {', '.join(unknown)}")
        return cls(**d).validate(where)

    def validate(self, where: str = "config") -> "KwsConfig":
        """Every field's type and range (:data:`INT_LIMITS`, :data:`FLOAT_LIMITS`,
        :data:`CHOICES`); returns ``self`` or raises :class:`SpikeportError` naming the field."""
        for name, (lo, hi) in INT_LIMITS.items():
            v = getattr(self, name)
            if name == "limit" and v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise SpikeportError(f"{where}: {name} is {v!r}; allowed: an integer in [{lo}, {hi}]")
        for name, (lo, hi, lo_open, hi_open) in FLOAT_LIMITS.items():
            v = getattr(self, name)
            ok = (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                  and (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi))
            if not ok:
                raise SpikeportError(f"{where}: {name} is {v!r}; allowed: a number in "
                                     f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}")
        for name, options in CHOICES.items():
            if getattr(self, name) not in options:
                raise SpikeportError(f"{where}: {name} is {getattr(self, name)!r}; allowed: {', '.join(options)}")
        for name in ("encoder_params", "augment", "audio_augment", "arch", "corpus", "features"):
            if not isinstance(getattr(self, name), dict):
                raise SpikeportError(f"{where}: {name} must be an object")
        for key, v in self.corpus.items():
            if key not in CORPUS_KEYS:
                raise SpikeportError(f"{where}: corpus.{key} is not a corpus option (known: {', '.join(CORPUS_KEYS)})")
            lo, hi = CORPUS_KEYS[key]
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise SpikeportError(f"{where}: corpus.{key} is {v!r}; allowed: an integer in [{lo}, {hi}]")
        from spikeport.train.features import FeatureParams

        FeatureParams.from_json(self.features, f"{where}: features")
        if self.audio_augment:
            from spikeport.train.audio_augment import AudioAugment

            AudioAugment.from_json(self.audio_augment, f"{where}: audio_augment")
        if not isinstance(self.delays, bool):
            raise SpikeportError(f"{where}: delays must be true or false")
        if self.data is not None and not isinstance(self.data, str):
            raise SpikeportError(f"{where}: data must be a folder path or null")
        return self
