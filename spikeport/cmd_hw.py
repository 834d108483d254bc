"""Subcommands of the hw stage: ``spikeport hw map`` and ``spikeport report``."""
from __future__ import annotations

import argparse

from spikeport.errors import SpikeportError


def _pending(what: str):
    def run(args: argparse.Namespace) -> int:
        raise SpikeportError(f"'spikeport {what}' is not built yet: it arrives with issue #5")
    return run


def register(sub) -> None:
    """Add ``hw`` and ``report`` to the ``spikeport`` subparsers ``sub``."""
    s = sub.add_parser("hw", help="Loihi resource mapping (spikeport hw map ...) [issue #5]")
    s.add_argument("args", nargs=argparse.REMAINDER)
    s.set_defaults(func=_pending("hw"))
    s = sub.add_parser("report", help="the SNN-vs-ANN energy report [issue #5]")
    s.add_argument("args", nargs=argparse.REMAINDER)
    s.set_defaults(func=_pending("report"))
