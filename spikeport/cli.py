"""The ``spikeport`` command line: one subcommand per stage, plus ``demo``."""
from __future__ import annotations

import argparse
import sys

from spikeport import cmd_eval, cmd_hw, cmd_sim, cmd_train
from spikeport.errors import SpikeportError


def _cmd_demo(args: argparse.Namespace) -> int:
    from spikeport.vertical_slice import run_digits_slice

    print(f"spikeport demo: digits 8x8 vertical slice -> {args.out}", flush=True)
    s = run_digits_slice(args.out, epochs=args.epochs, lava_samples=args.lava_samples, seed=args.seed)
    print(f"float model accuracy      {s['float_accuracy']:.3f}  ({s['test_samples']} test samples)")
    print(f"quantized model accuracy  {s['quantized_accuracy']:.3f}  ({s['test_samples']} test samples)")
    print(f"Lava fixed_pt accuracy    {s['lava_accuracy']:.3f}  (first {s['lava_samples']} test samples; "
          f"quantized model on the same: {s['quantized_accuracy_on_lava_samples']:.3f})")
    print(f"spikes compared, all layers: {s['spikes_compared']}, mismatched: {s['spikes_mismatched']}")
    print(f"exported network: {s['net']}")
    return 0 if s["spikes_mismatched"] == 0 else 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="spikeport",
        description="Train SLAYER SNNs, export them to Loihi (netx HDF5), simulate them "
                    "bit-exactly and report their energy against an equivalent ANN.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # each stage registers its own subcommands, in pipeline order
    cmd_train.register(sub)
    cmd_sim.register(sub)
    cmd_eval.register(sub)
    cmd_hw.register(sub)

    s = sub.add_parser("demo", help="train -> export -> Lava on 8x8 digits, bit-exactness check")
    s.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    s.add_argument("--epochs", type=int, default=5)
    s.add_argument("--lava-samples", type=int, default=50, help="test samples to run through Lava")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=_cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SpikeportError as e:
        print(f"spikeport: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("spikeport: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
