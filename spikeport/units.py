"""Numbers for people: SI prefixes for energies (pJ) and times (ns)."""
from __future__ import annotations

SCALES = {"pJ": [(1e12, "J"), (1e9, "mJ"), (1e6, "µJ"), (1e3, "nJ"), (1, "pJ")],
          "ns": [(1e9, "s"), (1e6, "ms"), (1e3, "µs"), (1, "ns")]}


def si(v: float | None, unit: str) -> str:
    """``v`` in ``unit`` (``pJ`` or ``ns``) scaled to a readable SI prefix, 3
    significant digits; ``unknown`` for None."""
    if v is None:
        return "unknown"
    for f, name in SCALES[unit]:
        if abs(v) >= f:
            return f"{v / f:.3g} {name}"
    return f"{v:.3g} {unit}"
