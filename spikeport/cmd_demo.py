"""``spikeport demo``: the whole pipeline on the embedded corpus (see spikeport.pipeline)."""
from __future__ import annotations

import argparse
import logging


def neurobench_text(rows: list[dict]) -> str:
    """NeuroBench's table (``energy.json`` ``neurobench.table``) as aligned text."""
    cols = [("system", "system", str), ("ClassificationAccuracy", "accuracy", "{:.3f}".format),
            ("Footprint", "Footprint B", "{:,.0f}".format), ("ConnectionSparsity", "ConnSparsity", "{:.3f}".format),
            ("ActivationSparsity", "ActSparsity", "{:.3f}".format), ("SynapticOperations_Dense", "Dense", "{:,.0f}".format),
            ("SynapticOperations_Effective_MACs", "Eff_MACs", "{:,.0f}".format),
            ("SynapticOperations_Effective_ACs", "Eff_ACs", "{:,.0f}".format),
            ("MembraneUpdates", "MembraneUpd", "{:,.0f}".format)]
    table = [[h for _, h, _ in cols]] + [["unknown" if r.get(k) is None else f(r[k]) for k, _, f in cols] for r in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(cols))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     for r in table)


def _cmd_demo(args: argparse.Namespace) -> int:
    from spikeport.pipeline import run_demo
    from spikeport.units import si

    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    corpus = {"clips_per_word": args.corpus_clips} if args.corpus_clips else {}
    print(f"spikeport demo -> {args.out}", flush=True)
    s = run_demo(args.out, epochs=args.epochs, ann_epochs=args.ann_epochs, reference=args.reference,
                 reference_epochs=args.reference_epochs, corpus=corpus,
                 lava_clips=args.lava_clips, limit=args.limit, seed=args.seed, force=args.force,
                 progress=not args.quiet)
    mism = s["spikes_mismatched"]
    comp = s["spikes_compared"]
    acc = lambda v: "not trained" if v is None else f"{v:.3f}"  # noqa: E731
    print()
    print(f"accuracy on {s['test_clips']} test clips: SNN float {s['float_accuracy']:.3f}, quantized (fast sim "
          f"of model.net) {s['quantized_accuracy']:.3f}; ANN twin fp32 {acc(s['ann_accuracy'])}, int8 "
          f"{acc(s['ann_int8_accuracy'])}; DS-CNN fp32 {acc(s['reference_accuracy'])}, int8 "
          f"{acc(s['reference_int8_accuracy'])}")
    print(f"robustness set ({s['robust_clips']} clips; held-out voices, rooms, equalisers, noises): SNN "
          f"{s['robust_accuracy']:.3f}, ANN twin {s['robust_ann_accuracy']:.3f}")
    print(f"check: Lava fixed_pt on {s['lava_clips']} clips, spikes compared {comp['lava_vs_fast']:,} vs fast "
          f"({mism['lava_vs_fast']} mismatched), {comp['lava_vs_pytorch']:,} vs PyTorch "
          f"({mism['lava_vs_pytorch']} mismatched)")
    print(f"mean firing {s['firing_mean']:.4f} spikes per neuron per step; Loihi 2 cores {s['loihi2_cores']}"
          f"{'' if s['fits'] else ' (DOES NOT FIT)'}")
    if s["snn_pJ"]:
        print(f"SNN energy per inference on Loihi 2 (Loihi 1 figures as a stand-in): {si(s['snn_pJ']['low'], 'pJ')}"
              f" - {si(s['snn_pJ']['high'], 'pJ')}")
    print(s["headline"])
    print("NeuroBench (per inference):")
    print(neurobench_text(s["neurobench"]))
    print(f"report: {s['report']}")
    return 0 if s["bit_exact"] and s["activity_counts_equal"] else 1


def register(sub) -> None:
    """Add ``demo`` to the ``spikeport`` subparsers ``sub``."""
    from spikeport.cmd_train import _int
    from spikeport.options import integer
    from spikeport.train.config import CORPUS_KEYS, KwsConfig

    s = sub.add_parser("demo", help="whole pipeline on the embedded corpus: train, export, verify, eval, map, report")
    s.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    s.add_argument("--epochs", type=_int("epochs"), default=KwsConfig.epochs, help=f"SNN training epochs (default {KwsConfig.epochs})")
    s.add_argument("--ann-epochs", type=_int("ann_epochs"), default=KwsConfig.ann_epochs)
    s.add_argument("--reference", choices=["dscnn", "none"], default=KwsConfig.reference,
                   help="reference ANN (DS-CNN) trained beside the SNN, or none")
    s.add_argument("--reference-epochs", type=_int("reference_epochs"), default=KwsConfig.reference_epochs)
    s.add_argument("--lava-clips", type=integer(1, 1000), default=5, help="test clips to run through Lava and compare")
    s.add_argument("--limit", type=_int("limit"), default=None, help="at most N clips per split (quick runs)")
    s.add_argument("--corpus-clips", type=integer(*CORPUS_KEYS["clips_per_word"]), default=None, help="embedded corpus: clips per command word")
    s.add_argument("--seed", type=_int("seed"), default=0)
    s.add_argument("--force", action="store_true", help="rerun every stage")
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.set_defaults(func=_cmd_demo)
