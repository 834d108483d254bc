"""A memory budget checked before large allocations: a request that cannot fit is
one clear line, not an out-of-memory kill minutes later."""
from __future__ import annotations

import os

from spikeport.errors import SpikeportError

LIMIT_ENV = "SPIKEPORT_MEMORY_LIMIT"   # bytes; overrides the machine's available memory (tests)
SHARE = 0.8                           # of the available memory, one command may plan to use


def available_bytes() -> int:
    """Bytes this command may allocate: ``$SPIKEPORT_MEMORY_LIMIT`` if set, else
    ``SHARE`` of the kernel's MemAvailable (of total physical memory elsewhere)."""
    if os.environ.get(LIMIT_ENV):
        return int(os.environ[LIMIT_ENV])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(SHARE * int(line.split()[1]) * 1024)
    except OSError:
        pass
    return int(SHARE * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def gib(n: float) -> str:
    return f"{n / 2 ** 30:.3g} GiB" if n >= 2 ** 27 else f"{n / 2 ** 20:.3g} MiB"


def check_memory(nbytes: float, what: str, hint: str = "") -> None:
    """Raise :class:`SpikeportError` when ``nbytes`` exceed :func:`available_bytes`."""
    have = available_bytes()
    if nbytes > have:
        raise SpikeportError(f"{what} needs {gib(nbytes)}, more than the {gib(have)} available"
                             + (f"; {hint}" if hint else ""))
