"""One writer at a time: an exclusive lock per run folder and per shared cache entry.

``with locked(folder, "training run"):`` takes ``folder/.spikeport.lock`` with
``flock`` (released when the process ends, however it ends); a second writer gets one
line saying who holds it, instead of racing the first for the same files.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator

from spikeport.errors import SpikeportError

LOCK_NAME = ".spikeport.lock"


@contextlib.contextmanager
def locked(folder: str | os.PathLike, what: str, lock_file: str | os.PathLike | None = None) -> Iterator[Path]:
    """Hold the lock of ``folder`` (created if missing) for the ``with`` body; raises
    :class:`SpikeportError` at once when another process holds it. ``lock_file``:
    a lock of its own for one entry of a shared cache folder."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(Path(lock_file) if lock_file else folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise SpikeportError(f"{folder}: cannot lock for the {what} ({e.strerror})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            raise SpikeportError(f"{folder}: another spikeport process (pid {holder}) is writing this {what}; "
                                 f"wait for it or choose another folder") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield folder
    finally:
        os.close(fd)
