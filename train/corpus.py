"""The embedded keyword-spotting corpus: Speech Commands' words spoken by eSpeak NG.

Built locally when no ``--data`` is given, in the Speech Commands layout, so
:mod:`spikeport.train.speech_commands` reads it exactly as it reads the real dataset:
the ten command words plus ten other words (Speech Commands v0.01's auxiliary words,
the ``_unknown_`` class), each clip one eSpeak NG utterance by a synthetic *speaker*
(an English voice + a voice variant + a pitch band) at a random speed and pitch,
with a random intonation (statement, question, exclamation), pitch range and word
emphasis (SSML), resampled to 16 kHz, trimmed of silence, placed at a random position
in 1 s and mixed with synthesized noise at a random SNR. Optionally (``carrier_percent``)
some clips are cut from a short carrier phrase ("say stop now"), so that the word
carries the pitch and timing of a word inside a sentence. The same noise types are written as 60 s files
into ``_background_noise_/`` for the ``_silence_`` class.

Splits follow the dataset's rule that test speakers are unseen: the (voice, variant)
pairs are divided about 80/10/10 between train, validation and test, and all of a
pair's pitch bands stay on the same side. :data:`HELD_OUT_VOICES` and
:data:`HELD_OUT_VARIANTS` never appear: they speak the robustness set
(:mod:`spikeport.train.robust_corpus`).

Same parameters and seed -> byte-identical files. A manifest records the parameters, so
building again with the same ones returns at once and other ones rebuild the folder
(in a temporary folder beside it, then renamed into place).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile as sf
from tqdm import tqdm

from spikeport.errors import SpikeportError
from spikeport.train.speech_commands import (
    BACKGROUND_DIR, CLIP_SAMPLES, COMMAND_WORDS, SAMPLE_RATE, TESTING_LIST, VALIDATION_LIST,
)

UNKNOWN_WORDS: tuple[str, ...] = ("bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow")
# eSpeak NG's own English voices (the MBROLA ones need an extra package).
VOICES: tuple[str, ...] = ("en", "en-us", "en-us-nyc", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp",
                           "en-gb-x-gbcwmd", "en-029")
# eSpeak NG 1.51's voice variants (file names), less the effects that are not voices
# (croak, whisper, whisperf, Tweaky, UniRobot, anikaRobot).
VARIANTS: tuple[str, ...] = (
    "adam", "Alex", "Alicia", "Andrea", "Andy", "Annie", "antonio", "aunty", "belinda", "benjamin", "boris",
    "caleb", "david", "Denis", "Diogo", "ed", "edward", "edward2", "f1", "f2", "f3", "f4", "f5",
    "Gene", "Gene2", "grandma", "grandpa", "gustave", "Henrique", "Hugo", "iven", "iven2", "iven3", "iven4",
    "Jacky", "john", "kaukovalta", "klatt", "klatt2", "klatt3", "klatt4", "klatt5", "klatt6", "Lee", "linda",
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "marcelo", "Marco", "Mario", "max", "Michael", "michel",
    "miguel", "Mike", "Nguyen", "norbert", "pablo", "paul", "pedro", "quincy", "RicishayMax", "RicishayMax2",
    "RicishayMax3", "rob", "robert", "robosoft", "robosoft2", "robosoft3", "robosoft4", "robosoft5",
    "robosoft6", "robosoft7", "robosoft8", "sandro", "shelby", "steph", "steph2", "steph3", "Storm",
    "travis", "victor", "zac", "anika", "AnxiousAndy",
)
# Kept out of the corpus for the robustness set: two accents and 17 variants
# (spread over male, female, klatt, robosoft and the named ones).
HELD_OUT_VOICES: tuple[str, ...] = ("en-029", "en-gb-scotland")
HELD_OUT_VARIANTS: tuple[str, ...] = (
    "Alicia", "Andy", "boris", "david", "f3", "Gene2", "grandma", "iven3", "klatt4", "linda", "m6", "Mario",
    "norbert", "robosoft4", "steph2", "travis", "zac")
INTONATIONS: tuple[str, ...] = (".", "?", "!")
# Short carrier phrases (words before, words after the keyword; none of them a
# Speech Commands word) that put the keyword where a sentence has it: first, inside,
# last. Pauses around the keyword let the clip be cut to it (:func:`cut_word`).
CARRIERS: tuple[tuple[str, str], ...] = (
    ("say", "now"), ("I said", ""), ("", "again"), ("the word", "please"), ("next is", ""),
    ("", "is what I said"), ("it was", "then"), ("please say", ""))
CARRIER_PAUSE_MS = 300     # SSML break on each side of the keyword
MIN_PAUSE_S = 0.2          # silences at least this long separate the phrase's parts
PITCH_RANGES: tuple[str, ...] = ("x-low", "low", "medium", "high", "x-high")  # SSML prosody range
EMPHASIS: tuple[str, ...] = ("none", "moderate", "strong")                    # SSML emphasis level
PITCH_BANDS: tuple[tuple[int, int], ...] = ((20, 39), (40, 59), (60, 79))  # espeak -p, 0-99
SPEED_WPM = (130, 210)
SNR_DB = (10.0, 30.0)
SPEECH_PEAK = (0.3, 0.9)
NOISE_TYPES: tuple[str, ...] = ("white", "pink", "brown", "hum", "fan")
BACKGROUND_SECONDS = 60
BACKGROUND_RMS = (0.02, 0.1)
MANIFEST = "spikeport_corpus.json"
CORPUS_FORMAT = 3  # bump when the synthesis changes, so old corpora are rebuilt
ESPEAK_RATE = 22050

DEFAULT_CLIPS_PER_WORD = 600
DEFAULT_CLIPS_PER_UNKNOWN = 100


@dataclass(frozen=True)
class _Job:
    """One clip to synthesize: everything it depends on, so workers need no shared state."""

    out: str
    word: str
    voice: str
    variant: str
    speed: int
    pitch: int
    seed: tuple[int, ...]
    text: str = ""      # SSML of the word (:func:`ssml`); "" speaks the word plainly
    carrier: tuple[str, str] | None = None   # (before, after) phrase of text, cut to the word


def _espeak(args: Sequence[str]) -> bytes:
    try:
        res = subprocess.run(["espeak-ng", *args], capture_output=True, check=False)
    except FileNotFoundError:
        raise SpikeportError(
            "espeak-ng is not on PATH: it builds the default keyword-spotting corpus "
            "(install it, e.g. apt-get install espeak-ng, or give Speech Commands with --data)") from None
    if res.returncode != 0:
        msg = " ".join(res.stderr.decode(errors="replace").split())
        raise SpikeportError(f"espeak-ng {' '.join(args)} failed: {msg}")
    return res.stdout


def ssml(word: str, intonation: str = ".", pitch_range: str = "medium", emphasis: str = "none") -> str:
    """``word`` as SSML for ``espeak-ng -m``: spoken as a one-word statement, question
    or exclamation (``intonation`` one of :data:`INTONATIONS`), with a prosody range
    and an emphasis level."""
    inner = f"{word}{intonation}"
    if emphasis != "none":
        inner = f'<emphasis level="{emphasis}">{word}</emphasis>{intonation}'
    return f'<speak><prosody range="{pitch_range}">{inner}</prosody></speak>'


def random_ssml(word: str, rng: np.random.Generator, carrier: tuple[str, str] | None = None) -> str:
    """:func:`ssml` (or :func:`carrier_ssml` in ``carrier``) with an intonation, range
    and emphasis drawn uniformly."""
    pick = lambda options: options[int(rng.integers(len(options)))]  # noqa: E731
    style = (pick(INTONATIONS), pick(PITCH_RANGES), pick(EMPHASIS))
    return ssml(word, *style) if carrier is None else carrier_ssml(word, carrier, *style)


def carrier_ssml(word: str, carrier: tuple[str, str], intonation: str = ".", pitch_range: str = "medium",
                 emphasis: str = "none") -> str:
    """``word`` inside the carrier phrase ``(before, after)`` as SSML, with a pause of
    :data:`CARRIER_PAUSE_MS` between the word and each non-empty part; the
    intonation closes the whole phrase."""
    before, after = carrier
    pause = f'<break time="{CARRIER_PAUSE_MS}ms"/>'
    inner = word if emphasis == "none" else f'<emphasis level="{emphasis}">{word}</emphasis>'
    phrase = " ".join(p for p in (before, pause if before else "", inner, pause if after else "", after) if p)
    return f'<speak><prosody range="{pitch_range}">{phrase}{intonation}</prosody></speak>'


def sounding_parts(y: np.ndarray, top_db: float = 40.0, frame: int = 160,
                   min_pause_s: float = MIN_PAUSE_S) -> list[tuple[int, int]]:
    """``(start, stop)`` sample ranges of the parts of ``y`` (16 kHz) that sound: frames
    within ``top_db`` of the loudest, split where at least ``min_pause_s`` is quieter."""
    n = len(y) // frame
    if n == 0:
        return []
    energy = (y[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
    if energy.max() <= 0:
        return []
    loud = np.flatnonzero(10 * np.log10(energy / energy.max() + 1e-20) > -top_db)
    breaks = np.flatnonzero(np.diff(loud) * frame >= min_pause_s * SAMPLE_RATE)
    starts = np.concatenate([loud[:1], loud[breaks + 1]])
    stops = np.concatenate([loud[breaks], loud[-1:]]) + 1
    return [(int(a) * frame, int(b) * frame) for a, b in zip(starts, stops)]


def cut_word(y: np.ndarray, carrier: tuple[str, str]) -> np.ndarray | None:
    """The keyword of a carrier phrase ``y`` (16 kHz, from :func:`carrier_ssml`): the
    sounding part after the ``before`` words, or None when the phrase does not split
    into as many parts as it has (the caller then speaks the word alone)."""
    parts = sounding_parts(y)
    if len(parts) != 1 + bool(carrier[0]) + bool(carrier[1]):
        return None
    a, b = parts[1 if carrier[0] else 0]
    return y[a:b]


def available_voices(held_out: bool = False) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The :data:`VOICES` and :data:`VARIANTS` this eSpeak NG installation has, less the
    held-out ones; with ``held_out``, only :data:`HELD_OUT_VOICES` and
    :data:`HELD_OUT_VARIANTS`."""
    langs = {line.split()[1] for line in _espeak(["--voices=en"]).decode().splitlines()[1:] if line.split()}
    variants = set(re.findall(r"!v/(\S+)", _espeak(["--voices=variant"]).decode()))
    keep = (lambda v, held: v in held) if held_out else (lambda v, held: v not in held)
    voices = tuple(v for v in VOICES if v in langs and keep(v, HELD_OUT_VOICES))
    found = tuple(v for v in VARIANTS if v in variants and keep(v, HELD_OUT_VARIANTS))
    if held_out:
        if not voices or not found:
            raise SpikeportError(f"espeak-ng has none of the held-out voices {', '.join(HELD_OUT_VOICES)} or "
                                 f"none of the held-out variants: the robustness set cannot be built")
        return voices, found
    if not voices or len(found) < 10:
        raise SpikeportError(
            f"espeak-ng has {len(voices)} of the English voices {', '.join(VOICES)} and {len(found)} of the "
            f"{len(VARIANTS)} voice variants; the corpus needs at least 1 voice and 10 variants")
    return voices, found


def _parse_wav(buf: bytes, what: str) -> tuple[np.ndarray, int]:
    """Mono 16-bit PCM from a WAV byte stream (espeak's size fields are placeholders)."""
    if buf[:4] != b"RIFF" or buf[8:12] != b"WAVE":
        raise SpikeportError(f"espeak-ng wrote no WAV for {what}")
    pos, rate = 12, None
    while pos + 8 <= len(buf):
        cid, size = buf[pos:pos + 4], struct.unpack("<I", buf[pos + 4:pos + 8])[0]
        if cid == b"fmt ":
            fmt, channels, rate, _, _, bits = struct.unpack("<HHIIHH", buf[pos + 8:pos + 24])
            if (fmt, channels, bits) != (1, 1, 16):
                raise SpikeportError(f"espeak-ng wrote {channels}-channel {bits}-bit format {fmt} for {what}")
        elif cid == b"data":
            data = buf[pos + 8:]
            x = np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.float64) / 32768.0
            return x, int(rate or 0)
        pos += 8 + size + (size & 1)
    raise SpikeportError(f"espeak-ng wrote a WAV without data for {what}")


def _trim(y: np.ndarray, top_db: float = 40.0, frame: int = 256) -> np.ndarray:
    """``y`` without leading and trailing frames more than ``top_db`` below the loudest."""
    n = len(y) // frame
    if n == 0:
        return y
    energy = (y[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
    if energy.max() <= 0:
        return y[:0]
    loud = np.flatnonzero(10 * np.log10(energy / energy.max() + 1e-20) > -top_db)
    return y[loud[0] * frame: (loud[-1] + 1) * frame]


def _shaped(n: int, rng: np.random.Generator, gain) -> np.ndarray:
    """White noise of ``n`` samples shaped in frequency by ``gain(f_hz)``."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    return np.fft.irfft(spec * gain(f), n)


def noise(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples at 16 kHz of one of :data:`NOISE_TYPES`, float64 with RMS 1.

    white; pink (1/f power); brown (1/f^2 power); hum (50 or 60 Hz mains and harmonics
    over pink noise); fan (a band of noise around 200-1200 Hz, slowly amplitude-modulated).
    """
    if kind == "white":
        x = rng.standard_normal(n)
    elif kind == "pink":
        x = _shaped(n, rng, lambda f: 1.0 / np.sqrt(np.maximum(f, 20.0)))
    elif kind == "brown":
        x = _shaped(n, rng, lambda f: 1.0 / np.maximum(f, 20.0))
    elif kind == "hum":
        t = np.arange(n) / SAMPLE_RATE
        f0 = (50.0, 60.0)[int(rng.integers(2))]
        x = sum(rng.uniform(0.2, 1.0) / k * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi))
                for k in range(1, 7))
        x = x / np.sqrt(np.mean(x ** 2)) + 0.5 * noise("pink", n, rng)
    elif kind == "fan":
        fc = rng.uniform(200.0, 1200.0)
        x = _shaped(n, rng, lambda f: np.exp(-0.5 * (np.log(np.maximum(f, 1.0) / fc) / 0.5) ** 2))
        t = np.arange(n) / SAMPLE_RATE
        x = x * (1.0 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.3, 2.0) * t + rng.uniform(0, 2 * np.pi)))
    else:
        raise ValueError(f"unknown noise type {kind!r}")
    return x / np.sqrt(np.mean(x ** 2))


def _speak(voice: str, variant: str, speed: int, pitch: int, text: str, what: str) -> np.ndarray:
    """``text`` (SSML when it starts with ``<``) spoken by eSpeak NG: float64 at 16 kHz."""
    from scipy.signal import resample_poly

    markup = ["-m"] if text.startswith("<") else []
    wav, rate = _parse_wav(_espeak(["-v", f"{voice}+{variant}", "-s", str(speed), "-p", str(pitch), *markup,
                                    "--stdout", text]), what)
    if rate != ESPEAK_RATE:
        raise SpikeportError(f"espeak-ng wrote {rate} Hz audio for {what}, expected {ESPEAK_RATE} Hz")
    return resample_poly(wav, 320, 441)  # 22050 Hz -> 16000 Hz


def synthesize(word: str, voice: str, variant: str, speed: int, pitch: int, text: str = "",
               carrier: tuple[str, str] | None = None) -> np.ndarray:
    """One utterance of ``word`` (or of the SSML ``text``), float64 at 16 kHz, trimmed,
    at most 1 s (spoken faster if needed). With ``carrier``, ``text`` is that
    :func:`carrier_ssml` phrase and the utterance is the word cut from it (the word
    spoken alone when the phrase does not split: :func:`cut_word`)."""
    what = f"{word!r} ({voice}+{variant}, {speed} wpm, pitch {pitch})"
    for _ in range(4):
        y = _speak(voice, variant, speed, pitch, text or word, what)
        if carrier is not None:
            cut = cut_word(y, carrier)
            y = cut if cut is not None else _speak(voice, variant, speed, pitch, word, what)
        y = _trim(y)
        if y.size == 0:
            raise SpikeportError(f"espeak-ng produced silence for {what}")
        if y.size <= CLIP_SAMPLES:
            return y
        speed = int(speed * 1.25)
    return y[:CLIP_SAMPLES]


def place(speech: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """``speech`` (at most 1 s) at a random position in 1 s of silence, its peak
    scaled to a random level in :data:`SPEECH_PEAK`: float64 ``(CLIP_SAMPLES,)``, and
    the RMS of the scaled speech."""
    speech = speech * (rng.uniform(*SPEECH_PEAK) / np.abs(speech).max())
    start = int(rng.integers(CLIP_SAMPLES - speech.size + 1))
    clip = np.zeros(CLIP_SAMPLES)
    clip[start:start + speech.size] = speech
    return clip, float(np.sqrt(np.mean(speech ** 2)))


def write_clip(path: str, clip: np.ndarray) -> None:
    """``clip`` as 16-bit PCM at 16 kHz, scaled down (not clipped) if its peak is over 0.99."""
    peak = np.abs(clip).max()
    if peak > 0.99:  # scale the mix, not clip it, so the SNR holds
        clip = clip * (0.99 / peak)
    sf.write(path, clip, SAMPLE_RATE, subtype="PCM_16")


def _render(job: _Job) -> str:
    """Synthesize, place and mix one clip and write it as 16-bit PCM; returns its path."""
    rng = np.random.default_rng(list(job.seed))
    speech = synthesize(job.word, job.voice, job.variant, job.speed, job.pitch, job.text, job.carrier)
    clip, speech_rms = place(speech, rng)
    kind = NOISE_TYPES[int(rng.integers(len(NOISE_TYPES)))]
    snr = rng.uniform(*SNR_DB)
    clip += noise(kind, CLIP_SAMPLES, rng) * (speech_rms / 10 ** (snr / 20))
    write_clip(job.out, clip)
    return job.out


def _speaker_id(voice: str, variant: str, band: int) -> str:
    return hashlib.sha1(f"{voice}+{variant}/{band}".encode()).hexdigest()[:8]


def _split_counts(n: int) -> tuple[int, int, int]:
    """(train, validation, test) clips of a word with ``n`` clips: about 80/10/10."""
    held = max(1, round(0.1 * n)) if n >= 3 else 0
    return n - 2 * held, held, held


def _plan(out: Path, words: Sequence[tuple[str, int]], voices: Sequence[str], variants: Sequence[str],
          seed: int, carrier_percent: int = 0) -> tuple[list[_Job], dict[str, list[str]], dict[str, str]]:
    """Every clip's job, the validation/test file lists and speaker id -> description.
    ``carrier_percent`` of the clips (drawn from their own stream, so every clip keeps
    its speaker, speed and style) are cut from a carrier phrase."""
    rng = np.random.default_rng([seed, 0xC0])
    carriers = np.random.default_rng([seed, 0xCA])
    groups = [(v, var) for v in voices for var in variants]
    groups = [groups[i] for i in rng.permutation(len(groups))]
    n_train, n_val, n_test = _split_counts(len(groups))
    parts = {"test": groups[:n_test], "validation": groups[n_test:n_test + n_val],
             "train": groups[n_test + n_val:]}
    speakers = {split: [(v, var, b) for v, var in g for b in range(len(PITCH_BANDS))]
                for split, g in parts.items()}
    described: dict[str, str] = {}
    jobs: list[_Job] = []
    lists: dict[str, list[str]] = {"validation": [], "test": []}
    uses: Counter = Counter()
    for wi, (word, count) in enumerate(words):
        (out / word).mkdir(parents=True, exist_ok=True)
        n_tr, n_va, n_te = _split_counts(count)
        for i, split in enumerate(["train"] * n_tr + ["validation"] * n_va + ["test"] * n_te):
            voice, variant, band = speakers[split][int(rng.integers(len(speakers[split])))]
            sid = _speaker_id(voice, variant, band)
            described[sid] = f"{voice}+{variant} pitch {PITCH_BANDS[band][0]}-{PITCH_BANDS[band][1]} ({split})"
            rel = f"{word}/{sid}_nohash_{uses[sid, word]}.wav"
            uses[sid, word] += 1
            if split != "train":
                lists[split].append(rel)
            carrier = None
            if carrier_percent and carriers.random() * 100 < carrier_percent:
                carrier = CARRIERS[int(carriers.integers(len(CARRIERS)))]
            jobs.append(_Job(str(out / rel), word, voice, variant, int(rng.integers(SPEED_WPM[0], SPEED_WPM[1] + 1)),
                             int(rng.integers(PITCH_BANDS[band][0], PITCH_BANDS[band][1] + 1)), (seed, wi, i),
                             random_ssml(word, rng, carrier), carrier))
    return jobs, lists, described


def _write_background(out: Path, seed: int) -> list[str]:
    bg = out / BACKGROUND_DIR
    bg.mkdir(parents=True, exist_ok=True)
    names = []
    for i, kind in enumerate(NOISE_TYPES):
        rng = np.random.default_rng([seed, 0xB6, i])
        x = noise(kind, BACKGROUND_SECONDS * SAMPLE_RATE, rng) * rng.uniform(*BACKGROUND_RMS)
        name = f"{kind}_noise.wav"
        sf.write(str(bg / name), np.clip(x, -0.99, 0.99), SAMPLE_RATE, subtype="PCM_16")
        names.append(f"{BACKGROUND_DIR}/{name}")
    return names


def _params(clips_per_word: int, clips_per_unknown: int, seed: int, carrier_percent: int = 0) -> dict:
    params = {"format": CORPUS_FORMAT, "clips_per_word": clips_per_word, "clips_per_unknown": clips_per_unknown,
              "seed": seed}
    return {**params, "carrier_percent": carrier_percent} if carrier_percent else params


def _wav_count(root: Path) -> int:
    return sum(1 for _ in root.glob("*/*.wav"))


def corpus_is_current(root: str | os.PathLike, clips_per_word: int = DEFAULT_CLIPS_PER_WORD,
                      clips_per_unknown: int = DEFAULT_CLIPS_PER_UNKNOWN, seed: int = 0,
                      carrier_percent: int = 0) -> bool:
    """Whether ``root`` holds a complete corpus built with these parameters."""
    root = Path(root)
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return (manifest.get("params") == _params(clips_per_word, clips_per_unknown, seed, carrier_percent)
            and manifest.get("files") == _wav_count(root))


def _pool_map(fn, jobs: list, workers: int, progress: bool, desc: str) -> None:
    bar = tqdm(total=len(jobs), desc=desc, unit="clip", disable=None if progress else True)
    with bar:
        if workers <= 1 or len(jobs) < 2:
            for job in jobs:
                fn(job)
                bar.update()
            return
        import multiprocessing as mp

        # fork: workers need nothing re-imported; they run only numpy, scipy and espeak-ng
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as ex:
            for _ in ex.map(fn, jobs, chunksize=8):
                bar.update()


def corpus_root(cache_dir: str | os.PathLike, clips_per_word: int = DEFAULT_CLIPS_PER_WORD,
                clips_per_unknown: int = DEFAULT_CLIPS_PER_UNKNOWN, seed: int = 0, carrier_percent: int = 0) -> Path:
    """The cache folder of the corpus with these parameters: ``corpus`` for the
    defaults, ``corpus-<words>-<unknown>-s<seed>[-c<carrier percent>]`` otherwise (one
    folder per parameter set: a build never replaces a corpus of other parameters)."""
    if (clips_per_word, clips_per_unknown, seed, carrier_percent) == (DEFAULT_CLIPS_PER_WORD,
                                                                      DEFAULT_CLIPS_PER_UNKNOWN, 0, 0):
        return Path(cache_dir) / "corpus"
    name = f"corpus-{clips_per_word}-{clips_per_unknown}-s{seed}" + (f"-c{carrier_percent}" if carrier_percent else "")
    return Path(cache_dir) / name


def build_corpus(root: str | os.PathLike, clips_per_word: int = DEFAULT_CLIPS_PER_WORD,
                 clips_per_unknown: int = DEFAULT_CLIPS_PER_UNKNOWN, seed: int = 0,
                 progress: bool = True, workers: int = 2, carrier_percent: int = 0) -> Path:
    """Build (or reuse) the eSpeak NG corpus in ``root`` and return ``root``.

    ``clips_per_word`` clips of each of the 10 :data:`COMMAND_WORDS`,
    ``clips_per_unknown`` of each of the 10 :data:`UNKNOWN_WORDS`; about 80/10/10 per
    word into train/validation/test by unseen speakers. Each clip is 1 s, 16 kHz, mono,
    16-bit. ``_background_noise_/`` gets one 60 s file per :data:`NOISE_TYPES`.
    ``carrier_percent`` of the clips are cut from short carrier phrases
    (:data:`CARRIERS`), the rest are the word spoken alone.
    When ``root`` already holds a complete corpus with these parameters nothing is done.
    Otherwise the corpus is built in a temporary folder beside ``root`` and renamed onto
    it; an existing ``root`` that is not a spikeport corpus (non-empty, no manifest) is
    an error rather than overwritten. ``workers`` processes synthesize (no effect on
    the output).
    """
    root = Path(root)
    if clips_per_word < 1 or clips_per_unknown < 0:
        raise SpikeportError(f"corpus sizes must be >= 1 clip per command word and >= 0 per unknown word, "
                             f"got {clips_per_word} and {clips_per_unknown}")
    if not 0 <= carrier_percent <= 100:
        raise SpikeportError(f"corpus carrier_percent must be in [0, 100], got {carrier_percent}")
    sizes = (clips_per_word, clips_per_unknown, seed, carrier_percent)
    if corpus_is_current(root, *sizes):
        return root
    if root.exists() and not root.is_dir():
        raise SpikeportError(f"corpus folder {root} is a file")
    if root.is_dir() and not (root / MANIFEST).exists() and any(root.iterdir()):
        raise SpikeportError(f"{root} is not empty and holds no {MANIFEST}: not overwriting it with the corpus")
    other = _manifest_params(root)
    if other is not None and other != _params(*sizes) and _complete(root):
        raise SpikeportError(f"{root} holds a corpus built with other parameters ({other}); build this one in "
                             f"another folder ({corpus_root(root.parent, *sizes)})")
    from spikeport.locks import locked

    with locked(root.parent, "corpus build", lock_file=root.parent / f".{root.name}.lock"):
        if corpus_is_current(root, *sizes):
            return root
        return _build(root, sizes, progress, workers)


def _manifest_params(root: Path) -> dict | None:
    try:
        return json.loads((root / MANIFEST).read_text()).get("params")
    except (OSError, ValueError, AttributeError):
        return None


def _complete(root: Path) -> bool:
    try:
        return json.loads((root / MANIFEST).read_text()).get("files") == _wav_count(root)
    except (OSError, ValueError, AttributeError):
        return False


def _build(root: Path, sizes: tuple[int, int, int, int], progress: bool, workers: int) -> Path:
    """Synthesize the corpus of ``sizes`` (clips per word, per unknown word, seed,
    carrier percent) beside ``root`` and rename it onto ``root`` (lock held)."""
    clips_per_word, clips_per_unknown, seed, carrier_percent = sizes
    voices, variants = available_voices()
    version = _espeak(["--version"]).decode().strip()

    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.build-", dir=root.parent))
    try:
        words = [(w, clips_per_word) for w in COMMAND_WORDS] + [(w, clips_per_unknown) for w in UNKNOWN_WORDS]
        words = [(w, n) for w, n in words if n > 0]
        jobs, lists, speakers = _plan(tmp, words, voices, variants, seed, carrier_percent)
        background = _write_background(tmp, seed)
        _pool_map(_render, jobs, workers, progress, "building keyword corpus")
        (tmp / VALIDATION_LIST).write_text("".join(f"{p}\n" for p in sorted(lists["validation"])))
        (tmp / TESTING_LIST).write_text("".join(f"{p}\n" for p in sorted(lists["test"])))
        manifest = {"params": _params(*sizes), "files": len(jobs) + len(background),
                    "espeak_ng": version, "voices": list(voices), "variants": list(variants),
                    "words": dict(words), "background": background, "speakers": speakers,
                    "held_out": {"voices": list(HELD_OUT_VOICES), "variants": list(HELD_OUT_VARIANTS)}}
        if carrier_percent:
            manifest["carriers"] = {"phrases": [list(c) for c in CARRIERS],
                                    "clips": sum(j.carrier is not None for j in jobs)}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        old = None
        if root.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{root.name}.old-", dir=root.parent))
            os.replace(root, old / "corpus")
        os.replace(tmp, root)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return root
