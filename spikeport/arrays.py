"""Reading user arrays (``.npy``) without trusting them: never unpickled, memory-mapped
so that a very large file costs nothing until its size has been checked."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from spikeport.errors import SpikeportError


def load_array(path: str | os.PathLike, what: str = "input") -> np.ndarray:
    """The array in the ``.npy`` file ``path``, memory-mapped read-only where the
    file allows (any shape, numeric dtypes only). Raises :class:`SpikeportError`
    naming ``path`` for a missing or unreadable file, a ``.npz`` archive, an object
    (pickled), string, complex or structured dtype, or a 0-d array."""
    p = Path(path)
    if p.exists() and not p.is_file():
        kind = "a folder" if p.is_dir() else "not a regular file (a FIFO, device or socket)"
        raise SpikeportError(f"{path}: is {kind}; the {what} is a .npy file")
    try:
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError as e:
        raise SpikeportError(f"{path}: cannot read the {what} ({e.strerror or e})") from None
    if head[:4] == b"PK\x03\x04":
        raise SpikeportError(f"{path}: a .npz archive; the {what} is one .npy array")
    try:
        x = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        msg = " ".join(str(e).split())
        raise SpikeportError(f"{path}: cannot read as a .npy array ({msg})") from None
    if x.dtype.kind not in "biuf" or x.dtype.fields is not None:
        raise SpikeportError(f"{path}: dtype {x.dtype} is not a real number type (bool, int, uint, float)")
    if x.ndim == 0:
        raise SpikeportError(f"{path}: a 0-d array (one number); the {what} needs (inputs..., T)")
    return x
