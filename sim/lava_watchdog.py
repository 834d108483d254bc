"""Lava runs under a watchdog: a failing worker, a stall or an interrupt ends the run,
its worker processes and its shared memory, with one line.

Lava's runtime forks a worker process per process model and waits for them; when a
worker raises, the runtime can wait forever, and an interrupted run leaves its
workers and shared-memory segments behind. :func:`supervised` therefore runs the
whole simulation in a forked child that leads a new process group (so it and every
Lava worker it forks can be ended together, and nothing else), and watches it:

* a worker's traceback on the child's stderr, or the child's death: the group is
  ended and the worker's error comes back as one :class:`SpikeportError` line;
* no progress (a sample finished) for ``stall_s`` seconds: likewise, naming the stall;
* Ctrl-C or SIGTERM in the parent: the group is ended, then the interrupt goes on
  (the command line prints one line and exits 130);
* afterwards, shared-memory segments (``/dev/shm/psm_*``) that appeared during the
  run and are still there are removed.

Results travel as ``.npy`` files (never pickled). ``SPIKEPORT_LAVA_STALL_S`` sets the
stall limit; ``SPIKEPORT_LAVA_FAULT`` (``raise`` or ``hang``, for tests) makes the
child's first Lava process model fail that way inside its worker.
"""
from __future__ import annotations

import os
import select
import signal
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from spikeport.errors import SpikeportError

SHM = Path("/dev/shm")
GRACE_S = 2.0


def stall_limit(steps: int) -> float:
    """Seconds a sample may take before the run counts as hung (env ``SPIKEPORT_LAVA_STALL_S``)."""
    env = os.environ.get("SPIKEPORT_LAVA_STALL_S")
    return float(env) if env else 300.0 + 0.5 * steps


def _segments() -> set[str]:
    try:
        return {p.name for p in SHM.iterdir() if p.name.startswith("psm_")}
    except OSError:
        return set()


def end_group(pid: int) -> None:
    """SIGTERM then, after a grace period, SIGKILL the process group led by ``pid``; reap it."""
    for sig, wait in ((signal.SIGTERM, GRACE_S), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            break
        t = time.monotonic()
        while time.monotonic() - t < wait:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                break
            time.sleep(0.05)
    try:
        os.killpg(pid, signal.SIGKILL)       # workers that outlived the leader
    except ProcessLookupError:
        pass


def _error_line(stderr: str) -> str:
    """The last exception line of a traceback ("ValueError: ...")."""
    lines = [l.strip() for l in stderr.splitlines() if l.strip()]
    for l in reversed(lines):
        if ":" in l and not l.startswith(("File ", "Traceback", "^", "~")) and l.split(":")[0].replace(".", "").isidentifier():
            return l
    return lines[-1] if lines else "no message"


def _child(job: Path, work: Callable[[Path, Callable[[int], None]], None], out_fd: int, err_fd: int) -> None:
    """The forked child: a new process group, stderr to the pipe, ``work`` run, exit code."""
    code = 0
    try:
        os.setsid()
        os.dup2(err_fd, 2)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _report_worker_errors()
        _inject_fault()
        work(job, lambda k: os.write(out_fd, f"{k}\n".encode()))
    except SpikeportError as e:
        (job / "error.txt").write_text(str(e))
        code = 2
    except BaseException as e:  # noqa: BLE001 - reported to the parent as one line
        (job / "error.txt").write_text(f"{type(e).__name__}: {' '.join(str(e).split())}")
        code = 3
    finally:
        os._exit(code)


def supervised(work: Callable[[Path, Callable[[int], None]], None], samples: int, steps: int, what: str,
               on_progress: Callable[[int], None] | None = None) -> Path:
    """Run ``work(job_dir, report)`` in a supervised child (see the module doc);
    ``report(k)`` marks sample ``k`` done. Returns the job folder the child wrote its
    results into (the caller removes it)."""
    job = Path(tempfile.mkdtemp(prefix="spikeport-lava-"))
    before = _segments()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(out_r)
        os.close(err_r)
        _child(job, work, out_w, err_w)
    os.close(out_w)
    os.close(err_w)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        _watch(pid, out_r, err_r, samples, stall_limit(steps), what, job, on_progress)
    except BaseException:
        end_group(pid)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
        os.close(out_r)
        os.close(err_r)
        for name in _segments() - before:
            try:
                (SHM / name).unlink()
            except OSError:
                pass
    return job


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _watch(pid: int, out_r: int, err_r: int, samples: int, stall_s: float, what: str, job: Path,
           on_progress: Callable[[int], None] | None) -> None:
    stderr, done, last = "", 0, time.monotonic()
    while True:
        ready, _, _ = select.select([out_r, err_r], [], [], 0.2)
        if out_r in ready:
            data = os.read(out_r, 4096).decode()
            if data:
                done += data.count("\n")
                last = time.monotonic()
                if on_progress is not None:
                    on_progress(data.count("\n"))
        if err_r in ready:
            stderr += os.read(err_r, 65536).decode(errors="replace")
            if "Traceback (most recent call last)" in stderr:
                time.sleep(0.5)                   # let the traceback finish
                r, _, _ = select.select([err_r], [], [], 0)
                if r:
                    stderr += os.read(err_r, 65536).decode(errors="replace")
                end_group(pid)
                raise SpikeportError(f"{what}: a Lava worker failed ({_error_line(stderr)}); the run and its "
                                     f"workers were stopped")
        finished, status = os.waitpid(pid, os.WNOHANG)
        if finished:
            code = os.waitstatus_to_exitcode(status)
            if _group_alive(pid):
                os.killpg(pid, signal.SIGKILL)   # workers left behind by a leader that exited
            if code == 0 and done >= samples:
                return
            err = (job / "error.txt").read_text() if (job / "error.txt").is_file() else _error_line(stderr)
            if code == 2:
                raise SpikeportError(err)
            raise SpikeportError(f"{what}: the Lava run failed ({err})")
        if time.monotonic() - last > stall_s:
            end_group(pid)
            raise SpikeportError(f"{what}: no progress for {stall_s:.0f} s (sample {done + 1} of {samples}); the "
                                 f"Lava run and its workers were stopped")


def _group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _report_worker_errors() -> None:
    """Make a Lava worker print its exception before it waits for its ports.

    A process model that raises tells the runtime service, then calls ``join()``
    inside its ``except`` block and can block there forever, so its traceback never
    appears. Printing the exception being handled when ``join`` starts puts it on
    the child's stderr, where :func:`_watch` sees it at once."""
    import sys
    import traceback

    from spikeport.lava_compat import prepare_lava_import

    prepare_lava_import()
    from lava.magma.core.model.py.model import AbstractPyProcessModel

    join = AbstractPyProcessModel.join

    def join_reporting(self):
        if sys.exc_info()[1] is not None:
            traceback.print_exc(file=sys.stderr)
            sys.stderr.flush()
        return join(self)

    AbstractPyProcessModel.join = join_reporting


def _inject_fault() -> None:
    """Test hook: make the LIF process model fail inside Lava's worker."""
    fault = os.environ.get("SPIKEPORT_LAVA_FAULT")
    if not fault:
        return
    from lava.proc.lif import models

    def broken(self):
        if fault == "hang":
            time.sleep(3600)
        raise RuntimeError("injected fault in a Lava worker")

    models.PyLifModelBitAcc.run_spk = broken


def save_arrays(folder: Path, prefix: str, arrays: list[np.ndarray]) -> None:
    for i, a in enumerate(arrays):
        np.save(folder / f"{prefix}{i}.npy", np.asarray(a), allow_pickle=False)


def load_arrays(folder: Path, prefix: str, count: int) -> list[np.ndarray]:
    return [np.load(folder / f"{prefix}{i}.npy", allow_pickle=False) for i in range(count)]
