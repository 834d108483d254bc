"""The ``spikeport`` command line: one subcommand per stage, plus ``demo``."""
from __future__ import annotations

import os
import sys

from spikeport import cmd_demo, cmd_eval, cmd_export, cmd_hw, cmd_nir, cmd_report, cmd_sim, cmd_train
from spikeport.errors import SpikeportError
from spikeport.options import Parser


def build_parser() -> Parser:
    p = Parser(
        prog="spikeport",
        description="Train SLAYER SNNs, export them to Loihi (netx HDF5), simulate them "
                    "bit-exactly and report their energy against an equivalent ANN.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=Parser)
    # each stage registers its own subcommands, in pipeline order
    cmd_train.register(sub)
    cmd_export.register(sub)
    cmd_sim.register(sub)
    cmd_eval.register(sub)
    cmd_hw.register(sub)
    cmd_report.register(sub)
    cmd_nir.register(sub)

    cmd_demo.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help, or a one-line option error from Parser
        return e.code if isinstance(e.code, int) else 2
    try:
        return args.func(args)
    except SpikeportError as e:
        print(f"spikeport: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("spikeport: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into a reader that stopped early (e.g. head)
        # route further writes to nowhere, so the interpreter's exit flush cannot fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
