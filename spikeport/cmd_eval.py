"""``spikeport eval``: dataset accuracy and activity of an exported network (glue of
train's data/features/encoders and sim's backends)."""
from __future__ import annotations

import argparse

from spikeport.errors import SpikeportError


def _pending_eval(args: argparse.Namespace) -> int:
    raise SpikeportError("'spikeport eval' (dataset accuracy and activity totals of an exported "
                         "network) is not built yet: it arrives with issue #4")


def register(sub) -> None:
    """Add ``eval`` to the ``spikeport`` subparsers ``sub``."""
    s = sub.add_parser("eval", help="dataset accuracy and activity totals of an exported network [issue #4]")
    s.add_argument("args", nargs=argparse.REMAINDER)
    s.set_defaults(func=_pending_eval)
