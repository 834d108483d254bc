"""A training run's folder: one writer (a lock), nothing half-written left by a killed
writer, nothing left by a run that failed before its first epoch, and checkpoints
read as strictly as they are written.

Files: ``config.json`` (written with the first checkpoint, so a run that never
finished an epoch leaves none), ``checkpoint.pt`` (model, optimizer, scheduler, EMA,
the torch random state, the epoch and the metrics so far) and ``metrics.json``.
Checkpoints are read with ``torch.load(weights_only=True)``: a pickle that would run
code is refused, and so is anything that is not a checkpoint of this configuration.
"""
from __future__ import annotations

import contextlib
import json
import pickle
import re
import shutil
from pathlib import Path
from typing import Any, Iterator

import torch

from spikeport.atomic import atomic_path, remove_stale_temporaries
from spikeport.errors import SpikeportError
from spikeport.locks import LOCK_NAME, locked
from spikeport.train.config import KwsConfig

CHECKPOINT, CONFIG, METRICS = "checkpoint.pt", "config.json", "metrics.json"
CHECKPOINT_KEYS = ("model", "optimizer", "scheduler", "epoch", "metrics", "ema", "rng")
LOAD_ERRORS = (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, KeyError, TypeError,
               AttributeError, IndexError, UnicodeDecodeError)


def read_json(path: Path, what: str) -> Any:
    """A JSON file the run wrote; one line naming it when it is missing or broken."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise SpikeportError(f"{path}: missing (the {what})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SpikeportError(f"{path}: not a valid {what} ({' '.join(str(e).split())})") from None
    except RecursionError:
        raise SpikeportError(f"{path}: not a valid {what} (nested too deeply)") from None


def save_json(path: Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(obj, indent=2) + "\n")


@contextlib.contextmanager
def run_folder(out: Path, rank: int = 0) -> Iterator[Path]:
    """Hold ``out``'s lock (rank 0 writes), clear temporary files a killed writer left,
    and remove the folder again when the run fails before its first checkpoint in a
    folder that was new or empty."""
    if rank != 0:
        yield out
        return
    fresh = not out.exists() or not any(p.name != LOCK_NAME for p in out.iterdir())
    with locked(out, "training run"):
        remove_stale_temporaries(out)
        try:
            yield out
        except BaseException:
            if fresh and not (out / CHECKPOINT).exists():
                shutil.rmtree(out, ignore_errors=True)
            raise


def check_start(out: Path, cfg: KwsConfig, resume: bool) -> None:
    """A new run needs a folder without a run; a resumed one its checkpoint and the
    same configuration (the same epochs too: the cosine schedule spans them)."""
    ckpt = out / CHECKPOINT
    if not resume:
        if ckpt.exists() or (out / CONFIG).exists():
            raise SpikeportError(f"{out}: holds a training run already; pass --resume to continue it or choose "
                                 f"another --out")
        return
    if not ckpt.is_file():
        raise SpikeportError(f"{ckpt}: nothing to resume (no checkpoint in {out})")
    saved = KwsConfig.from_json(read_json(out / CONFIG, "run configuration"), str(out / CONFIG))
    diff = [k for k, v in cfg.to_json().items() if saved.to_json()[k] != v]
    if diff:
        raise SpikeportError(f"{out / CONFIG}: --resume with a different configuration ({', '.join(diff)}); the "
                             f"run continues only as it was configured (use the same options, or another --out)")
    load_checkpoint(ckpt, cfg, "cpu")    # a bad checkpoint is one line before any data is loaded


def save_checkpoint(out: Path, cfg: KwsConfig, state: dict, history: list[dict]) -> None:
    """Write the checkpoint, then ``metrics.json`` (and ``config.json`` with the first)."""
    with atomic_path(out / CHECKPOINT) as tmp:
        torch.save({**state, "metrics": json.dumps(history), "rng": torch.get_rng_state()}, tmp)
    save_json(out / METRICS, history)
    if not (out / CONFIG).exists():
        save_json(out / CONFIG, cfg.to_json())


def load_checkpoint(path: Path, cfg: KwsConfig, device) -> dict:
    """A checkpoint of this run, validated: its keys, an epoch in ``1..cfg.epochs``,
    metrics of that many epochs. The model and optimizer states are checked when loaded."""
    try:
        ck = safe_load(path, device)
    except LOAD_ERRORS as e:
        raise SpikeportError(f"{path}: not a spikeport training checkpoint ({_first_line(e)})") from None
    if not isinstance(ck, dict) or any(k not in ck for k in CHECKPOINT_KEYS):
        have = sorted(ck) if isinstance(ck, dict) else type(ck).__name__
        raise SpikeportError(f"{path}: not a spikeport training checkpoint (holds {have}; needs "
                             f"{', '.join(CHECKPOINT_KEYS)})")
    epoch = ck["epoch"]
    if isinstance(epoch, bool) or not isinstance(epoch, int) or not 1 <= epoch <= cfg.epochs:
        raise SpikeportError(f"{path}: epoch is {epoch!r}; allowed: 1 .. {cfg.epochs} (the run's epochs)")
    try:
        history = json.loads(ck["metrics"])
    except (TypeError, ValueError):
        raise SpikeportError(f"{path}: its metrics are not JSON") from None
    if not isinstance(history, list) or len(history) != epoch or not all(isinstance(h, dict) for h in history):
        raise SpikeportError(f"{path}: metrics of {len(history) if isinstance(history, list) else '?'} epochs for "
                             f"a checkpoint after epoch {epoch}")
    ck["metrics"] = history
    return ck


def restore(path: Path, ck: dict, net, opt, sched) -> None:
    """Load a validated checkpoint into the run's objects; a checkpoint of another
    architecture is one line."""
    try:
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        torch.set_rng_state(ck["rng"])
    except LOAD_ERRORS as e:
        raise SpikeportError(f"{path}: does not fit this run's network ({_first_line(e)})") from None


def safe_load(path: Path, device) -> Any:
    """``torch.load`` with ``weights_only=True`` (tensors and plain data only: a pickle
    that would run code is refused), torch's warnings kept off the user's terminal."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.load(path, map_location=device, weights_only=True)


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _first_line(e: BaseException) -> str:
    """One line for a load error. torch's refusal of a pickle with code in it is long
    and advises loading it unsafely; only what it refused is kept."""
    text = ANSI.sub("", str(e)).strip()
    if isinstance(e, pickle.UnpicklingError) and "Weights only load failed" in text:
        found = re.search(r"Unsupported (?:global|operand)[^.\n]*", text)
        return ("a pickle holding Python objects, refused by weights-only loading"
                + (f" ({found.group(0).strip()})" if found else ""))
    lines = text.splitlines()
    return f"{type(e).__name__}: {lines[0][:200]}" if lines else type(e).__name__


def load_model_file(path: Path) -> dict:
    """``model.pt`` as saved by training (``{"spec", "state_dict", "meta"}``), validated."""
    try:
        ck = safe_load(path, "cpu")
    except FileNotFoundError:
        raise SpikeportError(f"{path}: no such model file") from None
    except LOAD_ERRORS as e:
        raise SpikeportError(f"{path}: not a spikeport model checkpoint ({_first_line(e)})") from None
    if not isinstance(ck, dict) or not isinstance(ck.get("spec"), dict) or not isinstance(ck.get("state_dict"), dict):
        raise SpikeportError(f"{path}: not a spikeport model checkpoint (needs a 'spec' and a 'state_dict')")
    if not isinstance(ck.get("meta", {}), dict):
        raise SpikeportError(f"{path}: its 'meta' is not an object")
    return ck
