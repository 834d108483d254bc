"""``spikeport demo``: the whole pipeline on the embedded corpus (see spikeport.pipeline)."""
from __future__ import annotations

import argparse
import logging


def _fmt_pj(v) -> str:
    if v is None:
        return "unknown"
    for unit, scale in (("mJ", 1e9), ("uJ", 1e6), ("nJ", 1e3)):
        if v >= scale:
            return f"{v / scale:.3g} {unit}"
    return f"{v:.3g} pJ"


def _cmd_demo(args: argparse.Namespace) -> int:
    from spikeport.pipeline import run_demo

    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    corpus = {"clips_per_word": args.corpus_clips} if args.corpus_clips else {}
    print(f"spikeport demo -> {args.out}", flush=True)
    s = run_demo(args.out, epochs=args.epochs, ann_epochs=args.ann_epochs, corpus=corpus,
                 lava_clips=args.lava_clips, limit=args.limit, seed=args.seed, force=args.force,
                 progress=not args.quiet)
    mism = s["spikes_mismatched"]
    comp = s["spikes_compared"]
    print()
    print(f"accuracy on {s['test_clips']} test clips: float {s['float_accuracy']:.3f}, "
          f"quantized (fast sim of model.net) {s['quantized_accuracy']:.3f}, ANN twin {s['ann_accuracy']:.3f}")
    print(f"Lava fixed_pt on {s['lava_clips']} clips: accuracy {s['lava_accuracy']:.3f}; spikes compared "
          f"{comp['lava_vs_fast']:,} vs fast ({mism['lava_vs_fast']} mismatched), "
          f"{comp['lava_vs_pytorch']:,} vs PyTorch ({mism['lava_vs_pytorch']} mismatched)")
    print(f"mean firing {s['firing_mean']:.4f} spikes per neuron per step; Loihi 2 cores {s['loihi2_cores']}"
          f"{'' if s['fits'] else ' (DOES NOT FIT)'}")
    snn, ann, r = s["snn_pJ"], s["ann_pJ"], s["ratio"]
    if snn:
        print(f"energy per inference: SNN {_fmt_pj(snn['low'])} - {_fmt_pj(snn['high'])}, "
              f"ANN (int8, SRAM) {_fmt_pj(ann['low'])} - {_fmt_pj(ann['high'])}")
    print(s["headline"])
    print(f"report: {s['report']}")
    return 0 if s["bit_exact"] and s["activity_counts_equal"] else 1


def register(sub) -> None:
    """Add ``demo`` to the ``spikeport`` subparsers ``sub``."""
    from spikeport.train.kws import KwsConfig

    s = sub.add_parser("demo", help="whole pipeline on the embedded corpus: train, export, verify, eval, map, report")
    s.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    s.add_argument("--epochs", type=int, default=KwsConfig.epochs, help=f"SNN training epochs (default {KwsConfig.epochs})")
    s.add_argument("--ann-epochs", type=int, default=8)
    s.add_argument("--lava-clips", type=int, default=5, help="test clips to run through Lava and compare")
    s.add_argument("--limit", type=int, default=None, help="at most N clips per split (quick runs)")
    s.add_argument("--corpus-clips", type=int, default=None, help="embedded corpus: clips per command word")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--force", action="store_true", help="rerun every stage")
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.set_defaults(func=_cmd_demo)
