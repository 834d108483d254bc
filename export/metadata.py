"""The ``spikeport`` metadata of an exported netx file, read and checked as strictly
as the netx fields: evaluation feeds a dataset to the network the way training did
only if every field it reads (features, normalisation, encoder, classes, input
shape, seed, task) is what the exporter writes."""
from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np

from spikeport.errors import SpikeportError

NEEDED = ("features", "norm", "encoder", "classes", "spec")


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The ``spikeport`` metadata of a netx file as a dict ({} for a file from
    elsewhere, which has no ``spikeport`` group); one-line errors for an unreadable
    file or metadata that is not a JSON object."""
    import h5py

    try:
        with h5py.File(path, "r") as h:
            if "spikeport" not in h:
                return {}
            raw = h["spikeport"].attrs.get("metadata")
    except OSError as e:
        raise SpikeportError(f"{path}: cannot read as HDF5 ({' '.join(str(e).split())})") from None
    where = f"{path}: spikeport/metadata"
    if raw is None:
        raise SpikeportError(f"{where} is missing (the exporter writes a JSON object there)")
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SpikeportError(f"{where} is bytes that are not UTF-8 text") from None
    if not isinstance(raw, str):
        raise SpikeportError(f"{where} is {type(raw).__name__}, not JSON text")
    try:
        meta = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as e:
        raise SpikeportError(f"{where} is not valid JSON ({' '.join(str(e).split())[:120]})") from None
    if not isinstance(meta, dict):
        raise SpikeportError(f"{where} is a JSON {type(meta).__name__}, not an object")
    return meta


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def check_metadata(meta: dict, where: str) -> dict[str, Any]:
    """``meta`` when every field evaluation reads is valid; raises :class:`SpikeportError`
    naming ``where`` (the file) and the field otherwise. Returns ``meta`` with
    ``features`` as a validated :class:`~spikeport.train.features.FeatureParams`."""
    from spikeport.train.features import FeatureParams

    missing = [k for k in NEEDED if k not in meta]
    if missing:
        raise SpikeportError(f"{where}: no spikeport training metadata ({', '.join(missing)} missing); "
                             f"evaluate it on arrays with --input instead of --data")
    w = f"{where}: metadata"
    params = FeatureParams.from_json(meta["features"], f"{w} features")
    _check_norm(meta["norm"], params, f"{w} norm")
    _check_encoder(meta["encoder"], f"{w} encoder")
    _check_classes(meta["classes"], f"{w} classes")
    _check_spec(meta["spec"], f"{w} spec")
    _check_int(meta.get("seed", 0), f"{w} seed", 0, 2 ** 32 - 1)
    from spikeport.train.config import CHOICES

    if meta.get("kws_task", "12") not in CHOICES["task"]:
        raise SpikeportError(f"{w} kws_task is {meta.get('kws_task')!r}; allowed: {', '.join(CHOICES['task'])}")
    return {**meta, "features": params}


def _check_int(v, where: str, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise SpikeportError(f"{where} is {v!r}; allowed: an integer in [{lo}, {hi}]")
    return v


def _check_norm(norm, params, where: str) -> None:
    if not isinstance(norm, dict) or set(norm) != {"mean", "std"}:
        raise SpikeportError(f"{where}: allowed: an object with 'mean' and 'std' only")
    shape = (params.channels, params.n_mels)
    for key in ("mean", "std"):
        try:
            a = np.asarray(norm[key], dtype=np.float64)
        except (TypeError, ValueError):
            raise SpikeportError(f"{where} {key}: not an array of numbers") from None
        if a.shape != shape:
            raise SpikeportError(f"{where} {key} has shape {a.shape}; allowed: {shape} (channels, mel bands)")
        if not np.isfinite(a).all() or (key == "std" and (a < 0).any()):
            raise SpikeportError(f"{where} {key}: allowed: finite numbers" + (", 0 or more" if key == "std" else ""))


def _check_encoder(enc, where: str) -> None:
    from spikeport.train import encoders
    from spikeport.train.config import INT_LIMITS

    if not isinstance(enc, dict) or "name" not in enc:
        raise SpikeportError(f"{where}: allowed: an object with the encoder's 'name' and parameters")
    params = {k: v for k, v in enc.items() if k not in ("name", "tail")}
    _check_int(enc.get("tail", 0), f"{where} tail", *INT_LIMITS["tail"])
    for k, v in params.items():
        if isinstance(v, float) and not math.isfinite(v):
            raise SpikeportError(f"{where} {k} is {v!r}; allowed: a finite number")
    try:
        encoders.timesteps_per_frame(enc["name"], **params)
    except SpikeportError as e:
        raise SpikeportError(f"{where}: {e}") from None
    except TypeError as e:
        raise SpikeportError(f"{where}: {' '.join(str(e).split())}") from None


def _check_classes(classes, where: str) -> None:
    if (not isinstance(classes, list) or len(classes) < 2
            or not all(isinstance(c, str) and c for c in classes)):
        raise SpikeportError(f"{where}: allowed: a list of at least 2 class names (non-empty strings)")
    if len(set(classes)) != len(classes):
        dup = next(c for c in classes if classes.count(c) > 1)
        raise SpikeportError(f"{where}: {dup!r} appears twice; allowed: distinct class names")


def _check_spec(spec, where: str) -> None:
    if not isinstance(spec, dict):
        raise SpikeportError(f"{where}: allowed: the model spec object")
    shape = spec.get("input_shape")
    if (not isinstance(shape, list) or len(shape) not in (1, 3)
            or not all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 1 << 20 for n in shape)):
        raise SpikeportError(f"{where} input_shape is {shape!r}; allowed: (C, H, W) or (n,) positive integers")
    if not isinstance(spec.get("input_neuron", False), bool):
        raise SpikeportError(f"{where} input_neuron is {spec.get('input_neuron')!r}; allowed: true or false")
