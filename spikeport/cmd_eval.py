"""``spikeport eval``: dataset accuracy and activity of an exported network (glue of
train's data/features/encoders and sim's backends)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from spikeport.errors import SpikeportError
from spikeport.options import integer


def _cmd_eval(args: argparse.Namespace) -> int:
    from spikeport.atomic import atomic_path, check_output
    from spikeport.evaluate import evaluate_network

    if args.json:
        check_output(args.json, [args.net], what="--json file")
    if not Path(args.data).is_dir():
        raise SpikeportError(f"--data {args.data}: no such folder")
    r = evaluate_network(args.net, args.data, split=args.split, limit=args.limit, backend=args.backend,
                         batch_size=args.batch_size, progress=not args.quiet)
    if args.json:
        with atomic_path(args.json) as tmp:
            Path(tmp).write_text(json.dumps(r) + "\n")
    per = r["per_inference"]
    print(f"{r['network']}: {r['split']} split of {r['data']}, {r['clips']} clips, backend {r['backend']}")
    print(f"accuracy {r['accuracy']:.4f}")
    print(f"per inference ({r['timesteps']} steps): {per['spikes']:.0f} spikes, {per['synops']:.0f} synaptic ops, "
          f"{per['neuron_updates']:.0f} neuron updates")
    nb = r["neurobench"]
    so = nb["SynapticOperations"]
    print(f"NeuroBench: ActivationSparsity {nb['ActivationSparsity']:.4f}, Effective_ACs {so['Effective_ACs']:,.0f}, "
          f"Effective_MACs {so['Effective_MACs']:,.0f}, Dense {so['Dense']:,.0f}, MembraneUpdates "
          + ("unknown" if nb["MembraneUpdates"] is None else f"{nb['MembraneUpdates']:,.0f}")
          + f", ConnectionSparsity {nb['ConnectionSparsity']:.4f}, ParameterCount {nb['ParameterCount']:,}")
    scored = [(c, a) for c, a in r["per_class_accuracy"].items() if a is not None]
    worst = sorted(scored, key=lambda kv: kv[1])[:3]
    print("lowest classes: " + ", ".join(f"{c} {a:.2f}" for c, a in worst))
    absent = [c for c, a in r["per_class_accuracy"].items() if a is None]
    if absent:
        print(f"no clips in this split: {', '.join(absent)}")
    if args.json:
        print(f"results: {args.json}")
    return 0


def register(sub) -> None:
    """Add ``eval`` to the ``spikeport`` subparsers ``sub``."""
    s = sub.add_parser("eval", help="dataset accuracy and activity totals of an exported network")
    s.add_argument("net", help="netx HDF5 network exported by spikeport (it carries its feature/encoder metadata)")
    s.add_argument("--data", required=True, help="Speech Commands layout folder (the real dataset or the embedded corpus)")
    s.add_argument("--backend", choices=["fast", "lava", "loihi"], default="fast",
                   help="loihi: Loihi2HwCfg on a Loihi system (needs the lava-loihi extension)")
    s.add_argument("--split", choices=["train", "validation", "test"], default="test")
    s.add_argument("--limit", type=integer(1), default=None, help="at most N clips (a seeded random subset)")
    s.add_argument("--batch-size", type=integer(1, 65_536), default=128)
    s.add_argument("--json", default=None, help="write accuracy, confusion and activity counts here")
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.set_defaults(func=_cmd_eval)
