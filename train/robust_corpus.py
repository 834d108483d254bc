"""The robustness set: the corpus' 20 words by speakers, rooms, equalisers and
noises that training never meets, in the Speech Commands layout (every clip in
``testing_list.txt``), to be evaluated on and never trained or tuned on.

* speakers: :data:`~spikeport.train.corpus.HELD_OUT_VOICES` x
  :data:`~spikeport.train.corpus.HELD_OUT_VARIANTS` (both kept out of the corpus), at
  pitches 10-90 and speeds 120-230 wpm (the corpus: 20-79, 130-210);
* rooms: image-source shoebox rooms (Allen and Berkley 1979), RT60 0.2-1.0 s by
  Sabine's formula (training reverberation, if any, is an exponential noise tail);
* equalisers: telephone band (300-3400 Hz), muffled (low-pass 1.5-2.5 kHz), tinny
  (high-pass 400-800 Hz), all Butterworth (training equalises with peaking filters);
* noise: babble of held-out voices saying other words, clicks, and music-like tones
  (training uses white, pink, brown, hum and fan noise), at 5-20 dB SNR;
  ``_background_noise_/`` holds the same three kinds for the ``_silence_`` class;
* a quarter of the clips (:data:`P_CLEAN`) have none of these, only the corpus' own
  noise at its SNRs: the held-out speaker alone, so that the breakdown separates what
  unseen speakers cost from what unseen acoustics cost.

Each clip's conditions are recorded in the manifest (``clips``), so accuracy can be
broken down by condition. Same parameters and seed -> byte-identical files.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spikeport.errors import SpikeportError
from spikeport.train import corpus as cp
from spikeport.train.audio_augment import mix_at_snr
from spikeport.train.speech_commands import BACKGROUND_DIR, CLIP_SAMPLES, COMMAND_WORDS, SAMPLE_RATE, TESTING_LIST, \
    VALIDATION_LIST

MANIFEST = "spikeport_robust.json"
ROBUST_FORMAT = 2
PITCH = (10, 90)
SPEED_WPM = (120, 230)
RT60 = (0.2, 1.0)           # s
SNR_DB = (5.0, 20.0)
P_REVERB = 0.6
P_EQ = 0.6
P_CLEAN = 0.25              # clips with the held-out speaker alone: separates speaker from acoustics
NOISE_KINDS: tuple[str, ...] = ("babble", "clicks", "music")
EQ_KINDS: tuple[str, ...] = ("telephone", "muffled", "tinny")
BABBLE_WORDS: tuple[str, ...] = ("window", "paper", "morning", "river", "number", "little", "garden", "yellow",
                                 "water", "people", "music", "table")
BACKGROUND_SECONDS = 20
SOUND_SPEED = 343.0         # m/s
DEFAULT_CLIPS_PER_WORD = 40
DEFAULT_CLIPS_PER_UNKNOWN = 8


def shoebox_rir(rt60: float, rng: np.random.Generator, sr: int = SAMPLE_RATE, length_s: float = 0.5) -> np.ndarray:
    """Impulse response of a random shoebox room by the image-source method: room
    3-8 x 3-6 x 2.4-3.5 m, source and microphone at least 0.5 m from the walls, one
    reflection coefficient for all walls from Sabine's RT60 (s); images up to
    ``length_s`` of delay. float64, starting at the direct path's arrival (so shorter
    than ``round(length_s * sr)`` by that delay), peak 1 (usually the direct path;
    reflections arriving on one sample can add up to more)."""
    size = np.array([rng.uniform(3, 8), rng.uniform(3, 6), rng.uniform(2.4, 3.5)])
    src, mic = (np.array([rng.uniform(0.5, d - 0.5) for d in size]) for _ in range(2))
    volume, surface = np.prod(size), 2 * (size[0] * size[1] + size[0] * size[2] + size[1] * size[2])
    absorption = min(0.99, 0.161 * volume / (surface * rt60))
    beta = np.sqrt(1.0 - absorption)
    n = int(round(length_s * sr))
    reach = SOUND_SPEED * length_s
    axes = []
    for a in range(3):
        k = np.arange(-int(np.ceil(reach / (2 * size[a]))) - 1, int(np.ceil(reach / (2 * size[a]))) + 2)
        pos = np.concatenate([2 * k * size[a] + src[a], 2 * k * size[a] - src[a]]) - mic[a]
        hits = np.concatenate([np.abs(2 * k), np.abs(2 * k - 1)])
        axes.append((pos, hits))
    (px, hx), (py, hy), (pz, hz) = axes
    dist = np.sqrt(px[:, None, None] ** 2 + py[None, :, None] ** 2 + pz[None, None, :] ** 2)
    refl = hx[:, None, None] + hy[None, :, None] + hz[None, None, :]
    keep = dist < reach
    delay = np.round(dist[keep] / SOUND_SPEED * sr).astype(int)
    rir = np.zeros(n)
    np.add.at(rir, np.minimum(delay, n - 1), beta ** refl[keep] / np.maximum(dist[keep], 0.1))
    first = int(delay.min())
    return rir[first:] / np.abs(rir).max()


def equalise(y: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """``y`` through one of :data:`EQ_KINDS` (4th-order Butterworth sections)."""
    from scipy.signal import butter, sosfilt

    if kind == "telephone":
        sos = butter(4, [300.0, 3400.0], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    elif kind == "muffled":
        sos = butter(4, rng.uniform(1500.0, 2500.0), btype="lowpass", fs=SAMPLE_RATE, output="sos")
    elif kind == "tinny":
        sos = butter(4, rng.uniform(400.0, 800.0), btype="highpass", fs=SAMPLE_RATE, output="sos")
    else:
        raise ValueError(f"unknown equaliser {kind!r}")
    return sosfilt(sos, y)


def held_out_noise(kind: str, n: int, rng: np.random.Generator, speakers: list[tuple[str, str]]) -> np.ndarray:
    """``n`` samples of one of :data:`NOISE_KINDS`, RMS 1: ``babble`` (4-7 held-out
    speakers saying :data:`BABBLE_WORDS`, overlapping), ``clicks`` (decaying
    impulses, 3-30 per second), ``music`` (notes of 3 harmonics, 150-400 ms each)."""
    x = np.zeros(n)
    if kind == "babble":
        for _ in range(int(rng.integers(4, 8))):
            pos = int(rng.integers(-SAMPLE_RATE // 2, n))
            while pos < n:
                voice, variant = speakers[int(rng.integers(len(speakers)))]
                word = BABBLE_WORDS[int(rng.integers(len(BABBLE_WORDS)))]
                y = cp.synthesize(word, voice, variant, int(rng.integers(140, 200)), int(rng.integers(20, 80)))
                y = y / max(np.sqrt(np.mean(y ** 2)), 1e-9)
                lo, hi = max(pos, 0), min(pos + y.size, n)
                if hi > lo:
                    x[lo:hi] += y[lo - pos:hi - pos]
                pos += y.size + int(rng.integers(0, SAMPLE_RATE // 5))
    elif kind == "clicks":
        t = np.arange(int(0.01 * SAMPLE_RATE)) / SAMPLE_RATE
        for at in rng.integers(0, n, int(rng.uniform(3, 30) * n / SAMPLE_RATE) + 1):
            burst = rng.standard_normal(t.size) * np.exp(-t / rng.uniform(0.001, 0.004))
            x[at:at + t.size] += burst[: n - at] * rng.uniform(0.3, 1.0)
    elif kind == "music":
        pos = 0
        while pos < n:
            m = min(int(rng.uniform(0.15, 0.4) * SAMPLE_RATE), n - pos)
            f0 = 110.0 * 2 ** (int(rng.integers(0, 36)) / 12)
            t = np.arange(m) / SAMPLE_RATE
            env = np.minimum(1.0, t / 0.01) * np.exp(-t / 0.3)
            x[pos:pos + m] = env * sum(np.sin(2 * np.pi * h * f0 * t) / h for h in (1, 2, 3))
            pos += m
    else:
        raise ValueError(f"unknown noise kind {kind!r}")
    rms = np.sqrt(np.mean(x ** 2))
    return x / rms if rms > 0 else x


@dataclass(frozen=True)
class _Clip:
    """One clip: what the corpus would synthesize, and who may babble behind it."""

    job: cp._Job
    speakers: tuple[tuple[str, str], ...]


def _conditions(rng: np.random.Generator) -> dict:
    """One clip's room, equaliser and noise; with probability :data:`P_CLEAN` none of
    them (the held-out speaker alone, in the corpus' own kinds of noise)."""
    if rng.random() < P_CLEAN:
        return {"rt60": None, "eq": None, "noise": "corpus", "snr_db": float(rng.uniform(*cp.SNR_DB))}
    return {"rt60": float(rng.uniform(*RT60)) if rng.random() < P_REVERB else None,
            "eq": EQ_KINDS[int(rng.integers(len(EQ_KINDS)))] if rng.random() < P_EQ else None,
            "noise": NOISE_KINDS[int(rng.integers(len(NOISE_KINDS)))], "snr_db": float(rng.uniform(*SNR_DB))}


def _render(clip_job: _Clip) -> dict:
    """Synthesize, degrade and write one clip; returns its conditions."""
    from scipy.signal import fftconvolve

    job = clip_job.job
    rng = np.random.default_rng(list(job.seed))
    speech = cp.synthesize(job.word, job.voice, job.variant, job.speed, job.pitch, job.text)
    clip, _ = cp.place(speech, rng)
    cond = _conditions(rng)
    if cond["rt60"] is not None:
        clip = fftconvolve(clip, shoebox_rir(cond["rt60"], rng))[:CLIP_SAMPLES]
    if cond["eq"] is not None:
        clip = equalise(clip, cond["eq"], rng)
    if cond["noise"] == "corpus":
        kind = cp.NOISE_TYPES[int(rng.integers(len(cp.NOISE_TYPES)))]
        clip = mix_at_snr(clip, cp.noise(kind, CLIP_SAMPLES, rng), cond["snr_db"])
    else:
        clip = mix_at_snr(clip, held_out_noise(cond["noise"], CLIP_SAMPLES, rng, list(clip_job.speakers)),
                          cond["snr_db"])
    cp.write_clip(job.out, clip)
    return {"voice": job.voice, "variant": job.variant, "pitch": job.pitch, "speed": job.speed, **cond}


def _plan(tmp: Path, clips_per_word: int, clips_per_unknown: int, seed: int) -> list[_Clip]:
    voices, variants = cp.available_voices(held_out=True)
    speakers = tuple((v, var) for v in voices for var in variants)
    rng = np.random.default_rng([seed, 0x0B])
    jobs = []
    words = [(w, clips_per_word) for w in COMMAND_WORDS] + [(w, clips_per_unknown) for w in cp.UNKNOWN_WORDS]
    for wi, (word, count) in enumerate(words):
        (tmp / word).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            voice, variant = speakers[int(rng.integers(len(speakers)))]
            sid = cp._speaker_id(voice, variant, 9)
            job = cp._Job(str(tmp / word / f"{sid}_nohash_{i}.wav"), word, voice, variant,
                          int(rng.integers(SPEED_WPM[0], SPEED_WPM[1] + 1)), int(rng.integers(PITCH[0], PITCH[1] + 1)),
                          (seed, wi, i), cp.random_ssml(word, rng))
            jobs.append(_Clip(job, speakers))
    return jobs


def _params(clips_per_word: int, clips_per_unknown: int, seed: int) -> dict:
    return {"format": ROBUST_FORMAT, "clips_per_word": clips_per_word, "clips_per_unknown": clips_per_unknown,
            "seed": seed}


def robust_root(cache_dir: str | os.PathLike, clips_per_word: int = DEFAULT_CLIPS_PER_WORD,
                clips_per_unknown: int = DEFAULT_CLIPS_PER_UNKNOWN, seed: int = 0) -> Path:
    """The cache folder of the robustness set with these parameters: ``robust`` for
    the defaults, ``robust-<words>-<unknown>-s<seed>`` otherwise."""
    if (clips_per_word, clips_per_unknown, seed) == (DEFAULT_CLIPS_PER_WORD, DEFAULT_CLIPS_PER_UNKNOWN, 0):
        return Path(cache_dir) / "robust"
    return Path(cache_dir) / f"robust-{clips_per_word}-{clips_per_unknown}-s{seed}"


def is_current(root: Path, clips_per_word: int, clips_per_unknown: int, seed: int) -> bool:
    """Whether ``root`` holds a complete robustness set built with these parameters."""
    try:
        m = json.loads((Path(root) / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return m.get("params") == _params(clips_per_word, clips_per_unknown, seed) and \
        m.get("files") == sum(1 for _ in Path(root).glob("*/*.wav"))


def build_robustness_set(root: str | os.PathLike, clips_per_word: int = DEFAULT_CLIPS_PER_WORD,
                         clips_per_unknown: int = DEFAULT_CLIPS_PER_UNKNOWN, seed: int = 0,
                         progress: bool = True, workers: int = 2) -> Path:
    """Build (or reuse) the robustness set in ``root`` and return ``root``: ``clips_per_word``
    clips of each command word and ``clips_per_unknown`` of each other word, all in the
    test split, plus ``_background_noise_/``. Built beside ``root`` and renamed onto it."""
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    from spikeport.locks import locked

    root = Path(root)
    if clips_per_word < 1 or clips_per_unknown < 0:
        raise SpikeportError(f"robustness set sizes must be >= 1 clip per command word and >= 0 per other word, "
                             f"got {clips_per_word} and {clips_per_unknown}")
    if root.exists() and not (root / MANIFEST).exists() and (not root.is_dir() or any(root.iterdir())):
        raise SpikeportError(f"{root} exists and holds no {MANIFEST}: not overwriting it with the robustness set")
    root.parent.mkdir(parents=True, exist_ok=True)
    with locked(root.parent, "robustness set build", lock_file=root.parent / f".{root.name}.lock"):
        if is_current(root, clips_per_word, clips_per_unknown, seed):
            return root
        tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.build-", dir=root.parent))
        try:
            jobs = _plan(tmp, clips_per_word, clips_per_unknown, seed)
            background = _write_background(tmp, seed, list(jobs[0].speakers))
            bar = tqdm(total=len(jobs), desc="building robustness set", unit="clip", disable=None if progress else True)
            with bar, ProcessPoolExecutor(max_workers=max(1, workers)) as ex:
                conditions = {}
                for job, cond in zip(jobs, ex.map(_render, jobs, chunksize=8)):
                    conditions[str(Path(job.job.out).relative_to(tmp))] = cond
                    bar.update()
            (tmp / VALIDATION_LIST).write_text("")
            (tmp / TESTING_LIST).write_text("".join(f"{p}\n" for p in sorted(conditions)))
            manifest = {"params": _params(clips_per_word, clips_per_unknown, seed), "files": len(jobs) + len(background),
                        "espeak_ng": cp._espeak(["--version"]).decode().strip(), "background": background,
                        "clips": conditions}
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
            if root.exists():
                shutil.rmtree(root)
            os.replace(tmp, root)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return root


def _write_background(tmp: Path, seed: int, speakers: list[tuple[str, str]]) -> list[str]:
    (tmp / BACKGROUND_DIR).mkdir()
    names = []
    for i, kind in enumerate(NOISE_KINDS):
        rng = np.random.default_rng([seed, 0xB7, i])
        x = held_out_noise(kind, BACKGROUND_SECONDS * SAMPLE_RATE, rng, speakers) * rng.uniform(*cp.BACKGROUND_RMS)
        name = f"{BACKGROUND_DIR}/{kind}_noise.wav"
        cp.write_clip(str(tmp / name), x)
        names.append(name)
    return names
