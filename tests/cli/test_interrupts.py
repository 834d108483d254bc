"""Failing, hung and interrupted runs: one line, the right exit status, nothing left behind.

Lava cases run ``spikeport`` in a subprocess tagged with a unique environment
variable; every process that inherits it (the supervised child and Lava's workers)
is found through ``/proc/*/environ``, so "no leftover processes" checks exactly the
processes this test started. Shared memory is checked as ``/dev/shm/psm_*``.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch

from spikeport.cli import main
from spikeport.locks import locked
from spikeport.sim.synthetic import write_network

CUBA = {"type": "CUBA", "iDecay": 1024, "vDecay": 512, "vThMant": 40}
DENSE = [{"type": "input", "shape": [3]}, {"type": "dense", "weight": [[2, 0, 4], [0, 0, 6]], "neuron": CUBA}]


def _tagged(tag: str) -> list[int]:
    """Pids of live processes whose environment carries ``SPIKEPORT_TEST_TAG=tag``."""
    pids, needle = [], f"SPIKEPORT_TEST_TAG={tag}".encode()
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            if needle in (p / "environ").read_bytes().split(b"\0"):
                state = (p / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    pids.append(int(p.name))
        except OSError:
            continue
    return pids


def _segments() -> set[str]:
    return {p.name for p in Path("/dev/shm").glob("psm_*")}


def _spikeport(args: list[str], tag: str, **env) -> subprocess.Popen:
    full = {**os.environ, "SPIKEPORT_TEST_TAG": tag, "OMP_NUM_THREADS": "1", **env}
    return subprocess.Popen([sys.executable, "-c", "import sys; from spikeport.cli import main; sys.exit(main())",
                             *args], env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _gone(tag: str, within_s: float) -> list[int]:
    t = time.monotonic()
    while time.monotonic() - t < within_s:
        left = _tagged(tag)
        if not left:
            return []
        time.sleep(0.2)
    return _tagged(tag)


@pytest.fixture
def dense_net(tmp_path):
    net, x = tmp_path / "net.net", tmp_path / "x.npy"
    write_network(net, DENSE)
    np.save(x, np.ones((3, 200)))
    return net, x


def _one_line(err: str) -> str:
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.lava
@pytest.mark.parametrize("fault", ["raise", "hang"])
def test_failing_or_hung_lava_worker_ends_the_run(dense_net, tmp_path, fault):
    net, x = dense_net
    out, tag, shm = tmp_path / "out.npy", uuid.uuid4().hex, _segments()
    t = time.monotonic()
    p = _spikeport(["sim", str(net), "--input", str(x), "-o", str(out), "--backend", "lava"], tag,
                   SPIKEPORT_LAVA_FAULT=fault, SPIKEPORT_LAVA_STALL_S="20")   # above Lava's start-up here
    _, err = p.communicate(timeout=120)
    line = _one_line(err)
    assert p.returncode == 2, err
    assert ("injected fault" in line) if fault == "raise" else ("no progress for 20 s" in line), line
    assert time.monotonic() - t < 90
    assert not out.exists()
    assert _gone(tag, 5) == []
    assert _segments() - shm == set()


@pytest.mark.lava
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_lava_run_exits_130_and_ends_its_workers(dense_net, tmp_path, sig):
    net, x = dense_net
    np.save(x, np.ones((3, 200000)))                   # long enough to be running when interrupted
    out, tag, shm = tmp_path / "out.npy", uuid.uuid4().hex, _segments()
    p = _spikeport(["sim", str(net), "--input", str(x), "-o", str(out), "--backend", "lava"], tag)
    t = time.monotonic()
    while len(_tagged(tag)) < 3 and time.monotonic() - t < 90:   # parent, supervised child, workers
        time.sleep(0.2)
    assert len(_tagged(tag)) >= 3, "the Lava run never started"
    time.sleep(2.0)
    p.send_signal(sig)
    t = time.monotonic()
    _, err = p.communicate(timeout=60)
    assert time.monotonic() - t < 15, "the interrupt took too long"
    assert p.returncode == 130, err
    assert _one_line(err) == "spikeport: interrupted"
    assert not out.exists()
    assert _gone(tag, 5) == []
    assert _segments() - shm == set()


def test_second_writer_of_a_run_folder_gets_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    with locked(out, "training run"):
        t = time.monotonic()
        code = main(["train", "kws", "--out", str(out), "--quiet", "--epochs", "1"])
        assert time.monotonic() - t < 30
    err = capsys.readouterr().err
    assert code == 2
    assert f"pid {os.getpid()}" in _one_line(err) and "another spikeport process" in err
    assert sorted(p.name for p in out.iterdir()) == [".spikeport.lock"]


def test_second_demo_into_one_folder_gets_one_line(tmp_path, capsys, monkeypatch):
    from spikeport.pipeline import DEMO_LOCK

    monkeypatch.setenv("SPIKEPORT_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "demo"
    with locked(out, "demo run", lock_file=out / DEMO_LOCK):
        t = time.monotonic()
        code = main(["demo", "--out", str(out)])
        assert time.monotonic() - t < 30            # refused before building any corpus
    err = capsys.readouterr().err
    assert code == 2 and "another spikeport process" in _one_line(err)
    assert not (tmp_path / "cache").exists()


TINY = dict(model="dense", delays=False, epochs=2, ann_epochs=1, reference="none", batch_size=16)


def _weights(run: Path) -> dict:
    return torch.load(run / "model.pt", map_location="cpu", weights_only=True)["state_dict"]


def test_resumed_run_equals_an_uninterrupted_one(tmp_path, kws_cache, small_corpus, monkeypatch):
    from spikeport.train import kws
    from spikeport.train.config import KwsConfig

    cfg = lambda: KwsConfig(corpus=small_corpus, seed=3, **TINY)  # noqa: E731
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    kws.train_kws(cfg(), straight, cache_dir=kws_cache, progress=False)

    end_epoch = kws._end_epoch

    def end_then_die(run, *a, **k):
        end_epoch(run, *a, **k)
        raise KeyboardInterrupt          # killed right after the first checkpoint

    monkeypatch.setattr(kws, "_end_epoch", end_then_die)
    with pytest.raises(KeyboardInterrupt):
        kws.train_kws(cfg(), resumed, cache_dir=kws_cache, progress=False)
    assert (resumed / "checkpoint.pt").is_file() and not (resumed / "model.pt").exists()
    monkeypatch.setattr(kws, "_end_epoch", end_epoch)
    kws.train_kws(cfg(), resumed, resume=True, cache_dir=kws_cache, progress=False)

    a, b = _weights(straight), _weights(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    import json
    ma, mb = (json.loads((r / "metrics.json").read_text()) for r in (straight, resumed))
    drop = lambda h: [{k: v for k, v in e.items() if k != "seconds"} for e in h]  # noqa: E731
    assert drop(ma) == drop(mb)


def test_ctrl_c_in_training_exits_130_and_leaves_no_half_run(tmp_path):
    out, tag, cache = tmp_path / "run", uuid.uuid4().hex, tmp_path / "cache"
    p = _spikeport(["train", "kws", "--out", str(out), "--quiet", "--model", "dense", "--no-delays",
                    "--epochs", "50", "--corpus-clips", "12", "--reference", "none"], tag, SPIKEPORT_CACHE=str(cache))
    t = time.monotonic()
    while not (out / ".spikeport.lock").exists() and time.monotonic() - t < 120:
        time.sleep(0.2)
    time.sleep(3.0)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert _one_line(err) == "spikeport: interrupted"
    # interrupted before its first checkpoint: nothing left; after it, a resumable run
    assert not out.exists() or (out / "checkpoint.pt").is_file(), sorted(p.name for p in out.iterdir())
    # the corpus it was building is either whole or absent: no temporary folders or files
    assert not [p for p in cache.rglob("*") if ".tmp" in p.name or p.name.startswith("tmp")], list(cache.rglob("*"))
