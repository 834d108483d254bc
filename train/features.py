"""Keyword-spotting input features after Zimmer et al. (Speech Commands SNN report).

Per 1 s clip: a log-mel spectrogram (40 bands, 20-4000 Hz, 30 ms windows, 10 ms hop, so
one frame = one simulation timestep and 1 s = 101 frames) and its first and second time
derivatives as three channels, each channel z-scored per band over time within the clip
(``FeatureParams.normalize``).

:func:`compute_features` reads a :class:`~spikeport.train.speech_commands.KwsSplit`,
skipping the odd corrupt file, on worker processes, and caches the result as an ``.npz``
keyed by the parameters and by every clip's file, offset, label, size and mtime.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm import tqdm

from spikeport.atomic import atomic_path
from spikeport.train import speech_commands as sc

log = logging.getLogger(__name__)

FEATURE_FORMAT = 2  # bump when the computation changes, so old caches are not reused


@dataclass(frozen=True)
class FeatureParams:
    """Everything that determines the features (part of the cache key)."""

    sample_rate: int = sc.SAMPLE_RATE
    n_mels: int = 40
    fmin: float = 20.0          # Hz
    fmax: float = 4000.0        # Hz
    n_fft: int = 480            # samples (30 ms at 16 kHz)
    win_length: int = 480       # samples
    hop_length: int = 160       # samples (10 ms = one timestep)
    log_floor: float = 1e-6     # added to mel power before the log
    delta_width: int = 9        # frames, librosa.feature.delta's window
    derivatives: int = 2        # 0, 1 or 2 extra channels (d/dt, d2/dt2)
    # "clip" (Zimmer et al.'s "rescaled per frequency across time"): z-score each channel
    # per band over time within each clip. It takes away what is constant over a clip -
    # the speaker's and the recording's spectral envelope and level - and keeps how each
    # band moves; on voices never heard in training the SNN gained ~0.07 with it
    # (bench/RESULTS.md, session 5). "dataset": features stay raw here. Either way training
    # then z-scores each (channel, band) with the training split's statistics
    # (band_stats / normalize), which travel with the model.
    normalize: str = "clip"
    std_floor: float = 1e-5     # a band with a smaller std is set to 0 (zero variance guard)

    @classmethod
    def from_json(cls, d, where: str = "features") -> "FeatureParams":
        """Validated parameters from a JSON object (defaults for absent fields); raises
        :class:`SpikeportError` naming ``where`` and the field for anything else."""
        from spikeport.errors import SpikeportError

        if not isinstance(d, dict):
            raise SpikeportError(f"{where}: not an object of feature parameters")
        known = cls.__dataclass_fields__
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise SpikeportError(f"{where}: unknown field(s) {', '.join(map(str, unknown))} "
                                 f"(known: {', '.join(known)})")
        for name, v in d.items():
            kind = type(getattr(cls, name))
            ok = isinstance(v, str) if kind is str else (
                not isinstance(v, bool) and isinstance(v, (int, float) if kind is float else int)
                and math.isfinite(v))
            if not ok:
                allowed = {int: "an integer", float: "a finite number", str: "a string"}[kind]
                raise SpikeportError(f"{where}: {name} is {v!r}; allowed: {allowed}")
        p = cls(**d)
        for name, ok, allowed in p._rules():
            if not ok:
                raise SpikeportError(f"{where}: {name} is {getattr(p, name)!r}; allowed: {allowed}")
        return p

    def _rules(self) -> list[tuple[str, bool, str]]:
        nyquist = self.sample_rate / 2
        return [
            ("sample_rate", 1000 <= self.sample_rate <= 192_000, "1000 .. 192000 Hz"),
            ("n_mels", 1 <= self.n_mels <= 512, "1 .. 512 bands"),
            ("fmin", 0 <= self.fmin < self.fmax, f"0 <= fmin < fmax ({self.fmax:g} Hz)"),
            ("fmax", self.fmax <= nyquist, f"at most half the sample rate ({nyquist:g} Hz)"),
            ("n_fft", 16 <= self.n_fft <= 65_536, "16 .. 65536 samples"),
            ("win_length", 1 <= self.win_length <= self.n_fft, f"1 .. n_fft ({self.n_fft}) samples"),
            ("hop_length", 1 <= self.hop_length <= sc.CLIP_SAMPLES, f"1 .. {sc.CLIP_SAMPLES} samples"),
            ("log_floor", self.log_floor > 0, "a positive number"),
            ("delta_width", self.delta_width >= 3 and self.delta_width % 2 == 1, "an odd number >= 3"),
            ("derivatives", self.derivatives in (0, 1, 2), "0, 1 or 2"),
            ("normalize", self.normalize in ("clip", "dataset"), "'clip' or 'dataset'"),
            ("std_floor", self.std_floor >= 0, "0 or more"),
        ]

    def key(self) -> str:
        """Stable hex digest of the parameters and :data:`FEATURE_FORMAT`."""
        blob = json.dumps({"format": FEATURE_FORMAT, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def channels(self) -> int:
        return 1 + self.derivatives

    @property
    def frames(self) -> int:
        """Frames (timesteps) of a 1 s clip: 101 with the defaults."""
        return 1 + sc.CLIP_SAMPLES // self.hop_length


def log_mel(audio: np.ndarray, params: FeatureParams = FeatureParams()) -> np.ndarray:
    """Natural-log mel power of ``audio`` float ``(clips, samples)``: float32 ``(clips, n_mels, frames)``."""
    import librosa

    mel = librosa.feature.melspectrogram(
        y=np.asarray(audio, dtype=np.float32), sr=params.sample_rate, n_fft=params.n_fft,
        win_length=params.win_length, hop_length=params.hop_length, n_mels=params.n_mels,
        fmin=params.fmin, fmax=params.fmax, power=2.0, center=True)
    return np.log(mel + params.log_floor).astype(np.float32)


def features_of(audio: np.ndarray, params: FeatureParams = FeatureParams()) -> np.ndarray:
    """Features of ``audio`` float ``(clips, samples)``: float32 ``(clips, channels, n_mels, frames)``.

    Channels: log-mel, then its first and second time derivatives (``params.derivatives``).
    """
    import librosa

    if params.derivatives not in (0, 1, 2):
        raise ValueError(f"derivatives must be 0, 1 or 2, got {params.derivatives}")
    lm = log_mel(audio, params)
    chans = [lm] + [librosa.feature.delta(lm, width=params.delta_width, order=k, axis=-1)
                    for k in range(1, params.derivatives + 1)]
    x = np.stack(chans, axis=1).astype(np.float64)
    if params.normalize not in ("dataset", "clip", "none"):
        raise ValueError(f"normalize must be 'dataset', 'clip' or 'none', got {params.normalize!r}")
    if params.normalize == "clip":
        mean = x.mean(axis=-1, keepdims=True)
        std = x.std(axis=-1, keepdims=True)
        flat = std < params.std_floor  # e.g. digital silence: such a band becomes 0, not noise / 0
        x = np.where(flat, 0.0, (x - mean) / np.where(flat, 1.0, std))
    return x.astype(np.float32)


def band_stats(features: np.ndarray, std_floor: float = 1e-5) -> dict[str, list]:
    """Mean and standard deviation of each (channel, band) over clips and frames of
    ``features`` ``(clips, channels, bands, frames)``; JSON-able lists ``(channels, bands)``.
    A std below ``std_floor`` is stored as 0 (that band is then zeroed by :func:`normalize`)."""
    x = np.asarray(features, dtype=np.float64)
    mean = x.mean(axis=(0, 3))
    std = x.std(axis=(0, 3))
    std = np.where(std < std_floor, 0.0, std)
    return {"mean": mean.tolist(), "std": std.tolist()}


def normalize(features: np.ndarray, stats: dict) -> np.ndarray:
    """Z-score ``features`` ``(clips, channels, bands, frames)`` with ``stats`` from
    :func:`band_stats`; float32, same shape."""
    mean = np.asarray(stats["mean"], dtype=np.float64)[None, :, :, None]
    std = np.asarray(stats["std"], dtype=np.float64)[None, :, :, None]
    out = np.where(std > 0, (features - mean) / np.where(std > 0, std, 1.0), 0.0)
    return out.astype(np.float32)


def _chunk_features(clips: Sequence[sc.Clip], params: FeatureParams):
    audio, kept, skipped = sc.read_clips(clips, params.sample_rate, max_bad_fraction=None)
    return features_of(audio[kept], params), kept, skipped


def cache_key(clips: Sequence[sc.Clip], params: FeatureParams) -> str:
    """Digest of the parameters and every clip's path, offset, label, file size and mtime."""
    h = hashlib.sha256(params.key().encode())
    for c in clips:
        try:
            st = os.stat(c.path)
            stamp = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            stamp = "missing"
        h.update(f"{os.path.abspath(c.path)}\0{c.offset}\0{c.label}\0{stamp}\n".encode())
    return h.hexdigest()[:24]


def _load_cache(path: Path, key: str):
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["key"]) != key:
                return None
            return z["features"], z["labels"], z["kept"], [(Path(p), r) for p, r in z["skipped"].reshape(-1, 2)]
    except (OSError, ValueError, KeyError) as e:
        log.warning("ignoring unreadable feature cache %s (%s)", path, e)
        return None


def compute_features(split: sc.KwsSplit, params: FeatureParams = FeatureParams(),
                     cache_dir: str | os.PathLike | None = None, progress: bool = True, workers: int = 2,
                     max_bad_fraction: float = sc.MAX_BAD_FRACTION) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features of every readable clip of ``split``.

    Returns ``(features, labels, kept)``: ``features`` float32
    ``(kept clips, channels, n_mels, frames)`` (3, 40, 101 by default; frames are 10 ms
    timesteps), ``labels`` int64 ``(kept clips,)``, ``kept`` bool ``(len(split),)``, False
    for unreadable or empty files (logged; more than ``max_bad_fraction`` of them is a
    :class:`SpikeportError`). With ``cache_dir`` the result is stored there as
    ``kws-<split>-<key>.npz`` and a later call with the same parameters and unchanged
    files loads it without reading audio.
    """
    clips = split.clips
    cache = None
    if cache_dir is not None:
        key = cache_key(clips, params)
        cache = Path(cache_dir) / f"kws-{split.split}-{key}.npz"
        if cache.is_file():
            hit = _load_cache(cache, key)
            if hit is not None:
                feats, labels, kept, skipped = hit
                sc.check_skipped(skipped, len(clips), max_bad_fraction)
                log.info("loaded features of %d clips from %s", len(labels), cache)
                return feats, labels, kept

    n = len(clips)
    size = max(16, min(256, math.ceil(n / max(1, 4 * workers))))
    chunks = [clips[i:i + size] for i in range(0, n, size)]
    feats = np.zeros((n, params.channels, params.n_mels, params.frames), dtype=np.float32)
    kept = np.zeros(n, dtype=bool)
    skipped: list[tuple[Path, str]] = []
    bar = tqdm(total=n, desc=f"features ({split.split})", unit="clip", disable=None if progress else True)
    with bar:
        if workers <= 1 or len(chunks) < 2:
            results = (_chunk_features(c, params) for c in chunks)
            pool = None
        else:
            import multiprocessing as mp

            # fork: workers use only numpy/librosa/soundfile, and start without re-importing
            ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
            results = pool.map(_chunk_features, chunks, [params] * len(chunks))
        try:
            start = 0
            for chunk, (f, k, s) in zip(chunks, results):
                kept[start:start + len(chunk)] = k
                feats[start:start + len(chunk)][k] = f
                skipped += s
                start += len(chunk)
                bar.update(len(chunk))
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
    sc.check_skipped(skipped, n, max_bad_fraction)
    if not kept.all():
        feats = feats[kept]
    labels = split.labels()[kept]

    if cache is not None:
        from spikeport.locks import locked

        with locked(cache.parent, "feature cache entry", lock_file=cache.with_suffix(".lock")), \
                atomic_path(cache) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, key=np.array(key), features=feats, labels=labels, kept=kept,
                         skipped=np.array([(str(p), r) for p, r in skipped], dtype=str).reshape(-1, 2))
    return feats, labels, kept
