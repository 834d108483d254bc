"""Subcommands of the train and export stages: ``spikeport train`` and ``spikeport export``."""
from __future__ import annotations

import argparse

from spikeport.errors import SpikeportError


def _pending(what: str, issue: int):
    def run(args: argparse.Namespace) -> int:
        raise SpikeportError(f"'spikeport {what}' is not built yet: it arrives with issue #{issue}")
    return run


def register(sub) -> None:
    """Add ``train`` and ``export`` to the ``spikeport`` subparsers ``sub``."""
    s = sub.add_parser("train", help="keyword-spotting training (spikeport train kws ...) [issue #3]")
    s.add_argument("args", nargs=argparse.REMAINDER)
    s.set_defaults(func=_pending("train", 3))
    s = sub.add_parser("export", help="re-export a training run directory [issue #6]")
    s.add_argument("args", nargs=argparse.REMAINDER)
    s.set_defaults(func=_pending("export", 6))
