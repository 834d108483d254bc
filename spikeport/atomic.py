"""Write files so that a crash or an error never leaves half of one behind, and never
write where a command must not.

:func:`atomic_path` writes beside the target and renames onto it. The target is
the file a symbolic link points to (the link stays a link); a directory, a device, a
FIFO or a socket is never replaced. :func:`check_output` says, before any work
starts, whether an output location can be written at all and whether it is one of
the command's inputs; :func:`remove_stale_temporaries` clears what a killed writer
left.
"""
from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

from spikeport.errors import SpikeportError

TMP_SUFFIX = ".tmp"


def _target(path: Path) -> Path:
    """Where writing ``path`` lands: symbolic links followed."""
    return Path(os.path.realpath(path))


def _same(a: Path, b: Path) -> bool:
    try:
        return _target(a) == _target(b) or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def check_output(path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (), folder: bool = False,
                 what: str = "output") -> Path:
    """Refuse, with one line naming it, an output location that cannot or must not be
    written: one of ``inputs`` (the same path or the same file), an existing
    directory where a file goes (or a file where a folder goes), a device, FIFO or
    socket, a parent that is a file, or a folder without write permission. Returns
    the path. ``folder``: the output is a folder the command fills."""
    p = Path(path)
    for i in inputs:
        if i is not None and _same(p, Path(i)):
            raise SpikeportError(f"{p}: the {what} is also an input of this command ({i}); choose another path")
    t = _target(p)
    if t.exists():
        mode = t.stat().st_mode
        if folder and not stat.S_ISDIR(mode):
            raise SpikeportError(f"{p}: exists and is not a folder (the {what} is a folder)")
        if not folder and stat.S_ISDIR(mode):
            raise SpikeportError(f"{p}: is a folder (the {what} is a file)")
        if not folder and not stat.S_ISREG(mode):
            raise SpikeportError(f"{p}: is not a regular file (a device, FIFO or socket); spikeport writes only "
                                 f"regular files")
    parent = t if folder and t.exists() else t.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise SpikeportError(f"{p}: cannot be created: {parent} is not a folder")
    _probe(p, parent)
    return p


def _probe(p: Path, parent: Path) -> None:
    """Create and remove a temporary folder in ``parent``: permission bits do not tell
    (root passes every check, yet /proc or a read-only mount refuses the write)."""
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".spikeport-probe-", dir=parent))
    except OSError as e:
        raise SpikeportError(f"{p}: cannot write in {parent} ({e.strerror or e})") from None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``'s target; rename it onto the target on
    success. On any exception the temporary file is removed and the target is left as
    it was; a failure to write (no space, read-only, no permission) is one
    :class:`SpikeportError` line naming ``path``."""
    path = Path(path)
    target = check_output(path)
    target = _target(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TMP_SUFFIX, dir=target.parent)
    except OSError as e:
        raise SpikeportError(f"{path}: cannot write ({e.strerror})") from None
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        # mkstemp creates 0600; give the file the permissions a plain open() would
        umask = os.umask(0)
        os.umask(umask)
        if tmp.is_file():
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except OSError as e:
        raise SpikeportError(f"{path}: cannot write ({e.strerror or e})") from None
    finally:
        if tmp.exists():
            tmp.unlink()


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files :func:`atomic_path` leaves when its writer is killed
    (``.<name>.<random>.tmp``) in ``folder``; call it while holding the folder's lock."""
    gone = []
    for p in Path(folder).glob(f".*{TMP_SUFFIX}"):
        if p.is_file():
            p.unlink(missing_ok=True)
            gone.append(p)
    return gone
