"""The thread that reports a Lava worker's exception must never read a worker's
pipe at the same time as Lava's own ``join`` (CI once failed with ``EOFError: Ran
out of input`` when both read one message)."""
from __future__ import annotations

import time
from types import SimpleNamespace

from spikeport.sim.lava_backend import watch_workers


class SlowActor:
    """Stands in for Lava's SystemProcess: each read of ``exception`` takes a while
    and is logged as ``(start, end)`` monotonic seconds."""

    def __init__(self, error=None, read_s: float = 0.02):
        self.reads: list[tuple[float, float]] = []
        self.error, self.read_s = error, read_s

    @property
    def exception(self):
        t = time.monotonic()
        time.sleep(self.read_s)
        self.reads.append((t, time.monotonic()))
        return self.error


def _net(*actors):
    return SimpleNamespace(_runtime=SimpleNamespace(_messaging_infrastructure=SimpleNamespace(actors=list(actors))))


def test_no_read_of_a_worker_pipe_after_stop_returns():
    actors = [SlowActor(), SlowActor()]
    stop = watch_workers(_net(*actors), period_s=0.001)
    deadline = time.monotonic() + 5
    while sum(len(a.reads) for a in actors) < 10 and time.monotonic() < deadline:
        time.sleep(0.005)
    stop()
    stopped_at = time.monotonic()
    before = [len(a.reads) for a in actors]
    time.sleep(0.2)
    assert before[0] >= 5, "the watcher never polled"
    assert [len(a.reads) for a in actors] == before        # nothing read after stop()
    assert all(end <= stopped_at for a in actors for _, end in a.reads)


def test_first_worker_error_goes_to_stderr_once(capsys):
    failing = SlowActor(error=(RuntimeError("boom"), "Traceback (most recent call last)\nRuntimeError: boom"))
    stop = watch_workers(_net(SlowActor(), failing), period_s=0.001)
    deadline = time.monotonic() + 5
    while not failing.reads and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.1)
    stop()
    err = capsys.readouterr().err
    assert err.count("RuntimeError: boom") == 1
    assert len(failing.reads) == 1                          # the thread ends after reporting


def test_stop_before_the_first_poll_reads_nothing():
    actor = SlowActor()
    stop = watch_workers(_net(actor), period_s=0.05)
    stop()
    time.sleep(0.15)
    assert actor.reads == []
