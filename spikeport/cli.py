"""The ``spikeport`` command line: one subcommand per stage, plus ``demo``."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from spikeport.errors import SpikeportError

PENDING = {
    "train": (3, "keyword-spotting training (spikeport train kws ...)"),
    "export": (6, "re-exporting a training run directory"),
    "eval": (4, "dataset accuracy and activity totals of an exported network"),
    "hw": (5, "Loihi resource mapping (spikeport hw map ...)"),
    "report": (5, "the SNN-vs-ANN energy report"),
}


def _pending(name: str):
    issue, what = PENDING[name]

    def run(args: argparse.Namespace) -> int:
        raise SpikeportError(f"'spikeport {name}' ({what}) is not built yet: it arrives with issue #{issue}")

    return run


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


def _cmd_sim(args: argparse.Namespace) -> int:
    import numpy as np

    from spikeport.atomic import atomic_path
    from spikeport.sim import run_fast, run_lava

    net = Path(args.net)
    if not net.is_file():
        raise SpikeportError(f"{net}: no such network file")
    try:
        x = np.load(args.input)
    except (OSError, ValueError) as e:
        raise SpikeportError(f"{args.input}: cannot read as a .npy array ({e})") from None
    if not np.isfinite(x).all():
        raise SpikeportError(f"{args.input}: input contains NaN or infinite values")
    if args.steps is not None:
        x = x[..., :args.steps]
    out = run_lava(net, x) if args.backend == "lava" else run_fast(net, x).astype(x.dtype)
    with atomic_path(args.output) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, out)
    print(json.dumps({"output": args.output, "shape": list(out.shape), "spikes": int(out.sum())}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="spikeport",
        description="Train SLAYER SNNs, export them to Loihi (netx HDF5), simulate them "
                    "bit-exactly and report their energy against an equivalent ANN.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in ("train", "export"):
        s = sub.add_parser(name, help=f"{PENDING[name][1]} [issue #{PENDING[name][0]}]")
        s.add_argument("args", nargs=argparse.REMAINDER)
        s.set_defaults(func=_pending(name))

    s = sub.add_parser("sim", help="run a netx HDF5 network on an input array (Lava fixed_pt or fast)")
    s.add_argument("net", help="netx HDF5 network file")
    s.add_argument("--input", required=True, help=".npy input shaped (inputs..., T)")
    s.add_argument("--backend", choices=["lava", "fast"], default="lava")
    s.add_argument("--steps", type=int, default=None, help="timesteps to run (default: T of the input)")
    s.add_argument("-o", "--output", required=True, help=".npy file for the output spikes (outputs..., T)")
    s.set_defaults(func=_cmd_sim)

    for name in ("eval", "hw", "report"):
        s = sub.add_parser(name, help=f"{PENDING[name][1]} [issue #{PENDING[name][0]}]")
        s.add_argument("args", nargs=argparse.REMAINDER)
        s.set_defaults(func=_pending(name))

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
