"""Google Speech Commands (v0.01 and v0.02) read exactly as distributed.

Layout of a dataset folder::

    yes/0a7c2a8d_nohash_0.wav ...      one folder per word, 1 s 16 kHz mono WAVs
    validation_list.txt                 relative paths (``yes/0a7c2a8d_nohash_0.wav``)
    testing_list.txt                    of the validation and test clips; train = the rest
    _background_noise_/*.wav            long noise recordings (silence is cut from them)

Two tasks: ``"12"`` is the standard 12-class task (:data:`CLASSES_12`: ten command words,
every other word as ``_unknown_``, and 1 s windows of background noise as
``_silence_``); ``"all"`` makes every word folder its own class (sorted names), without
silence.

Audio is read lazily: a split is a list of :class:`Clip` (file, sample offset, label).
:func:`read_clips` reads many of them, skipping and counting the odd unreadable or
empty file; a wrong sample rate is always an error.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile as sf
from tqdm import tqdm

from spikeport.errors import SpikeportError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
CLIP_SAMPLES = 16000  # 1 s at 16 kHz
COMMAND_WORDS: tuple[str, ...] = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
UNKNOWN = "_unknown_"
SILENCE = "_silence_"
CLASSES_12: tuple[str, ...] = COMMAND_WORDS + (UNKNOWN, SILENCE)
BACKGROUND_DIR = "_background_noise_"
VALIDATION_LIST = "validation_list.txt"
TESTING_LIST = "testing_list.txt"
SPLITS: tuple[str, ...] = ("train", "validation", "test")
TASKS: tuple[str, ...] = ("12", "all")
# Each noise file is cut into consecutive parts, one per split, so silence windows of
# different splits never share a sample.
SILENCE_PARTS = {"train": (0.0, 0.8), "validation": (0.8, 0.9), "test": (0.9, 1.0)}
MAX_BAD_FRACTION = 0.01


class BadAudioError(SpikeportError):
    """An unreadable or empty audio file: skipped (and counted) when it is one of few."""


@dataclass(frozen=True)
class Clip:
    """One 1 s example: ``CLIP_SAMPLES`` samples of ``path`` from sample ``offset``.

    ``offset`` is 0 for word clips and the window start for silence cut from noise.
    """

    path: Path
    offset: int
    label: int


@dataclass(frozen=True)
class KwsSplit:
    """The clips of one split of one task; ``labels()[i]`` indexes ``classes``."""

    root: Path
    split: str
    task: str
    classes: tuple[str, ...]
    clips: tuple[Clip, ...]

    def __len__(self) -> int:
        return len(self.clips)

    def labels(self) -> np.ndarray:
        """Class index of every clip, int64 ``(clips,)``."""
        return np.fromiter((c.label for c in self.clips), dtype=np.int64, count=len(self.clips))

    def counts(self) -> dict[str, int]:
        """Number of clips per class name."""
        n = np.bincount(self.labels(), minlength=len(self.classes))
        return {name: int(k) for name, k in zip(self.classes, n)}


def speaker_of(path: str | os.PathLike) -> str:
    """Speaker id of a word clip named ``<speaker>_nohash_<k>.wav``."""
    return Path(path).name.split("_nohash_")[0]


def _not_dataset(root: Path, what: str) -> SpikeportError:
    return SpikeportError(f"{root} is not a Speech Commands folder: {what}")


def word_folders(root: str | os.PathLike) -> dict[str, list[Path]]:
    """Word folder name -> its sorted ``.wav`` files, for every folder that has some.

    Folders starting with ``_`` or ``.`` (``_background_noise_``) are not words.
    """
    root = Path(root)
    if not root.exists():
        raise SpikeportError(f"Speech Commands folder {root} does not exist")
    if not root.is_dir():
        raise SpikeportError(f"Speech Commands folder {root} is not a folder")
    words: dict[str, list[Path]] = {}
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        if d.name.startswith(("_", ".")):
            continue
        wavs = sorted(p for p in d.iterdir() if p.suffix.lower() == ".wav" and p.is_file())
        if wavs:
            words[d.name] = wavs
    if not words:
        raise _not_dataset(root, "no word folders with .wav files (expected e.g. yes/0a7c2a8d_nohash_0.wav)")
    return words


def _read_list(root: Path, name: str) -> set[str]:
    path = root / name
    if not path.is_file():
        raise _not_dataset(root, f"{name} is missing")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SpikeportError(f"{path}: cannot be read as a list of clips ({e})") from None
    return {line.strip().replace("\\", "/") for line in text.splitlines() if line.strip()}


def background_files(root: str | os.PathLike) -> list[Path]:
    """The sorted ``.wav`` files of ``root/_background_noise_`` (an error when there are none)."""
    root = Path(root)
    bg = root / BACKGROUND_DIR
    if not bg.is_dir():
        raise _not_dataset(root, f"{BACKGROUND_DIR}/ is missing (needed for the {SILENCE} class)")
    files = sorted(p for p in bg.iterdir() if p.suffix.lower() == ".wav" and p.is_file())
    if not files:
        raise _not_dataset(root, f"{BACKGROUND_DIR}/ holds no .wav files (needed for the {SILENCE} class)")
    return files


def _audio_info(path: Path, sample_rate: int) -> int:
    """Number of frames of ``path``; errors name the file."""
    try:
        info = sf.info(str(path))
    except (RuntimeError, OSError) as e:
        raise BadAudioError(f"{path}: unreadable audio file ({_one_line(e)})") from None
    if info.samplerate != sample_rate:
        raise SpikeportError(f"{path}: sample rate is {info.samplerate} Hz, expected {sample_rate} Hz")
    return int(info.frames)


def silence_clips(root: str | os.PathLike, split: str, count: int, label: int, seed: int = 0,
                  sample_rate: int = SAMPLE_RATE) -> list[Clip]:
    """``count`` 1 s windows of the background noise files for ``split``.

    Each file's samples are divided into consecutive parts for train (first 80 %),
    validation (next 10 %) and test (last 10 %); windows lie inside their split's part,
    so splits share no sample. Files are drawn in proportion to the room they have;
    offsets are uniform. The same ``(root, split, count, seed)`` gives the same windows.
    """
    if split not in SPLITS:
        raise SpikeportError(f"unknown split {split!r}: expected one of {', '.join(SPLITS)}")
    if count <= 0:
        return []
    lo, hi = SILENCE_PARTS[split]
    spans = []
    for path in background_files(root):
        frames = _audio_info(path, sample_rate)
        start, stop = int(frames * lo), int(frames * hi)
        room = stop - start - CLIP_SAMPLES + 1  # possible window starts
        if room > 0:
            spans.append((path, start, room))
    if not spans:
        raise SpikeportError(
            f"{Path(root) / BACKGROUND_DIR}: the noise files are too short to cut 1 s {SILENCE} windows "
            f"for the {split} split (its part is {int((hi - lo) * 100)}% of each file)")
    rooms = np.array([s[2] for s in spans], dtype=np.float64)
    rng = np.random.default_rng([seed, SPLITS.index(split), 0x5117])
    which = rng.choice(len(spans), size=count, p=rooms / rooms.sum())
    clips = []
    for i in which:
        path, start, room = spans[i]
        clips.append(Clip(path, start + int(rng.integers(room)), label))
    return clips


def load_split(root: str | os.PathLike, split: str = "train", task: str = "12",
               silence: int | None = None, seed: int = 0) -> KwsSplit:
    """The clips of one split of a Speech Commands folder.

    ``split``: ``"train"`` (every clip in neither list), ``"validation"`` or ``"test"``.
    ``task``: ``"12"`` (:data:`CLASSES_12`) or ``"all"`` (every word folder, sorted).
    ``silence``: number of ``_silence_`` clips for task 12; ``None`` = as many as the
    median command word has in this split. ``seed`` fixes where they are cut.
    Errors (a :class:`SpikeportError`) name the folder and what is missing.
    """
    root = Path(root)
    if split not in SPLITS:
        raise SpikeportError(f"unknown split {split!r}: expected one of {', '.join(SPLITS)}")
    if task not in TASKS:
        raise SpikeportError(f"unknown keyword-spotting task {task!r}: expected one of {', '.join(TASKS)}")
    if silence is not None and silence < 0:
        raise SpikeportError(f"silence clip count must be >= 0, got {silence}")
    if task == "all" and silence:
        raise SpikeportError("silence clips are part of task '12' only, not of task 'all'")
    words = word_folders(root)
    val, test = _read_list(root, VALIDATION_LIST), _read_list(root, TESTING_LIST)
    if task == "12":
        missing = [w for w in COMMAND_WORDS if w not in words]
        if missing:
            raise _not_dataset(root, "no word folders for " + ", ".join(repr(w) for w in missing))
        classes = CLASSES_12
        index = {w: COMMAND_WORDS.index(w) if w in COMMAND_WORDS else CLASSES_12.index(UNKNOWN) for w in words}
    else:
        classes = tuple(sorted(words))
        index = {w: i for i, w in enumerate(classes)}

    clips = []
    for word, files in words.items():
        for path in files:
            rel = f"{word}/{path.name}"
            where = "test" if rel in test else "validation" if rel in val else "train"
            if where == split:
                clips.append(Clip(path, 0, index[word]))
    if task == "12":
        if silence is None:
            per_word = np.bincount([c.label for c in clips], minlength=len(classes))[: len(COMMAND_WORDS)]
            silence = int(round(float(np.median(per_word))))
        clips += silence_clips(root, split, silence, CLASSES_12.index(SILENCE), seed)
    return KwsSplit(root, split, task, classes, tuple(clips))


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


def read_clip(clip: Clip, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """One clip as float32 ``(CLIP_SAMPLES,)`` in [-1, 1], zero-padded or trimmed to 1 s.

    Multi-channel files are averaged to mono. Raises :class:`BadAudioError` for an
    unreadable, empty or non-finite file and :class:`SpikeportError` for a sample rate
    other than ``sample_rate``; both name the file.
    """
    path = clip.path
    try:
        with sf.SoundFile(str(path)) as f:
            if f.samplerate != sample_rate:
                raise SpikeportError(f"{path}: sample rate is {f.samplerate} Hz, expected {sample_rate} Hz")
            if f.frames == 0:
                raise BadAudioError(f"{path}: empty audio file (no samples)")
            if clip.offset:
                f.seek(clip.offset)
            data = f.read(CLIP_SAMPLES, dtype="float32", always_2d=True)
    except (RuntimeError, OSError) as e:
        raise BadAudioError(f"{path}: unreadable audio file ({_one_line(e)})") from None
    x = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float32)
    if x.size == 0:
        raise BadAudioError(f"{path}: no samples at offset {clip.offset}")
    if not np.isfinite(x).all():
        raise BadAudioError(f"{path}: audio holds non-finite samples")
    if x.size < CLIP_SAMPLES:
        x = np.pad(x, (0, CLIP_SAMPLES - x.size))
    return np.ascontiguousarray(x, dtype=np.float32)


def check_skipped(skipped: Sequence[tuple[Path, str]], total: int,
                  max_bad_fraction: float = MAX_BAD_FRACTION) -> None:
    """Log the skipped files; raise if more than ``max_bad_fraction`` of ``total`` were bad.

    The error names the first bad file and its reason.
    """
    if not skipped:
        return
    if len(skipped) > max_bad_fraction * total:
        reason = skipped[0][1]
        raise SpikeportError(
            f"{len(skipped)} of {total} audio files are unreadable or empty (more than "
            f"{max_bad_fraction:.0%} allowed), first: {reason}")
    for path, reason in skipped:
        log.warning("skipped %s", reason)
    log.warning("skipped %d of %d audio files (unreadable or empty)", len(skipped), total)


def read_clips(clips: Sequence[Clip], sample_rate: int = SAMPLE_RATE,
               max_bad_fraction: float | None = MAX_BAD_FRACTION,
               progress: bool = False) -> tuple[np.ndarray, np.ndarray, list[tuple[Path, str]]]:
    """Read many clips, skipping unreadable or empty files.

    Returns ``(audio, kept, skipped)``: ``audio`` float32 ``(clips, CLIP_SAMPLES)`` (rows
    of skipped clips are zero), ``kept`` bool ``(clips,)``, ``skipped`` a list of
    ``(path, reason)``. With ``max_bad_fraction`` set, :func:`check_skipped` runs on the
    result (pass ``None`` to check later, e.g. after reading in parts). A wrong sample
    rate raises at once.
    """
    audio = np.zeros((len(clips), CLIP_SAMPLES), dtype=np.float32)
    kept = np.zeros(len(clips), dtype=bool)
    skipped: list[tuple[Path, str]] = []
    for i, clip in enumerate(tqdm(clips, desc="reading audio", unit="clip", disable=None if progress else True)):
        try:
            audio[i] = read_clip(clip, sample_rate)
            kept[i] = True
        except BadAudioError as e:
            skipped.append((clip.path, str(e)))
    if max_bad_fraction is not None:
        check_skipped(skipped, len(clips), max_bad_fraction)
    return audio, kept, skipped
