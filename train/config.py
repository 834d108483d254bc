"""The configuration of a keyword-spotting run (``config.json``), importable without
torch: the command line builds its options from these defaults."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path


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
    def from_json(cls, d: dict) -> "KwsConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})
