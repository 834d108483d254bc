"""Hostile files, output paths and options (issue #19, points 3-5).

Every case runs the command line in-process (``spikeport.cli.main``) and expects a
refusal: exit status 2 (130 for an interrupt), one non-empty line on stderr without a
traceback that names the file, option or field at fault, nothing new left behind (no
output, no ``.tmp`` file) and every input byte-identical. A pickle that would run code
must never run: its payload would create a marker file.

Most cases use a tiny synthetic netx network. Checkpoint, export, resume and eval
cases share one tiny training run (``tiny_run``: a dense SNN without delays, one epoch
on 24 clips per split of the small embedded corpus, no reference ANN), copied per
test before it is tampered with.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import pickle
import shutil
import stat
import subprocess
import sys
import time
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

from spikeport.cli import main
from spikeport.sim.synthetic import write_network

CUBA = {"type": "CUBA", "iDecay": 1024, "vDecay": 512, "vThMant": 40}
DENSE = [{"type": "input", "shape": [3]}, {"type": "dense", "weight": [[2, 0, 4], [0, 0, 6]], "neuron": CUBA}]
PROC = Path("/proc/spikeport_hostile")     # cannot be created, even by root


# ------------------------------------------------------------------------------- helpers


class Boom:
    """An object whose unpickling runs code: it creates the file ``marker``."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').close()",)


def tree(*roots) -> dict[str, tuple]:
    """Every path under ``roots`` (hidden ones too): its kind and, for a regular file,
    a hash of its bytes; links and FIFOs are never followed or read."""
    found = {}
    for root in roots:
        root = Path(root)
        if not os.path.lexists(root):
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                p = Path(dirpath, name)
                mode = os.lstat(p).st_mode
                if stat.S_ISLNK(mode):
                    found[str(p)] = ("link", os.readlink(p))
                elif stat.S_ISREG(mode):
                    found[str(p)] = ("file", hashlib.sha256(p.read_bytes()).hexdigest())
                elif stat.S_ISDIR(mode):
                    found[str(p)] = ("dir",)
                elif stat.S_ISFIFO(mode):
                    found[str(p)] = ("fifo",)
                else:
                    found[str(p)] = ("other", mode)
    return found


def cli(capsys, argv) -> tuple[int, str, float]:
    """``main(argv)``: (exit status, stderr, seconds)."""
    capsys.readouterr()
    t0 = time.monotonic()
    with fresh_root_logger(), warnings_on_stderr():
        code = main([str(a) for a in argv])
    seconds = time.monotonic() - t0
    return code, capsys.readouterr().err, seconds


@contextlib.contextmanager
def fresh_root_logger():
    """The root logger as in a fresh process (no handler), so that a command's
    ``logging.basicConfig`` puts its handler on the (captured) stderr, where a user sees
    those lines; pytest's own handlers would otherwise swallow them."""
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    root.handlers = []
    try:
        yield
    finally:
        root.handlers = saved
        root.setLevel(level)


@contextlib.contextmanager
def warnings_on_stderr():
    """Python warnings as a fresh process shows them: printed on stderr (Python's
    default filters), not recorded by pytest."""
    with warnings.catch_warnings():
        warnings.resetwarnings()
        warnings.simplefilter("default")
        for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
            warnings.simplefilter("ignore", category)
        warnings.showwarning = lambda message, category, filename, lineno, file=None, line=None: sys.stderr.write(
            warnings.formatwarning(message, category, filename, lineno, line))
        yield


def assert_refused(code: int, err: str, *fragments: str, status: int = 2) -> None:
    """Exit ``status``, one non-empty stderr line without a traceback, naming ``fragments``."""
    assert code == status, f"exit status {code}, expected {status}; stderr:\n{err}"
    assert "Traceback" not in err, err
    for f in fragments:
        assert str(f) in err, f"{f!r} not named in: {err}"
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].strip() and err.endswith("\n"), f"not one line:\n{err}"
    prefix = "spikeport: interrupted" if status == 130 else "spikeport: error:"
    assert err.startswith(prefix), err
    control = sorted({repr(c) for c in lines[0] if ord(c) < 32 or ord(c) == 127})
    assert not control, f"control characters {control} in: {err!r}"


def assert_unchanged(before: dict, *roots) -> None:
    after = tree(*roots)
    new = sorted(set(after) - set(before))
    gone = sorted(set(before) - set(after))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    assert not new and not gone and not changed, f"new: {new}; gone: {gone}; changed: {changed}"


@contextlib.contextmanager
def fifo(path: Path):
    """A FIFO at ``path`` held open read-write (non-blocking), so that a writer never
    blocks on it; yields the descriptor to read what was written through."""
    os.mkfifo(path)
    fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    try:
        yield fd
    finally:
        os.close(fd)


def fifo_bytes(fd: int) -> bytes:
    try:
        return os.read(fd, 1 << 20)
    except BlockingIOError:
        return b""


def place(kind: str, folder: Path, target: Path | None = None) -> Path:
    """An output location of ``kind`` inside ``folder`` (``target``: what a link names)."""
    if kind == "hardlink":
        p = folder / "hardlink.out"
        os.link(target, p)
        return p
    if kind == "symlink":
        p = folder / "symlink.out"
        p.symlink_to(target)
        return p
    if kind == "dir":
        p = folder / "adir"
        p.mkdir()
        (p / "keep.txt").write_text("keep\n")
        return p
    if kind == "parent_file":
        (folder / "plain.txt").write_text("plain\n")
        return folder / "plain.txt" / "out.x"
    if kind == "proc":
        return PROC / "out.x"
    raise AssertionError(kind)


@pytest.fixture
def dense_net(tmp_path):
    """A dense CUBA network and an input of ones: (net, input)."""
    net, x = tmp_path / "net.net", tmp_path / "x.npy"
    write_network(net, DENSE)
    np.save(x, np.ones((3, 5)))
    return net, x


@pytest.fixture(scope="session")
def hostile_cache(tmp_path_factory) -> Path:
    """$SPIKEPORT_CACHE for this file's commands (feature caches), never ~/.cache."""
    return tmp_path_factory.mktemp("hostile-cache")


@pytest.fixture(autouse=True)
def _own_cache(monkeypatch, hostile_cache):
    monkeypatch.setenv("SPIKEPORT_CACHE", str(hostile_cache))
    monkeypatch.delenv("SPIKEPORT_MEMORY_LIMIT", raising=False)


@pytest.fixture(scope="session")
def corpus(kws_cache) -> Path:
    """The small embedded corpus (Speech Commands layout) that ``kws_cache`` built."""
    roots = [p for p in kws_cache.iterdir() if p.is_dir() and p.name.startswith("corpus")]
    assert len(roots) == 1, roots
    return roots[0]


TRAIN = ["train", "kws", "--model", "dense", "--no-delays", "--epochs", "1", "--ann-epochs", "1",
         "--reference", "none", "--limit", "24", "--batch-size", "8", "--tail", "10", "--device", "cpu",
         "--quiet"]


def train_argv(corpus: Path, out: Path) -> list[str]:
    return TRAIN + ["--data", str(corpus), "--out", str(out)]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, corpus, hostile_cache) -> Path:
    """One tiny training run, trained and exported through the command line (model.net)."""
    run = tmp_path_factory.mktemp("tiny-run") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPIKEPORT_CACHE", str(hostile_cache))
        t0 = time.monotonic()
        assert main(train_argv(corpus, run)) == 0
        assert main(["export", str(run)]) == 0
        print(f"\ntiny_run: trained and exported in {time.monotonic() - t0:.1f} s")
    for name in ("checkpoint.pt", "config.json", "metrics.json", "model.pt", "model.net", "summary.json"):
        assert (run / name).is_file(), name
    return run


@pytest.fixture
def run_copy(tiny_run, tmp_path) -> Path:
    """A private copy of the tiny run, to tamper with."""
    return Path(shutil.copytree(tiny_run, tmp_path / "run", symlinks=True))


def test_boom_payload_runs_when_unpickled_unsafely(tmp_path):
    """The marker mechanism itself works: a plain pickle.loads runs the payload."""
    marker = tmp_path / "marker"
    pickle.loads(pickle.dumps(Boom(marker)))
    assert marker.exists()


# ------------------------------------------------------------- A. checkpoints: export


def _model_case(case: str, path: Path, marker: Path) -> str | list[str]:
    """Tamper with ``model.pt`` at ``path``; returns the fragment(s) the error must name."""
    import torch

    if case == "pickle_exec":
        torch.save(Boom(marker), path)
        return "model.pt"
    if case == "pickle_exec_plain":        # a plain (non-zip) pickle file
        path.write_bytes(pickle.dumps({"spec": Boom(marker), "state_dict": {}}))
        return "model.pt"
    if case == "empty":
        path.write_bytes(b"")
        return "model.pt"
    if case == "random":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
        return "model.pt"
    if case == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 2])
        return "model.pt"
    if case == "list":
        torch.save([1, 2], path)
        return "model.pt"
    if case == "tensor":
        torch.save(torch.zeros(3), path)
        return "model.pt"
    ck = torch.load(path, weights_only=True)
    if case == "missing":
        path.unlink()
        return "model.pt"
    if case == "no_state_dict":
        del ck["state_dict"]
    elif case == "spec_not_object":
        ck["spec"] = [1, 2]
    elif case == "spec_empty":
        ck["spec"] = {}
    elif case == "meta_not_object":
        ck["meta"] = "meta"
    elif case == "conv_spec":            # another architecture's spec with these weights
        from spikeport.train.models import kws_spec

        ck["spec"] = kws_spec("conv", input_channels=3, bands=40, classes=12, delays=False)
    elif case == "wrong_keys":
        ck["state_dict"] = {f"other.{k}": v for k, v in ck["state_dict"].items()}
    elif case == "wrong_shape":
        k = next(k for k, v in ck["state_dict"].items() if v.ndim >= 2)
        ck["state_dict"][k] = torch.zeros((ck["state_dict"][k].shape[0] + 1,) + ck["state_dict"][k].shape[1:])
    elif case == "nan_weights":     # caught by export's check of the file it wrote, which it names
        k = next(k for k, v in ck["state_dict"].items() if v.ndim >= 2 and v.is_floating_point())
        ck["state_dict"][k] = torch.full_like(ck["state_dict"][k], float("nan"))
        torch.save(ck, path)
        return ["model.net", "nan"]
    elif case == "nan_norm":             # metadata evaluation would read, broken
        ck["meta"]["norm"]["mean"][0][0] = float("nan")
    elif case == "classes_not_list":
        ck["meta"]["classes"] = 12
    else:
        raise AssertionError(case)
    torch.save(ck, path)
    return "model.pt"


MODEL_CASES = ["pickle_exec", "pickle_exec_plain", "empty", "random", "truncated", "list", "tensor", "missing",
               "no_state_dict", "spec_not_object", "spec_empty", "meta_not_object", "conv_spec", "wrong_keys",
               "wrong_shape", "nan_weights", "nan_norm", "classes_not_list"]


@pytest.mark.parametrize("case", MODEL_CASES)
def test_export_refuses_hostile_model_file(case, run_copy, tmp_path, capsys):
    (run_copy / "model.net").unlink()
    marker = tmp_path / "marker"
    fragments = _model_case(case, run_copy / "model.pt", marker)
    before = tree(tmp_path)
    code, err, _ = cli(capsys, ["export", run_copy])
    assert not marker.exists(), "the pickle's code ran"
    assert_refused(code, err, *([fragments] if isinstance(fragments, str) else fragments))
    assert not (run_copy / "model.net").exists()
    assert_unchanged(before, tmp_path)


# ------------------------------------------------------------- A. checkpoints: resume


def _checkpoint_case(case: str, run: Path, marker: Path) -> str:
    """Tamper with ``run``'s checkpoint.pt; returns a fragment the error must name."""
    import torch

    path = run / "checkpoint.pt"
    if case == "pickle_exec":
        torch.save(Boom(marker), path)
    elif case == "pickle_exec_inside":      # a real checkpoint with a payload in one entry
        ck = torch.load(path, weights_only=True)
        ck["ema"] = Boom(marker)
        torch.save(ck, path)
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "random":
        path.write_bytes(np.random.default_rng(1).bytes(4096))
    elif case == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 2])
    elif case == "list":
        torch.save([1, 2], path)
    elif case == "missing":
        path.unlink()
    elif case == "model_file":              # the run's model.pt (another kind of checkpoint)
        shutil.copyfile(run / "model.pt", path)
    else:
        ck = torch.load(path, weights_only=True)
        if case == "epoch_minus_5":
            ck["epoch"] = -5
        elif case == "epoch_0":
            ck["epoch"] = 0
        elif case == "epoch_beyond":
            ck["epoch"] = 7
        elif case == "epoch_string":
            ck["epoch"] = "1"
        elif case == "epoch_bool":
            ck["epoch"] = True
        elif case == "no_rng":
            del ck["rng"]
        elif case == "metrics_not_json":
            ck["metrics"] = "{not json"
        elif case == "metrics_wrong_length":
            ck["metrics"] = json.dumps([{}, {}, {}])
        elif case == "model_wrong_keys":
            ck["model"] = {f"other.{k}": v for k, v in ck["model"].items()}
        elif case == "model_wrong_shape":
            k = next(k for k, v in ck["model"].items() if v.ndim >= 2)
            ck["model"][k] = torch.zeros(3, 3)
        elif case == "model_conv":            # another architecture's weights
            from spikeport.train.kws import build_snn
            from spikeport.train.models import kws_spec

            ck["model"] = build_snn(kws_spec("conv", input_channels=3, bands=40, classes=12, delays=False),
                                    seed=0).state_dict()
        elif case == "optimizer_other":
            ck["optimizer"] = {"state": {}, "param_groups": []}
        elif case == "rng_bad":
            ck["rng"] = torch.zeros(3)
        else:
            raise AssertionError(case)
        torch.save(ck, path)
    return "checkpoint.pt"


CHECKPOINT_CASES = ["pickle_exec", "pickle_exec_inside", "empty", "random", "truncated", "list", "missing",
                    "model_file", "epoch_minus_5", "epoch_0", "epoch_beyond", "epoch_string", "epoch_bool",
                    "no_rng", "metrics_not_json", "metrics_wrong_length", "model_wrong_keys", "model_wrong_shape",
                    "model_conv", "optimizer_other", "rng_bad"]


@pytest.mark.parametrize("case", CHECKPOINT_CASES)
def test_resume_refuses_hostile_checkpoint(case, run_copy, corpus, tmp_path, capsys):
    marker = tmp_path / "marker"
    fragment = _checkpoint_case(case, run_copy, marker)
    before = tree(tmp_path)
    code, err, _ = cli(capsys, train_argv(corpus, run_copy) + ["--resume"])
    assert not marker.exists(), "the pickle's code ran"
    assert_refused(code, err, fragment)
    assert_unchanged(before, tmp_path)


def _config_case(case: str, path: Path) -> None:
    cfg = json.loads(path.read_text())
    if case == "missing":
        path.unlink()
        return
    text = {
        "invalid_json": lambda: '{"epochs": 1,',
        "number": lambda: "42",
        "list": lambda: "[]",
        "empty": lambda: "",
        "not_utf8": lambda: None,
        "unknown_field": lambda: json.dumps({**cfg, "bogus": 1}),
        "bad_value": lambda: json.dumps({**cfg, "epochs": -3}),
        "string_epochs": lambda: json.dumps({**cfg, "epochs": "1"}),
        "nan_lr": lambda: json.dumps({**cfg, "lr": float("nan")}),
        "bad_corpus_key": lambda: json.dumps({**cfg, "corpus": {"bogus": 1}}),
        "features_unknown": lambda: json.dumps({**cfg, "features": {"bogus": 1}}),
        "deep_nesting": lambda: "[" * 100_000,
        "other_run": lambda: json.dumps({**cfg, "epochs": 2}),
    }[case]()
    if text is None:
        path.write_bytes(b"\xff\xfe{}")
    else:
        path.write_text(text)


CONFIG_CASES = ["missing", "invalid_json", "number", "list", "empty", "not_utf8", "unknown_field", "bad_value",
                "string_epochs", "nan_lr", "bad_corpus_key", "features_unknown", "deep_nesting", "other_run"]


@pytest.mark.parametrize("case", CONFIG_CASES)
def test_resume_refuses_hostile_config(case, run_copy, corpus, tmp_path, capsys):
    _config_case(case, run_copy / "config.json")
    before = tree(tmp_path)
    code, err, _ = cli(capsys, train_argv(corpus, run_copy) + ["--resume"])
    assert_refused(code, err, "config.json")
    assert_unchanged(before, tmp_path)


@pytest.mark.parametrize("case", ["missing", "invalid_json", "number", "wrong_length"])
def test_resume_with_hostile_metrics_json(case, run_copy, corpus, tmp_path, capsys):
    """``metrics.json`` is derived from the checkpoint (which carries the metrics): a
    resume must either refuse with one line and leave the folder as it was, or finish
    with a ``metrics.json`` that again holds the checkpoint's epochs. It must never
    finish leaving the run folder with a missing or broken metrics.json."""
    path = run_copy / "metrics.json"
    good = json.loads(path.read_text())
    if case == "missing":
        path.unlink()
    else:
        path.write_text({"invalid_json": "[{", "number": "7", "wrong_length": json.dumps(good * 3)}[case])
    before = tree(tmp_path)
    code, err, _ = cli(capsys, train_argv(corpus, run_copy) + ["--resume"])
    if code == 0:
        assert path.is_file(), "resume finished and left the run without metrics.json"
        got = json.loads(path.read_text())
        assert isinstance(got, list) and len(got) == 1, f"resume finished and left metrics.json as {got!r}"
    else:
        assert_refused(code, err, "metrics.json")
        assert_unchanged(before, tmp_path)


# ------------------------------------------------------------------ B. output paths: sim

SIM_OUT_KINDS = ["input", "hardlink_input", "symlink_input", "net", "hardlink_net", "symlink_net", "dir",
                 "parent_file", "proc", "fifo", "symlink_fifo", "dangling_symlink_into_file"]


def _sim_out(kind: str, folder: Path, net: Path, x: Path) -> Path:
    if kind == "input":
        return x
    if kind == "net":
        return net
    if kind in ("hardlink_input", "symlink_input"):
        return place(kind.split("_")[0], folder, x)
    if kind in ("hardlink_net", "symlink_net"):
        return place(kind.split("_")[0], folder, net)
    if kind == "dangling_symlink_into_file":   # a link whose target's parent is a regular file
        (folder / "plain.txt").write_text("plain\n")
        p = folder / "dangling.out"
        p.symlink_to(folder / "plain.txt" / "out.npy")
        return p
    return place(kind, folder)


@pytest.mark.parametrize("option", ["-o", "--counts"])
@pytest.mark.parametrize("kind", SIM_OUT_KINDS)
def test_sim_refuses_output_location(kind, option, dense_net, tmp_path, capsys):
    net, x = dense_net
    with contextlib.ExitStack() as stack:
        if kind in ("fifo", "symlink_fifo"):
            fd = stack.enter_context(fifo(tmp_path / "pipe"))
            dest = tmp_path / "pipe" if kind == "fifo" else place("symlink", tmp_path, tmp_path / "pipe")
        else:
            fd = None
            dest = _sim_out(kind, tmp_path, net, x)
        other = tmp_path / "ok" / ("c.json" if option == "-o" else "o.npy")
        argv = ["sim", net, "--input", x, "--backend", "fast"]
        argv += ["-o", dest, "--counts", other] if option == "-o" else ["-o", other, "--counts", dest]
        before = tree(tmp_path)
        code, err, _ = cli(capsys, argv)
        assert_refused(code, err, dest)
        assert_unchanged(before, tmp_path)
        if fd is not None:
            assert stat.S_ISFIFO(os.stat(tmp_path / "pipe").st_mode)
            assert fifo_bytes(fd) == b"", "wrote into the FIFO"
    assert not PROC.exists()


def test_sim_counts_same_file_as_output(dense_net, tmp_path, capsys):
    net, x = dense_net
    before = tree(tmp_path)
    out = tmp_path / "o.npy"
    code, err, _ = cli(capsys, ["sim", net, "--input", x, "--backend", "fast", "-o", out, "--counts", out])
    assert_refused(code, err, "o.npy")
    assert_unchanged(before, tmp_path)


def test_sim_output_symlink_is_written_through(dense_net, tmp_path, capsys):
    """A symlink output: the file it names is written, the link stays a link."""
    net, x = dense_net
    (tmp_path / "elsewhere").mkdir()
    target = tmp_path / "elsewhere" / "real.npy"
    link = tmp_path / "link.npy"
    link.symlink_to(target)
    code, err, _ = cli(capsys, ["sim", net, "--input", x, "--backend", "fast", "-o", link])
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert np.load(target).shape == (2, 5)
    assert sorted(p.name for p in (tmp_path / "elsewhere").iterdir()) == ["real.npy"]   # no .tmp left


def test_sim_output_in_missing_folder_creates_it(dense_net, tmp_path, capsys):
    """A missing parent folder is created (as for every spikeport output), not refused."""
    net, x = dense_net
    out = tmp_path / "a" / "b" / "o.npy"
    code, err, _ = cli(capsys, ["sim", net, "--input", x, "--backend", "fast", "-o", out])
    assert code == 0, err
    assert np.load(out).shape == (2, 5)
    assert sorted(p.name for p in out.parent.iterdir()) == ["o.npy"]


def test_sim_interrupted_while_writing_leaves_nothing(dense_net, tmp_path, capsys, monkeypatch):
    net, x = dense_net

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "save", interrupted)
    before = tree(tmp_path)
    code, err, _ = cli(capsys, ["sim", net, "--input", x, "--backend", "fast", "-o", tmp_path / "o.npy",
                                "--counts", tmp_path / "c.json"])
    assert_refused(code, err, status=130)
    assert_unchanged(before, tmp_path)


# -------------------------------------------------------------- B. output paths: hw map


@pytest.mark.parametrize("kind", ["net", "hardlink_net", "symlink_net", "dir", "parent_file", "proc", "fifo",
                                  "symlink_fifo", "profile"])
def test_hw_map_refuses_json_location(kind, dense_net, tmp_path, capsys):
    net, x = dense_net
    profile = tmp_path / "chip.json"
    profile.write_text(json.dumps(valid_profile()))
    with contextlib.ExitStack() as stack:
        fd = None
        if kind in ("fifo", "symlink_fifo"):
            fd = stack.enter_context(fifo(tmp_path / "pipe"))
            dest = tmp_path / "pipe" if kind == "fifo" else place("symlink", tmp_path, tmp_path / "pipe")
        elif kind == "profile":
            dest = profile
        else:
            dest = _sim_out(kind, tmp_path, net, x)
        before = tree(tmp_path)
        code, err, _ = cli(capsys, ["hw", "map", net, "--chip", profile, "--json", dest])
        assert_refused(code, err, dest)
        assert_unchanged(before, tmp_path)
        if fd is not None:
            assert stat.S_ISFIFO(os.stat(tmp_path / "pipe").st_mode)
            assert fifo_bytes(fd) == b""


# ------------------------------------------------------------ B. output paths: export


@pytest.mark.parametrize("kind", ["model.pt", "checkpoint.pt", "config.json", "metrics.json", "symlink_model",
                                  "hardlink_checkpoint", "run_folder", "dir", "parent_file", "proc", "fifo",
                                  "symlink_fifo"])
def test_export_refuses_output_location(kind, run_copy, tmp_path, capsys):
    (run_copy / "model.net").unlink()
    with contextlib.ExitStack() as stack:
        fd = None
        if kind in ("model.pt", "checkpoint.pt", "config.json", "metrics.json"):
            dest = run_copy / kind
        elif kind == "symlink_model":
            dest = place("symlink", tmp_path, run_copy / "model.pt")
        elif kind == "hardlink_checkpoint":
            dest = place("hardlink", tmp_path, run_copy / "checkpoint.pt")
        elif kind == "run_folder":
            dest = run_copy
        elif kind in ("fifo", "symlink_fifo"):
            fd = stack.enter_context(fifo(tmp_path / "pipe"))
            dest = tmp_path / "pipe" if kind == "fifo" else place("symlink", tmp_path, tmp_path / "pipe")
        else:
            dest = place(kind, tmp_path)
        before = tree(tmp_path)
        code, err, _ = cli(capsys, ["export", run_copy, "-o", dest])
        assert_refused(code, err, dest)
        assert_unchanged(before, tmp_path)
        if fd is not None:
            assert stat.S_ISFIFO(os.stat(tmp_path / "pipe").st_mode)
            assert fifo_bytes(fd) == b""
    assert not PROC.exists()


# --------------------------------------------------------------- B. output paths: eval


@pytest.mark.parametrize("kind", ["net", "symlink_net", "hardlink_net", "data_folder", "dir", "parent_file",
                                  "proc", "fifo"])
def test_eval_refuses_json_location(kind, tiny_run, corpus, tmp_path, capsys):
    net = tmp_path / "model.net"
    shutil.copyfile(tiny_run / "model.net", net)
    with contextlib.ExitStack() as stack:
        fd = None
        if kind == "net":
            dest = net
        elif kind in ("symlink_net", "hardlink_net"):
            dest = place(kind.split("_")[0], tmp_path, net)
        elif kind == "data_folder":
            dest = corpus
        elif kind == "fifo":
            fd = stack.enter_context(fifo(tmp_path / "pipe"))
            dest = tmp_path / "pipe"
        else:
            dest = place(kind, tmp_path)
        before = tree(tmp_path, corpus)
        code, err, _ = cli(capsys, ["eval", net, "--data", corpus, "--limit", "4", "--quiet", "--json", dest])
        assert_refused(code, err, dest)
        assert_unchanged(before, tmp_path, corpus)
        if fd is not None:
            assert stat.S_ISFIFO(os.stat(tmp_path / "pipe").st_mode)
            assert fifo_bytes(fd) == b""


# ------------------------------------------------------------- B. output paths: report


@pytest.mark.parametrize("kind", ["net", "input", "parent_file", "proc", "fifo", "energy_json_links_input",
                                  "report_html_hardlinks_net", "report_md_is_folder", "energy_json_is_fifo"])
def test_report_refuses_output_location(kind, dense_net, tmp_path, capsys):
    net, x = dense_net
    with contextlib.ExitStack() as stack:
        fd = None
        if kind == "net":
            dest = net
        elif kind == "input":
            dest = x
        elif kind == "fifo":
            fd = stack.enter_context(fifo(tmp_path / "pipe"))
            dest = tmp_path / "pipe"
        elif kind in ("parent_file", "proc"):
            dest = place(kind, tmp_path).parent if kind == "proc" else place(kind, tmp_path)
        else:
            dest = tmp_path / "report"
            dest.mkdir()
            if kind == "energy_json_links_input":
                (dest / "energy.json").symlink_to(x)
            elif kind == "report_html_hardlinks_net":
                os.link(net, dest / "report.html")
            elif kind == "report_md_is_folder":
                (dest / "report.md").mkdir()
            else:
                fd = stack.enter_context(fifo(dest / "energy.json"))
        before = tree(tmp_path)
        code, err, _ = cli(capsys, ["report", net, "--input", x, "--quiet", "-o", dest])
        assert_refused(code, err, dest)
        assert_unchanged(before, tmp_path)
        if fd is not None:
            assert fifo_bytes(fd) == b""
    assert not PROC.exists()


# ------------------------------------------------------------------------- C. options


SIM_OPTIONS = [
    (["--steps", "0"], "--steps"),
    (["--steps", "-1"], "--steps"),
    (["--steps", "1000000000000"], "--steps"),
    (["--steps", "9223372036854775808"], "--steps"),
    (["--steps", "1e3"], "--steps"),
    (["--num-layers", "0"], "--num-layers"),
    (["--backend", "gpu"], "--backend"),
]


@pytest.mark.parametrize("args,fragment", SIM_OPTIONS)
def test_sim_refuses_bad_option(args, fragment, dense_net, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SPIKEPORT_MEMORY_LIMIT", str(1 << 20))
    net, x = dense_net
    before = tree(tmp_path)
    code, err, seconds = cli(capsys, ["sim", net, "--input", x, "--backend", "fast", "-o", tmp_path / "out" / "o.npy"]
                             + args)
    assert_refused(code, err, fragment)
    assert seconds < 10
    assert_unchanged(before, tmp_path)


@pytest.mark.parametrize("backend", ["fast", "lava"])
@pytest.mark.parametrize("what", ["steps", "batch"])
def test_sim_refuses_what_memory_cannot_hold(what, backend, dense_net, tmp_path, capsys, monkeypatch):
    """With a 1 MiB budget: 2**31-1 steps (in range), or a 3 MB input array (memory
    mapped, never read), is one line before anything is allocated."""
    monkeypatch.setenv("SPIKEPORT_MEMORY_LIMIT", str(1 << 20))
    net, x = dense_net
    argv = ["sim", net, "--input", x, "--backend", backend, "-o", tmp_path / "out" / "o.npy",
            "--counts", tmp_path / "out" / "c.json"]
    if what == "steps":
        argv += ["--steps", str(2 ** 31 - 1)]
    else:
        np.lib.format.open_memmap(tmp_path / "big.npy", mode="w+", dtype=np.int8, shape=(1000, 3, 1000)).flush()
        argv[3] = str(tmp_path / "big.npy")
    before = tree(tmp_path)
    code, err, seconds = cli(capsys, argv)
    assert_refused(code, err, "more than the", "available")
    assert seconds < 20
    assert_unchanged(before, tmp_path)


EVAL_OPTIONS = [
    (["--limit", "-1"], "--limit"),
    (["--limit", "0"], "--limit"),
    (["--batch-size", "0"], "--batch-size"),
    (["--batch-size", "-1"], "--batch-size"),
    (["--batch-size", "99999999999999999999"], "--batch-size"),
    (["--split", "bogus"], "--split"),
]


@pytest.mark.parametrize("args,fragment", EVAL_OPTIONS)
def test_eval_refuses_bad_option(args, fragment, tiny_run, corpus, tmp_path, capsys):
    before = tree(tmp_path)
    code, err, seconds = cli(capsys, ["eval", tiny_run / "model.net", "--data", corpus, "--quiet", "--json",
                                      tmp_path / "r.json"] + args)
    assert_refused(code, err, fragment)
    assert seconds < 10
    assert_unchanged(before, tmp_path)


REPORT_OPTIONS = [
    (["--input", "NPZ"], "x.npz"),
    (["--input", "EMPTY"], "empty.npy"),
    (["--input", "MISSING"], "missing.npy"),
    (["--step-seconds", "0"], "--step-seconds"),
    (["--step-seconds", "nan"], "--step-seconds"),
    (["--step-seconds", "-1"], "--step-seconds"),
    (["--limit", "0"], "--limit"),
    (["--chip", "loihi9"], "loihi9"),
]


@pytest.mark.parametrize("args,fragment", REPORT_OPTIONS)
def test_report_refuses_bad_option(args, fragment, dense_net, tmp_path, capsys):
    net, x = dense_net
    np.savez(tmp_path / "x.npz", x=np.ones((3, 5)))
    (tmp_path / "empty.npy").write_bytes(b"")
    files = {"NPZ": tmp_path / "x.npz", "EMPTY": tmp_path / "empty.npy", "MISSING": tmp_path / "missing.npy"}
    args = [str(files.get(a, a)) for a in args]
    if "--input" not in args:
        args += ["--input", str(x)]
    before = tree(tmp_path)
    code, err, seconds = cli(capsys, ["report", net, "--quiet", "-o", tmp_path / "rep"] + args)
    assert_refused(code, err, fragment)
    assert seconds < 20
    assert_unchanged(before, tmp_path)


TRAIN_OPTIONS = [
    (["--epochs", "0"], "--epochs"),
    (["--epochs", "-2"], "--epochs"),
    (["--batch-size", "-1"], "--batch-size"),
    (["--batch-size", "0"], "--batch-size"),
    (["--lr", "inf"], "--lr"),
    (["--lr", "-1"], "--lr"),
    (["--lr", "nan"], "--lr"),
    (["--lr", "0"], "--lr"),
    (["--ann-epochs", "-1"], "--ann-epochs"),
    (["--reference-epochs", "0"], "--reference-epochs"),
    (["--limit", "-5"], "--limit"),
    (["--seed", "-1"], "--seed"),
    (["--seed", "4294967296"], "--seed"),
    (["--corpus-clips", "0"], "--corpus-clips"),
    (["--weight-decay", "nan"], "--weight-decay"),
    (["--tail", "100000"], "--tail"),
    (["--dropout", "-0.5"], "--dropout"),
    (["--encoder-param", "noequals"], "--encoder-param"),
]


@pytest.mark.parametrize("args,fragment", TRAIN_OPTIONS)
def test_train_refuses_bad_option_before_training(args, fragment, tmp_path, capsys):
    out = tmp_path / "run"
    before = tree(tmp_path)
    code, err, seconds = cli(capsys, ["train", "kws", "--quiet", "--device", "cpu", "--out", out] + args)
    assert_refused(code, err, fragment)
    assert seconds < 15, f"took {seconds:.1f} s: work started before the options were checked"
    assert not out.exists()
    assert_unchanged(before, tmp_path)


# --------------------------------------------------------- D. eval: tampered metadata


def _set_metadata(path: Path, case: str) -> list[str]:
    """Tamper with ``spikeport/metadata`` of the netx file ``path``; returns the
    fragments the error must name (beside the file)."""
    with h5py.File(path, "r+") as h:
        attrs = h["spikeport"].attrs
        meta = json.loads(attrs["metadata"])
        raw, fragments = None, ["spikeport/metadata"]
        if case == "invalid_json":
            raw = '{"features": '
        elif case == "json_number":
            raw = "42"
        elif case == "json_list":
            raw = "[1, 2]"
        elif case == "bytes_not_utf8":
            raw = np.bytes_(b"\xff\xfe{}")
        elif case == "int_array":
            raw = np.arange(3)
        elif case == "missing_attribute":
            del attrs["metadata"]
            return ["spikeport/metadata", "missing"]
        elif case == "missing_group":
            del h["spikeport"]
            return ["metadata"]
        elif case == "nan_constant":
            raw = json.dumps(meta)[:-1] + ', "latency": NaN}'
        elif case == "infinity_constant":
            raw = json.dumps({**meta, "seed": float("inf")})
        elif case == "deep_nesting":
            raw = "[" * 100_000
        elif case == "huge_number":
            raw = json.dumps(meta)[:-1] + ', "seed": 1' + "0" * 5000 + "}"
        else:
            fragments = []
            if case == "unknown_feature_field":
                meta["features"]["bogus"] = 1
                fragments = ["features", "bogus"]
            elif case == "features_not_object":
                meta["features"] = [1]
                fragments = ["features"]
            elif case == "norm_string":
                meta["norm"] = "zscore"
                fragments = ["norm"]
            elif case == "norm_wrong_shape":
                meta["norm"]["mean"] = [[0.0]]
                fragments = ["norm", "mean"]
            elif case == "norm_negative_std":
                meta["norm"]["std"][0][0] = -1.0
                fragments = ["norm", "std"]
            elif case == "spec_no_input_shape":
                del meta["spec"]["input_shape"]
                fragments = ["spec", "input_shape"]
            elif case == "spec_input_shape_zero":
                meta["spec"]["input_shape"] = [0]
                fragments = ["input_shape"]
            elif case == "tail_negative":
                meta["encoder"]["tail"] = -1
                fragments = ["tail"]
            elif case == "tail_huge":
                meta["encoder"]["tail"] = 10 ** 12
                fragments = ["tail"]
            elif case == "encoder_unknown":
                meta["encoder"]["name"] = "bogus"
                fragments = ["encoder"]
            elif case == "encoder_not_object":
                meta["encoder"] = "direct"
                fragments = ["encoder"]
            elif case == "mel_bands_negative":
                meta["features"]["n_mels"] = -40
                fragments = ["n_mels"]
            elif case == "mel_bands_string":
                meta["features"]["n_mels"] = "40"
                fragments = ["n_mels"]
            elif case == "sample_rate_zero":
                meta["features"]["sample_rate"] = 0
                fragments = ["sample_rate"]
            elif case == "seed_string":
                meta["seed"] = "0"
                fragments = ["seed"]
            elif case == "seed_negative":
                meta["seed"] = -1
                fragments = ["seed"]
            elif case == "classes_reordered":
                meta["classes"] = meta["classes"][::-1]
                fragments = ["another order"]
            elif case == "classes_renamed":
                meta["classes"] = [c.upper() for c in meta["classes"]]
                fragments = ["classes"]
            elif case == "classes_duplicated":
                meta["classes"][1] = meta["classes"][0]
                fragments = ["classes", "twice"]
            elif case == "classes_too_few":
                meta["classes"] = meta["classes"][:-1]
                fragments = ["classes"]
            elif case == "classes_not_strings":
                meta["classes"] = list(range(len(meta["classes"])))
                fragments = ["classes"]
            elif case == "kws_task":
                meta["kws_task"] = "13"
                fragments = ["kws_task"]
            elif case == "no_classes":
                del meta["classes"]
                fragments = ["classes"]
            else:
                raise AssertionError(case)
            raw = json.dumps(meta)
        attrs["metadata"] = raw
    return fragments


METADATA_CASES = ["invalid_json", "json_number", "json_list", "bytes_not_utf8", "int_array", "missing_attribute",
                  "missing_group", "nan_constant", "infinity_constant", "deep_nesting", "huge_number",
                  "unknown_feature_field", "features_not_object", "norm_string", "norm_wrong_shape",
                  "norm_negative_std", "spec_no_input_shape", "spec_input_shape_zero", "tail_negative", "tail_huge",
                  "encoder_unknown", "encoder_not_object", "mel_bands_negative", "mel_bands_string",
                  "sample_rate_zero", "seed_string", "seed_negative", "classes_reordered", "classes_renamed",
                  "classes_duplicated", "classes_too_few", "classes_not_strings", "kws_task", "no_classes"]


@pytest.mark.parametrize("case", METADATA_CASES)
def test_eval_refuses_tampered_metadata(case, tiny_run, corpus, tmp_path, capsys):
    net = tmp_path / "model.net"
    shutil.copyfile(tiny_run / "model.net", net)
    fragments = _set_metadata(net, case)
    before = tree(tmp_path)
    code, err, seconds = cli(capsys, ["eval", net, "--data", corpus, "--limit", "4", "--quiet", "--json",
                                      tmp_path / "r.json"])
    assert_refused(code, err, *fragments)
    # the classes the dataset has: the dataset folder is named; the rest: the network file
    assert (str(corpus) if case in ("classes_reordered", "classes_renamed") else "model.net") in err, err
    assert not any(f"{n} differ from {n}" in err for n in range(100)), err
    assert_unchanged(before, tmp_path)


# ------------------------------------------------------------------ E. chip profiles


def valid_profile() -> dict:
    from spikeport.hw.profiles import ENERGY_FIELDS, LIMIT_FIELDS, TIME_FIELDS

    limits = {"cores_per_chip": 128, "neurons_per_core": 1024, "neurons_per_chip": 131072,
              "synapses_per_chip": 100_000_000, "synaptic_memory_bytes_per_core": 131072, "in_axons_per_core": 4096,
              "out_axons_per_core": 4096, "weight_bits": 8, "decay_bits": 12, "threshold_bits": 17, "max_delay": 62,
              "spike_payload_bits": 0}
    return {"name": "testchip", "description": "a chip for tests", "notes": ["test figures"],
            "energy": {k: {"value": 1.5, "source": "test"} for k in ENERGY_FIELDS},
            "time": {k: {"value": 2.0, "source": "test"} for k in TIME_FIELDS},
            "limits": {k: {"value": limits.get(k, 1000), "source": "test"} for k in LIMIT_FIELDS}}


def _profile_text(case: str) -> tuple[str, bytes]:
    """(suffix, file bytes) of a hostile profile."""
    p = valid_profile()
    dump = lambda d: json.dumps(d).encode()  # noqa: E731
    if case == "deep_list":
        return ".json", b"[" * 100_000
    if case == "deep_object":
        return ".json", b'{"a": ' * 100_000
    if case == "digits_5000":
        p["energy"]["synop"]["value"] = "BIG"
        return ".json", dump(p).replace(b'"BIG"', b"1" * 5000)
    if case == "int_too_large_for_float":
        p["energy"]["synop"]["value"] = 10 ** 400
        return ".json", dump(p)
    if case == "limit_too_large_for_float":
        p["limits"]["cores_per_chip"]["value"] = 10 ** 400
        return ".json", dump(p)
    if case == "energy_1e400":
        p["energy"]["synop"]["value"] = "BIG"
        return ".json", dump(p).replace(b'"BIG"', b"1e400")
    if case == "energy_nan":
        p["energy"]["synop"]["value"] = float("nan")
        return ".json", dump(p)
    if case == "energy_negative":
        p["energy"]["synop"]["value"] = -1
        return ".json", dump(p)
    if case == "energy_string":
        p["energy"]["synop"]["value"] = "1.5"
        return ".json", dump(p)
    if case == "notes_number":
        p["notes"] = 5
        return ".json", dump(p)
    if case == "description_number":
        p["description"] = 5
        return ".json", dump(p)
    if case == "zero_cores":
        p["limits"]["cores_per_chip"]["value"] = 0
        return ".json", dump(p)
    if case == "fractional_cores":
        p["limits"]["cores_per_chip"]["value"] = 1.5
        return ".json", dump(p)
    if case == "missing_section":
        del p["limits"]
        return ".json", dump(p)
    if case == "unknown_field":
        p["bogus"] = 1
        return ".json", dump(p)
    if case == "not_object":
        return ".json", b"[1, 2]"
    if case == "empty":
        return ".json", b""
    if case == "not_utf8":
        return ".json", b"\xff\xfe{}"
    if case == "toml_deep":
        return ".toml", b"a = " + b"[" * 100_000
    if case == "toml_invalid":
        return ".toml", b"name = \n"
    raise AssertionError(case)


PROFILE_CASES = ["deep_list", "deep_object", "digits_5000", "int_too_large_for_float", "limit_too_large_for_float",
                 "energy_1e400", "energy_nan", "energy_negative", "energy_string", "notes_number",
                 "description_number", "zero_cores", "fractional_cores", "missing_section", "unknown_field",
                 "not_object", "empty", "not_utf8", "toml_deep", "toml_invalid"]


def test_valid_profile_maps(dense_net, tmp_path, capsys):
    """The base of every hostile profile below is itself accepted."""
    net, _ = dense_net
    profile = tmp_path / "chip.json"
    profile.write_text(json.dumps(valid_profile()))
    code, err, _ = cli(capsys, ["hw", "map", net, "--chip", profile, "--json", tmp_path / "map.json"])
    assert code == 0, err
    assert json.loads((tmp_path / "map.json").read_text())


@pytest.mark.parametrize("command", ["map", "profile"])
@pytest.mark.parametrize("case", PROFILE_CASES)
def test_hw_refuses_hostile_profile(case, command, dense_net, tmp_path, capsys):
    net, _ = dense_net
    suffix, data = _profile_text(case)
    profile = tmp_path / f"chip{suffix}"
    profile.write_bytes(data)
    before = tree(tmp_path)
    argv = (["hw", "map", net, "--chip", profile, "--json", tmp_path / "map.json"] if command == "map"
            else ["hw", "profile", profile])
    code, err, seconds = cli(capsys, argv)
    assert_refused(code, err, profile.name)
    assert len(err) < 1000, "the line quotes too much of the file"
    assert seconds < 20
    assert_unchanged(before, tmp_path)


# -------------------------------------------------------------------- F. input arrays


def _array_case(case: str, path: Path, marker: Path) -> list[str]:
    if case == "pickled_object":
        a = np.empty(3, dtype=object)
        a[0] = Boom(marker)
        np.save(path, a, allow_pickle=True)
        return ["x.npy"]
    if case == "complex":
        np.save(path, np.ones((3, 5), np.complex64))
        return ["x.npy", "complex"]
    if case == "string":
        np.save(path, np.full((3, 5), "1"))
        return ["x.npy"]
    if case == "bytes":
        np.save(path, np.full((3, 5), b"1"))
        return ["x.npy"]
    if case == "structured":
        np.save(path, np.zeros((3, 5), dtype=[("a", np.int32), ("b", np.float32)]))
        return ["x.npy"]
    if case == "datetime":
        np.save(path, np.zeros((3, 5), dtype="datetime64[s]"))
        return ["x.npy"]
    if case == "zero_d":
        np.save(path, np.array(1.0))
        return ["x.npy", "0-d"]
    if case == "wrong_rank":
        np.save(path, np.ones((3, 3, 3, 5)))
        return ["x.npy"]
    if case == "wrong_size":
        np.save(path, np.ones((4, 5)))
        return ["x.npy"]
    if case == "no_steps":
        np.save(path, np.ones((3, 0)))
        return ["x.npy"]
    if case == "npz":
        np.savez(path.with_suffix(".npz"), x=np.ones((3, 5)))
        os.replace(path.with_suffix(".npz"), path)
        return ["x.npy", ".npz"]
    if case == "truncated":
        np.save(path, np.ones((3, 5)))
        data = path.read_bytes()
        path.write_bytes(data[:len(data) - 40])
        return ["x.npy"]
    if case == "text":
        path.write_text("1, 2, 3\n")
        return ["x.npy"]
    if case == "empty":
        path.write_bytes(b"")
        return ["x.npy"]
    if case == "infinite":
        a = np.ones((3, 5))
        a[0, 0] = np.inf
        np.save(path, a)
        return ["x.npy"]
    raise AssertionError(case)


ARRAY_CASES = ["pickled_object", "complex", "string", "bytes", "structured", "datetime", "zero_d", "wrong_rank",
               "wrong_size", "no_steps", "npz", "truncated", "text", "empty", "infinite"]


@pytest.mark.parametrize("command", ["sim", "report"])
@pytest.mark.parametrize("case", ARRAY_CASES)
def test_refuses_hostile_input_array(case, command, tmp_path, capsys):
    net, x = tmp_path / "net.net", tmp_path / "x.npy"
    write_network(net, DENSE)
    marker = tmp_path / "marker"
    fragments = _array_case(case, x, marker)
    before = tree(tmp_path)
    if command == "sim":
        argv = ["sim", net, "--input", x, "--backend", "fast", "-o", tmp_path / "out" / "o.npy",
                "--counts", tmp_path / "out" / "c.json"]
    else:
        argv = ["report", net, "--input", x, "--quiet", "-o", tmp_path / "rep"]
    code, err, _ = cli(capsys, argv)
    assert not marker.exists(), "the pickle's code ran"
    assert_refused(code, err, *fragments)
    assert_unchanged(before, tmp_path)


def test_sim_input_fifo_does_not_hang(tmp_path):
    """A FIFO given as --input (nobody writes it) is refused, not waited on forever.
    Run in a child process with a time limit, since a blocking open would hang."""
    net = tmp_path / "net.net"
    write_network(net, DENSE)
    os.mkfifo(tmp_path / "in.npy")
    before = tree(tmp_path)
    code = "import sys; from spikeport.cli import main; sys.exit(main(sys.argv[1:]))"
    try:
        r = subprocess.run([sys.executable, "-c", code, "sim", str(net), "--input", str(tmp_path / "in.npy"),
                            "--backend", "fast", "-o", str(tmp_path / "o.npy")],
                           capture_output=True, text=True, timeout=15, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail("spikeport sim --input FIFO blocked for 15 s (nobody writes the FIFO)")
    assert_refused(r.returncode, r.stderr, "in.npy")
    assert_unchanged(before, tmp_path)
