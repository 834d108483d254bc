"""Waveform augmentations standard in keyword spotting, as pure functions.

Every function takes 16 kHz mono audio float64 ``(samples,)`` (or a random
generator) and returns a new array; nothing is modified in place. They compose
through :func:`perturb`, driven by an :class:`AudioAugment`.

* speed (resampling: tempo and pitch together, Ko et al. 2015's speed perturbation);
* tempo (phase-vocoder time stretch: duration only);
* pitch (semitone shift at constant duration);
* reverberation with a synthetic room impulse response (:func:`room_impulse`: a direct
  path and an exponentially decaying noise tail of a given RT60);
* random equalisation (peaking biquads, RBJ audio-EQ cookbook) and gain;
* background noise of the corpus' kinds (:func:`spikeport.train.corpus.noise`) at an SNR.

Vocal-tract-length (formant) warping and SpecAugment masks act on the features
instead (:mod:`spikeport.train.augment`). The robustness set
(:mod:`spikeport.train.robust_corpus`) uses room, equaliser and noise models that
none of these draw from.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

SAMPLE_RATE = 16_000


def fit_length(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``y`` cut at the end to ``n`` samples, or padded there with white noise at the
    RMS of its quietest 20 ms (digital silence would be a feature no recording has)."""
    if y.size >= n:
        return y[:n].copy()
    frame = SAMPLE_RATE // 50
    k = y.size // frame
    floor = np.sqrt((y[: k * frame].reshape(k, frame) ** 2).mean(axis=1).min()) if k else 0.0
    return np.concatenate([y, rng.standard_normal(n - y.size) * floor])


def change_speed(y: np.ndarray, factor: float) -> np.ndarray:
    """``y`` played ``factor`` times faster (shorter and higher for ``factor > 1``):
    band-limited (FFT) resampling to ``round(len(y) / factor)`` samples, length not
    fitted."""
    from scipy.signal import resample

    return resample(np.asarray(y, dtype=np.float64), max(1, int(round(y.size / factor))))


def stretch_tempo(y: np.ndarray, rate: float) -> np.ndarray:
    """``y`` ``rate`` times faster at the same pitch (librosa's phase vocoder)."""
    import librosa

    return librosa.effects.time_stretch(np.asarray(y, dtype=np.float32), rate=rate).astype(np.float64)


def shift_pitch(y: np.ndarray, semitones: float, sr: int = SAMPLE_RATE) -> np.ndarray:
    """``y`` shifted by ``semitones`` at the same duration (librosa)."""
    import librosa

    return librosa.effects.pitch_shift(np.asarray(y, dtype=np.float32), sr=sr, n_steps=semitones).astype(np.float64)


def room_impulse(rt60: float, rng: np.random.Generator, sr: int = SAMPLE_RATE, direct_ratio_db: float = 0.0
                 ) -> np.ndarray:
    """A synthetic room impulse response: a unit direct path, then after 1-5 ms a
    Gaussian noise tail decaying by 60 dB in ``rt60`` seconds, its energy
    ``direct_ratio_db`` below the direct path's. float64 ``(round(rt60 * sr) + 1,)``."""
    n = max(2, int(round(rt60 * sr)) + 1)
    t = np.arange(n) / sr
    tail = rng.standard_normal(n) * 10.0 ** (-3.0 * t / rt60)
    tail[: int(rng.integers(sr // 1000, 5 * sr // 1000 + 1))] = 0.0
    tail *= 10.0 ** (-direct_ratio_db / 20.0) / max(np.sqrt(np.sum(tail ** 2)), 1e-12)
    tail[0] = 1.0
    return tail


def reverberate(y: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """``y`` convolved with ``rir``, same length and RMS as ``y``."""
    from scipy.signal import fftconvolve

    wet = fftconvolve(y, rir)[: y.size]
    rms_in, rms_out = np.sqrt(np.mean(y ** 2)), np.sqrt(np.mean(wet ** 2))
    return wet * (rms_in / rms_out) if rms_out > 0 else wet


def peaking_biquad(f0: float, gain_db: float, q: float, sr: int = SAMPLE_RATE) -> tuple[np.ndarray, np.ndarray]:
    """``(b, a)`` of a peaking equaliser at ``f0`` Hz, ``gain_db`` dB, quality ``q``
    (Bristow-Johnson's audio-EQ cookbook)."""
    amp = 10.0 ** (gain_db / 40.0)
    w0 = 2 * np.pi * f0 / sr
    alpha = np.sin(w0) / (2 * q)
    b = np.array([1 + alpha * amp, -2 * np.cos(w0), 1 - alpha * amp])
    a = np.array([1 + alpha / amp, -2 * np.cos(w0), 1 - alpha / amp])
    return b / a[0], a / a[0]


def random_eq(y: np.ndarray, rng: np.random.Generator, bands: int = 3, max_db: float = 10.0,
              gain_db: float = 6.0) -> np.ndarray:
    """``y`` through ``bands`` peaking filters at log-uniform 100-6000 Hz, each of a
    uniform gain in ``[-max_db, max_db]`` and Q in [0.5, 3], times a uniform gain in
    ``[-gain_db, gain_db]`` dB."""
    from scipy.signal import lfilter

    out = np.asarray(y, dtype=np.float64)
    for _ in range(bands):
        f0 = float(np.exp(rng.uniform(np.log(100.0), np.log(6000.0))))
        b, a = peaking_biquad(f0, rng.uniform(-max_db, max_db), rng.uniform(0.5, 3.0))
        out = lfilter(b, a, out)
    return out * 10.0 ** (rng.uniform(-gain_db, gain_db) / 20.0)


def mix_at_snr(y: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``y`` plus ``noise`` scaled so that the power of ``y`` over that of the noise
    is ``snr_db`` dB (power of ``y`` over its samples above 1 % of its peak, so that
    the silence around a word does not count)."""
    loud = np.abs(y) > 0.01 * np.abs(y).max() if y.size and np.abs(y).max() > 0 else np.ones(y.size, bool)
    p_speech = np.mean(y[loud] ** 2) if loud.any() else 0.0
    p_noise = np.mean(noise ** 2)
    if p_noise == 0 or p_speech == 0:
        return y.copy()
    return y + noise * np.sqrt(p_speech / p_noise / 10.0 ** (snr_db / 10.0))


@dataclass(frozen=True)
class AudioAugment:
    """Probability and range of each waveform perturbation (probability 0 turns it off).

    ``speed``: factor uniform in ``[1 - speed, 1 + speed]``; ``tempo``: rate uniform
    in ``[1 - tempo, 1 + tempo]``; ``pitch``: semitones uniform in ``[-pitch, pitch]``;
    ``rt60``: (lo, hi) seconds of :func:`room_impulse`; ``eq_db``: :func:`random_eq`'s
    ``max_db``; ``snr_db``: (lo, hi) dB of added noise of a random corpus kind.
    ``copies``: how many perturbed versions of the training split are cached.
    """

    p_speed: float = 0.5
    speed: float = 0.15
    p_tempo: float = 0.0
    tempo: float = 0.15
    p_pitch: float = 0.0
    pitch: float = 2.0
    p_reverb: float = 0.5
    rt60: tuple[float, float] = (0.1, 0.7)
    p_eq: float = 0.5
    eq_db: float = 10.0
    p_noise: float = 0.5
    snr_db: tuple[float, float] = (0.0, 20.0)
    copies: int = 2

    def to_json(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, d: dict, where: str = "audio_augment") -> "AudioAugment":
        """Validated fields from a JSON object (defaults for absent ones)."""
        from spikeport.errors import SpikeportError

        if not isinstance(d, dict):
            raise SpikeportError(f"{where}: not an object")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise SpikeportError(f"{where}: unknown field(s) {', '.join(map(str, unknown))} (known: "
                                 f"{', '.join(sorted(names))})")
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        aug = cls(**kw)
        for name, ok in aug._rules():
            if not ok:
                raise SpikeportError(f"{where}: {name} is {getattr(aug, name)!r}; out of range")
        return aug

    def _rules(self) -> list[tuple[str, bool]]:
        def num(v, lo, hi):
            return isinstance(v, (int, float)) and not isinstance(v, bool) and lo <= v <= hi

        def rng_pair(v, lo, hi):
            return isinstance(v, tuple) and len(v) == 2 and all(num(x, lo, hi) for x in v) and v[0] <= v[1]

        probs = [(f"p_{k}", num(getattr(self, f"p_{k}"), 0, 1)) for k in ("speed", "tempo", "pitch", "reverb",
                                                                          "eq", "noise")]
        return probs + [("speed", num(self.speed, 0, 0.5)), ("tempo", num(self.tempo, 0, 0.5)),
                        ("pitch", num(self.pitch, 0, 12)), ("rt60", rng_pair(self.rt60, 0.01, 3.0)),
                        ("eq_db", num(self.eq_db, 0, 30)), ("snr_db", rng_pair(self.snr_db, -20, 60)),
                        ("copies", isinstance(self.copies, int) and not isinstance(self.copies, bool)
                         and 1 <= self.copies <= 16)]

    @property
    def active(self) -> bool:
        return any(getattr(self, f"p_{k}") > 0 for k in ("speed", "tempo", "pitch", "reverb", "eq", "noise"))


def perturb(y: np.ndarray, aug: AudioAugment, rng: np.random.Generator) -> np.ndarray:
    """One random perturbation of the clip ``y`` ``(samples,)`` by ``aug``: speed,
    tempo, pitch, reverberation, equalisation and noise in that order, each with its
    probability; float64, same length (cut, or padded by :func:`fit_length`); always a
    new array."""
    from spikeport.train.corpus import NOISE_TYPES, noise

    n = y.size
    out = np.array(y, dtype=np.float64)
    if rng.random() < aug.p_speed:
        out = fit_length(change_speed(out, rng.uniform(1 - aug.speed, 1 + aug.speed)), n, rng)
    if rng.random() < aug.p_tempo:
        out = fit_length(stretch_tempo(out, rng.uniform(1 - aug.tempo, 1 + aug.tempo)), n, rng)
    if rng.random() < aug.p_pitch:
        out = shift_pitch(out, rng.uniform(-aug.pitch, aug.pitch))
    if rng.random() < aug.p_reverb:
        out = reverberate(out, room_impulse(rng.uniform(*aug.rt60), rng, direct_ratio_db=rng.uniform(-6, 6)))
    if rng.random() < aug.p_eq:
        out = random_eq(out, rng, max_db=aug.eq_db)
    if rng.random() < aug.p_noise:
        kind = NOISE_TYPES[int(rng.integers(len(NOISE_TYPES)))]
        out = mix_at_snr(out, noise(kind, n, rng), rng.uniform(*aug.snr_db))
    peak = np.abs(out).max() if out.size else 0.0
    return out * (0.99 / peak) if peak > 0.99 else out
