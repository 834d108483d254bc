"""The export stage's subcommand: ``spikeport export RUN`` (a training run to netx HDF5)."""
from __future__ import annotations

import argparse
from pathlib import Path


def _cmd_export(args: argparse.Namespace) -> int:
    from spikeport.atomic import check_output
    from spikeport.export import export_run

    out = Path(args.output) if args.output else Path(args.run) / "model.net"
    check_output(out, [Path(args.run) / n for n in ("model.pt", "checkpoint.pt", "config.json", "ann.pt", "ann.json",
                                                     "reference_ann.pt", "reference_ann.json", "summary.json",
                                                     "metrics.json")], what="exported network (-o)")
    from spikeport.sim.netx_validate import problems

    path = export_run(args.run, args.output, check=problems)
    print(f"exported {path}")
    return 0


def register(sub) -> None:
    """Add ``export`` to the ``spikeport`` subparsers ``sub``."""
    s = sub.add_parser("export", help="export a training run to netx HDF5 (RUN/model.net)")
    s.add_argument("run", help="run folder written by 'spikeport train kws'")
    s.add_argument("-o", "--output", default=None, help="netx file (default RUN/model.net)")
    s.set_defaults(func=_cmd_export)
