"""Command-line option types that refuse out-of-range values before any work starts,
and an argument parser whose errors are one line (``spikeport: error: ...``, exit 2)."""
from __future__ import annotations

import argparse
import math
import sys


class Parser(argparse.ArgumentParser):
    """``argparse`` with one-line errors: no usage block, exit status 2."""

    def error(self, message: str):
        print(f"spikeport: error: {self.prog}: {message}", file=sys.stderr)
        sys.exit(2)


def integer(lo: int | None = None, hi: int | None = None, what: str = ""):
    """An ``int`` option type within ``[lo, hi]``."""
    def parse(text: str) -> int:
        try:
            v = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            rng = f"in [{lo}, {hi}]" if lo is not None and hi is not None else f">= {lo}" if lo is not None else \
                f"<= {hi}"
            raise argparse.ArgumentTypeError(f"{v} is out of range: must be {rng}{what}")
        return v
    parse.__name__ = "integer"
    return parse


def number(lo: float | None = None, hi: float | None = None, lo_open: bool = False, hi_open: bool = False):
    """A finite ``float`` option type within ``[lo, hi]`` (open ends where asked)."""
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        bad = ((lo is not None and (v < lo or (lo_open and v == lo)))
               or (hi is not None and (v > hi or (hi_open and v == hi))))
        if bad:
            left = "(" if lo_open else "["
            right = ")" if hi_open else "]"
            raise argparse.ArgumentTypeError(f"{v:g} is out of range: must be in {left}{lo}, {hi}{right}")
        return v
    parse.__name__ = "number"
    return parse
