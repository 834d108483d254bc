"""The ``spikeport`` command line: one subcommand per stage, plus ``demo``."""
from __future__ import annotations

import argparse
import sys

from spikeport import cmd_demo, cmd_eval, cmd_hw, cmd_sim, cmd_train
from spikeport.errors import SpikeportError


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

    cmd_demo.register(sub)
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
