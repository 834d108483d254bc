"""Subcommands of the train and export stages: ``spikeport train kws`` and ``spikeport export``."""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from spikeport.errors import SpikeportError
from spikeport.options import integer, number


def _encoder_params(items: list[str]) -> dict:
    params = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SpikeportError(f"--encoder-param {item!r}: expected NAME=VALUE")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def _cmd_train_kws(args: argparse.Namespace) -> int:
    from spikeport.train.audio_augment import AudioAugment
    from spikeport.train.augment import Augment
    from spikeport.train.encoders import encoded_shape
    from spikeport.train.kws import KwsConfig, train_kws

    d = KwsConfig()

    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(name)s: %(message)s")
    if args.data is not None and not Path(args.data).is_dir():
        raise SpikeportError(f"--data {args.data}: no such folder")
    corpus = {}
    if args.corpus_clips is not None:
        corpus["clips_per_word"] = args.corpus_clips
    if args.carrier_percent:
        corpus["carrier_percent"] = args.carrier_percent
    cfg = KwsConfig(data=args.data, task=args.task, model=args.model, encoder=args.encoder,
                    encoder_params=_encoder_params(args.encoder_param), delays=not args.no_delays,
                    epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                    ann_epochs=args.ann_epochs, reference=args.reference,
                    reference_epochs=args.reference_epochs, limit=args.limit, device=args.device, corpus=corpus,
                    tail=args.tail, augment=(d.augment or Augment().to_json()) if args.augment else {},
                    audio_augment=(d.audio_augment or AudioAugment().to_json()) if args.audio_augment else {},
                    dropout=args.dropout, label_smoothing=args.label_smoothing, ema=args.ema,
                    weight_decay=args.weight_decay)
    cfg.validate("options")
    encoded_shape(cfg.encoder, (1, 3, 40, 101), **cfg.encoder_params)  # validate the encoder early
    s = train_kws(cfg, args.out, resume=args.resume, progress=not args.quiet)
    if not s:      # a non-zero rank under torchrun
        return 0
    rates = " ".join(f"{r:.3f}" for r in s["firing_per_layer"])
    print(f"test clips {s['test_clips']}, {len(s['classes'])} classes")
    print(f"SNN accuracy  float {s['float_accuracy']:.3f}  quantized {s['quantized_accuracy']:.3f}")
    print(f"ANN twin accuracy   fp32 {s['ann_accuracy']:.3f}  int8 {s['ann_int8_accuracy']:.3f}")
    if "reference_accuracy" in s:
        print(f"DS-CNN accuracy     fp32 {s['reference_accuracy']:.3f}  int8 {s['reference_int8_accuracy']:.3f}")
    print(f"firing (spikes per neuron per step): mean {s['firing_mean']:.4f}; per layer {rates}")
    print(f"training time {s['train_seconds']:.0f} s (SNN) + {s['ann_seconds']:.0f} s (ANN twin)"
          + (f" + {s['reference_seconds']:.0f} s (DS-CNN)" if "reference_seconds" in s else ""))
    print(f"run folder: {args.out}  (next: spikeport export {args.out})")
    return 0


def _int(name: str):
    from spikeport.train.config import INT_LIMITS

    return integer(*INT_LIMITS[name])


def _num(name: str):
    from spikeport.train.config import FLOAT_LIMITS

    lo, hi, lo_open, hi_open = FLOAT_LIMITS[name]
    return number(lo, hi, lo_open, hi_open)


def register(sub) -> None:
    """Add ``train`` and ``export`` to the ``spikeport`` subparsers ``sub``."""
    from spikeport.train.config import CORPUS_KEYS, KwsConfig

    d = KwsConfig()
    t = sub.add_parser("train", help="train a spiking network (spikeport train kws ...)")
    tsub = t.add_subparsers(dest="task_name", metavar="TASK", required=True)
    s = tsub.add_parser("kws", help="keyword spotting from audio (Speech Commands or the embedded corpus)",
                        description="Train a keyword-spotting SNN (quantization-aware) and its ANN twin.")
    s.add_argument("--data", default=None,
                   help="Speech Commands folder (v0.01 or v0.02 layout); default: the embedded eSpeak corpus")
    s.add_argument("--task", choices=["12", "all"], default="12",
                   help="12: yes..go + unknown + silence (default); all: every word its own class")
    s.add_argument("--model", choices=["conv", "dense"], default="conv")
    s.add_argument("--encoder", choices=["direct", "rate", "latency", "delta"], default="direct")
    s.add_argument("--encoder-param", action="append", metavar="NAME=VALUE",
                   help="encoder parameter, e.g. threshold=0.3 (repeatable)")
    s.add_argument("--no-delays", action="store_true", help="no learnable axonal delays")
    s.add_argument("--tail", type=_int("tail"), default=d.tail,
                   help="timesteps of no input after each clip, so late words are answered inside the "
                        f"readout window (default {d.tail})")
    s.add_argument("--augment", action=argparse.BooleanOptionalAction, default=bool(d.augment),
                   help="perturb training features: mel band shift or warp, level offset, noise, SpecAugment "
                        f"masks (train/augment.py; default {'on' if d.augment else 'off'})")
    s.add_argument("--audio-augment", action=argparse.BooleanOptionalAction, default=bool(d.audio_augment),
                   help="train also on cached perturbed copies of the clips: speed, reverberation, equalisation, "
                        f"noise (train/audio_augment.py; default {'on' if d.audio_augment else 'off'})")
    s.add_argument("--dropout", type=_num("dropout"), default=d.dropout,
                   help="probability of silencing an input or hidden neuron for a whole clip while "
                        f"training (SLAYER neuron dropout; default {d.dropout:g})")
    s.add_argument("--label-smoothing", type=_num("label_smoothing"), default=d.label_smoothing,
                   help=f"cross-entropy label smoothing (default {d.label_smoothing:g})")
    s.add_argument("--ema", type=_num("ema"), default=d.ema,
                   help="validate, test and save an exponential moving average of the weights with this "
                        f"per-step decay; 0: the last weights (default {d.ema:g})")
    s.add_argument("--weight-decay", type=_num("weight_decay"), default=d.weight_decay,
                   help=f"AdamW weight decay, not on delays (default {d.weight_decay:g})")
    s.add_argument("--epochs", type=_int("epochs"), default=d.epochs, help=f"default {d.epochs}")
    s.add_argument("--batch-size", type=_int("batch_size"), default=d.batch_size, help=f"default {d.batch_size}")
    s.add_argument("--lr", type=_num("lr"), default=d.lr, help=f"Adam(W) learning rate, cosine-annealed (default {d.lr:g})")
    s.add_argument("--ann-epochs", type=_int("ann_epochs"), default=d.ann_epochs, help=f"ANN twin epochs (default {d.ann_epochs})")
    s.add_argument("--reference", choices=["dscnn", "none"], default=d.reference,
                   help="reference ANN over the whole spectrogram, trained on the same features and splits: "
                        f"dscnn (DS-CNN-S, Zhang et al. 2017) or none (default {d.reference})")
    s.add_argument("--reference-epochs", type=_int("reference_epochs"), default=d.reference_epochs,
                   help=f"reference ANN epochs (default {d.reference_epochs})")
    s.add_argument("--limit", type=_int("limit"), default=None, help="at most N clips per split (quick runs)")
    s.add_argument("--corpus-clips", type=integer(*CORPUS_KEYS["clips_per_word"]), default=None,
                   help="embedded corpus: clips per command word")
    s.add_argument("--carrier-percent", type=integer(*CORPUS_KEYS["carrier_percent"]), default=0,
                   help="embedded corpus: percent of clips cut from short carrier phrases (default 0)")
    s.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    s.add_argument("--seed", type=_int("seed"), default=0)
    s.add_argument("--out", default="runs/kws", help="run folder (default runs/kws)")
    s.add_argument("--resume", action="store_true", help="continue the run in --out after its last epoch")
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.set_defaults(func=_cmd_train_kws)
    r = tsub.add_parser("robust-set", help="build the robustness set: held-out voices, rooms, equalisers, noises",
                        description="Build the keyword robustness set (Speech Commands layout, every clip in "
                                    "testing_list.txt) from eSpeak NG voices and variants the embedded corpus "
                                    "never uses, with rooms, equalisers and noises training never applies; "
                                    "evaluate on it with spikeport eval NET --data DIR.")
    r.add_argument("--out", default=None, help="folder (default: robust in the cache, ~/.cache/spikeport)")
    r.add_argument("--clips-per-word", type=integer(1, 100_000), default=None, help="per command word (default 40)")
    r.add_argument("--clips-per-unknown", type=integer(0, 100_000), default=None, help="per other word (default 8)")
    r.add_argument("--seed", type=_int("seed"), default=0)
    r.set_defaults(func=_cmd_robust_set)


def _cmd_robust_set(args: argparse.Namespace) -> int:
    from spikeport.train import robust_corpus as rc
    from spikeport.train.config import default_cache_dir

    sizes = {"clips_per_word": args.clips_per_word or rc.DEFAULT_CLIPS_PER_WORD,
             "clips_per_unknown": rc.DEFAULT_CLIPS_PER_UNKNOWN if args.clips_per_unknown is None
             else args.clips_per_unknown, "seed": args.seed}
    out = Path(args.out) if args.out else rc.robust_root(default_cache_dir(), **sizes)
    root = rc.build_robustness_set(out, **sizes)
    clips = len((root / "testing_list.txt").read_text().split())
    print(f"robustness set: {clips} word clips in {root} (next: spikeport eval NET --data {root})")
    return 0

