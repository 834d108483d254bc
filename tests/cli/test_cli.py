"""The command line: help, pending subcommands, and one-line errors for bad input."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spikeport.cli import main

BIN = Path(sys.executable).parent / "spikeport"


def test_console_script_lists_every_subcommand():
    r = subprocess.run([str(BIN), "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0
    for name in ("train", "export", "sim", "eval", "hw", "report", "demo"):
        assert f"    {name} " in r.stdout


def test_closed_output_pipe_exits_141_without_traceback():
    """``spikeport hw profile loihi2 | head -0``: the reader is gone before the first
    write; the command stops with 128 + SIGPIPE and no traceback, as shell tools do."""
    proc = subprocess.Popen([str(BIN), "hw", "profile", "loihi2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 141, err.decode()
    assert b"Traceback" not in err and b"Exception ignored" not in err, err.decode()




def test_sim_missing_network(tmp_path, capsys):
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((4, 3)))
    assert main(["sim", str(tmp_path / "nope.net"), "--input", str(x), "-o", str(tmp_path / "o.npy")]) == 2
    assert "nope.net: no such network file" in capsys.readouterr().err
    assert not (tmp_path / "o.npy").exists()


def test_sim_rejects_nan_input(digits_slice, tmp_path, capsys):
    x = np.zeros((64, 5))
    x[3, 2] = np.nan
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "o.npy"
    assert main(["sim", digits_slice["net"], "--input", str(tmp_path / "x.npy"), "-o", str(out)]) == 2
    assert "NaN" in capsys.readouterr().err and not out.exists()


@pytest.mark.lava
def test_sim_lava_writes_output(digits_slice, tmp_path):
    from spikeport.sim import run_lava

    rng = np.random.default_rng(0)
    x = (rng.random((64, 12)) < 0.4).astype(float)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "o.npy"
    assert main(["sim", digits_slice["net"], "--input", str(tmp_path / "x.npy"), "-o", str(out)]) == 0
    np.testing.assert_array_equal(np.load(out), run_lava(digits_slice["net"], x))


@pytest.mark.parametrize("cmd", [["eval", "NET", "--data", "DIR", "--backend", "loihi"],
                                 ["report", "NET", "--data", "DIR", "--backend", "loihi", "-o", "OUT"]])
def test_loihi_backend_unavailable_is_one_clear_line(cmd, digits_slice, tmp_path, capsys):
    from spikeport.sim.loihi_backend import missing_loihi_modules

    assert missing_loihi_modules(), "this test is for machines without lava-loihi"
    args = [digits_slice["net"] if a == "NET" else str(tmp_path) if a == "DIR" else
            str(tmp_path / "out") if a == "OUT" else a for a in cmd]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("spikeport: error:") and "lava-loihi" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args,message", [
    (["--tail", "-1"], "argument --tail: -1 is out of range: must be in [0, 1000]"),
    (["--tail", "ten"], "argument --tail: 'ten' is not an integer"),
    (["--dropout", "1.5"], "argument --dropout: 1.5 is out of range: must be in [0.0, 1.0)"),
    (["--lr", "nan"], "argument --lr: 'nan' is not a finite number"),
    (["--label-smoothing", "1"], "argument --label-smoothing: 1 is out of range: must be in [0.0, 1.0)"),
    (["--ema", "-0.1"], "argument --ema: -0.1 is out of range: must be in [0.0, 1.0)"),
    (["--weight-decay", "-1"], "argument --weight-decay: -1 is out of range"),
    (["--data", "no/such/folder"], "--data no/such/folder: no such folder"),
])
def test_train_kws_bad_options_fail_before_training(args, message, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "kws", "--out", str(out), "--quiet"] + args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
