"""Keyword-spotting data: the eSpeak NG corpus, the Speech Commands loader, the features."""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from spikeport.errors import SpikeportError
from spikeport.train import corpus as kc
from spikeport.train import features as kf
from spikeport.train import speech_commands as sc

WORDS = sc.COMMAND_WORDS + kc.UNKNOWN_WORDS
PER_WORD, PER_UNKNOWN = 24, 4  # train: 20 per command word, 2 per unknown word


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("kws") / "corpus"
    return kc.build_corpus(root, clips_per_word=PER_WORD, clips_per_unknown=PER_UNKNOWN, seed=0, progress=False)


@pytest.fixture
def copy(corpus, tmp_path) -> Path:
    """A private copy of the corpus to break."""
    return Path(shutil.copytree(corpus, tmp_path / "copy"))


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- corpus ---------------------------------------------------------------------------------

def test_corpus_layout(corpus):
    folders = sorted(p.name for p in corpus.iterdir() if p.is_dir())
    assert folders == sorted(WORDS + (sc.BACKGROUND_DIR,))
    for w in WORDS:
        names = [p.name for p in (corpus / w).iterdir()]
        assert len(names) == (PER_WORD if w in sc.COMMAND_WORDS else PER_UNKNOWN)
        assert all(re.fullmatch(r"[0-9a-f]{8}_nohash_\d+\.wav", n) for n in names), names
    for p in list((corpus / "yes").iterdir())[:5] + list((corpus / "marvin").iterdir()):
        info = sf.info(str(p))
        assert (info.samplerate, info.frames, info.channels, info.subtype) == (16000, 16000, 1, "PCM_16")
        x, _ = sf.read(str(p))
        assert 0.01 < np.abs(x).max() <= 1.0
    noise = sorted(p.name for p in (corpus / sc.BACKGROUND_DIR).iterdir())
    assert noise == sorted(f"{k}_noise.wav" for k in kc.NOISE_TYPES)
    for name in noise:
        info = sf.info(str(corpus / sc.BACKGROUND_DIR / name))
        assert (info.samplerate, info.frames) == (16000, kc.BACKGROUND_SECONDS * 16000)
    listed = (corpus / sc.VALIDATION_LIST).read_text().split() + (corpus / sc.TESTING_LIST).read_text().split()
    assert all((corpus / rel).is_file() for rel in listed)
    # 2 + 2 held out of each command word, 1 + 1 of each unknown word
    assert len(listed) == 10 * 4 + 10 * 2


def test_corpus_speakers_unseen(corpus):
    manifest = json.loads((corpus / kc.MANIFEST).read_text())
    # the speaker description is "voice+variant pitch lo-hi (split)"; split by voice+variant
    groups: dict[str, set[str]] = {}
    for desc in manifest["speakers"].values():
        groups.setdefault(desc.rsplit("(", 1)[1].rstrip(")"), set()).add(desc.split(" pitch")[0])
    assert set(groups) == {"train", "validation", "test"}
    assert not groups["train"] & groups["test"]
    assert not groups["train"] & groups["validation"]
    assert not groups["validation"] & groups["test"]


def test_corpus_deterministic(tmp_path):
    a = kc.build_corpus(tmp_path / "a", clips_per_word=2, clips_per_unknown=1, seed=3, progress=False, workers=1)
    b = kc.build_corpus(tmp_path / "b", clips_per_word=2, clips_per_unknown=1, seed=3, progress=False, workers=2)
    c = kc.build_corpus(tmp_path / "c", clips_per_word=2, clips_per_unknown=1, seed=4, progress=False, workers=2)
    ta, tb, tc = _tree(a), _tree(b), _tree(c)
    assert len(ta) == 10 * 2 + 10 * 1 + len(kc.NOISE_TYPES) + 3
    assert ta == tb
    differ = [k for k in ta if tc.get(k) != ta[k] and k.endswith(".wav")]
    assert len(differ) > 20  # new noise files, and new speakers or audio for the clips


def test_corpus_cached_then_rebuilt(tmp_path, monkeypatch):
    root = kc.build_corpus(tmp_path / "k", clips_per_word=2, clips_per_unknown=1, seed=0, progress=False)
    before = _tree(root)

    def no_synthesis(job):
        raise AssertionError("the cached corpus was synthesized again")

    monkeypatch.setattr(kc, "_render", no_synthesis)
    assert kc.build_corpus(root, clips_per_word=2, clips_per_unknown=1, seed=0, progress=False) == root
    with pytest.raises(SpikeportError, match="holds a corpus built with other parameters"):
        kc.build_corpus(root, clips_per_word=3, clips_per_unknown=1, seed=0, progress=False, workers=1)
    assert _tree(root) == before  # a complete corpus of other parameters is never replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == [".k.lock", "k"]  # and no temporary folder
    assert kc.corpus_root(tmp_path, 3, 1, 0) == tmp_path / "corpus-3-1-s0"  # where that one goes
    assert kc.corpus_root(tmp_path) == tmp_path / "corpus"

    monkeypatch.undo()
    (root / "yes" / next(iter(os.listdir(root / "yes")))).unlink()  # incomplete -> rebuilt
    assert not kc.corpus_is_current(root, 2, 1, 0)
    kc.build_corpus(root, clips_per_word=2, clips_per_unknown=1, seed=0, progress=False)
    assert _tree(root) == before  # deterministic: the same files again
    assert sorted(p.name for p in tmp_path.iterdir()) == [".k.lock", "k"]


def test_corpus_refuses_foreign_folder(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(SpikeportError, match="mine.*not empty"):
        kc.build_corpus(tmp_path / "mine", clips_per_word=1, clips_per_unknown=0, progress=False)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


# --- loader ---------------------------------------------------------------------------------

def test_load_split_12(corpus):
    splits = {s: sc.load_split(corpus, s) for s in sc.SPLITS}
    expect = {"train": (20, 2), "validation": (2, 1), "test": (2, 1)}
    for name, split in splits.items():
        assert split.classes == sc.CLASSES_12
        per_cmd, per_unk = expect[name]
        counts = split.counts()
        assert [counts[w] for w in sc.COMMAND_WORDS] == [per_cmd] * 10
        assert counts[sc.UNKNOWN] == per_unk * 10
        assert counts[sc.SILENCE] == per_cmd  # default: the size of one command class
        for clip in split.clips:
            folder = clip.path.parent.name
            if folder == sc.BACKGROUND_DIR:
                assert clip.label == 11
                frames = sf.info(str(clip.path)).frames
                lo, hi = sc.SILENCE_PARTS[name]
                assert frames * lo - 1 <= clip.offset and clip.offset + 16000 <= frames * hi + 1
            else:
                assert clip.offset == 0
                assert clip.label == (sc.COMMAND_WORDS.index(folder) if folder in sc.COMMAND_WORDS else 10)

    def words(s):
        return {c.path for c in splits[s].clips if c.label != 11}

    def speakers(s):
        return {sc.speaker_of(p) for p in words(s)}

    assert not words("train") & words("validation") and not words("train") & words("test")
    assert not words("validation") & words("test")
    assert len(words("train") | words("validation") | words("test")) == 10 * PER_WORD + 10 * PER_UNKNOWN
    assert not speakers("train") & speakers("test") and not speakers("train") & speakers("validation")

    again = sc.load_split(corpus, "train")
    assert again.clips == splits["train"].clips
    other = sc.load_split(corpus, "train", seed=1)
    assert other.clips != splits["train"].clips and len(other) == len(again)
    assert sc.load_split(corpus, "test", silence=7).counts()[sc.SILENCE] == 7


def test_load_split_all(corpus):
    split = sc.load_split(corpus, "train", task="all")
    assert split.classes == tuple(sorted(WORDS))
    assert all(split.classes[c.label] == c.path.parent.name for c in split.clips)
    assert len(split) == 10 * 20 + 10 * 2
    with pytest.raises(SpikeportError, match="task '12' only"):
        sc.load_split(corpus, "train", task="all", silence=3)


def test_read_clip_pads_and_trims(tmp_path):
    short = tmp_path / "short.wav"
    sf.write(str(short), np.full(8000, 0.5), 16000, subtype="PCM_16")
    x = sc.read_clip(sc.Clip(short, 0, 0))
    assert x.dtype == np.float32 and x.shape == (16000,)
    assert np.allclose(x[:8000], 0.5, atol=1e-4) and not x[8000:].any()
    long = tmp_path / "long.wav"
    sf.write(str(long), np.arange(40000) / 40000, 16000, subtype="FLOAT")
    y = sc.read_clip(sc.Clip(long, 10000, 0))
    assert y.shape == (16000,) and np.allclose(y, np.arange(10000, 26000) / 40000, atol=1e-6)


def test_not_speech_commands(tmp_path, corpus):
    with pytest.raises(SpikeportError, match="nowhere.*does not exist"):
        sc.load_split(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpikeportError, match="empty is not a Speech Commands folder: no word folders"):
        sc.load_split(tmp_path / "empty")
    partial = tmp_path / "partial"
    shutil.copytree(corpus, partial)
    (partial / sc.TESTING_LIST).unlink()
    with pytest.raises(SpikeportError, match="partial is not a Speech Commands folder: testing_list.txt is missing"):
        sc.load_split(partial)
    shutil.copy(corpus / sc.TESTING_LIST, partial)
    shutil.rmtree(partial / sc.BACKGROUND_DIR)
    with pytest.raises(SpikeportError, match="partial is not .*_background_noise_/ is missing"):
        sc.load_split(partial)
    assert len(sc.load_split(partial, task="all")) == 220  # task "all" needs no noise
    assert sc.load_split(partial, silence=0).counts()[sc.SILENCE] == 0
    shutil.rmtree(partial / "stop")
    with pytest.raises(SpikeportError, match="no word folders for 'stop'"):
        sc.load_split(partial, silence=0)
    with pytest.raises(SpikeportError, match="unknown split 'dev'"):
        sc.load_split(corpus, "dev")


# --- bad audio -------------------------------------------------------------------------------

def _train_files(root: Path, k: int) -> list[Path]:
    held = set((root / sc.VALIDATION_LIST).read_text().split() + (root / sc.TESTING_LIST).read_text().split())
    files = sorted(p for p in (root / "left").iterdir() if f"left/{p.name}" not in held)
    return files[:k]


def test_few_bad_files_skipped_and_counted(copy, caplog):
    empty, garbage = _train_files(copy, 2)
    empty.write_bytes(b"")
    garbage.write_bytes(os.urandom(3000))
    split = sc.load_split(copy, "train")
    assert len(split) == 240
    audio, kept, skipped = sc.read_clips(split.clips)
    bad = {c.path for c, k in zip(split.clips, kept) if not k}
    assert bad == {empty, garbage} and {p for p, _ in skipped} == bad
    assert not audio[~kept].any()

    with caplog.at_level(logging.WARNING):
        feats, labels, kept2 = kf.compute_features(split, progress=False, workers=2)
    assert np.array_equal(kept, kept2)
    assert feats.shape == (238, 3, 40, 101) and np.array_equal(labels, split.labels()[kept])
    assert str(empty) in caplog.text and str(garbage) in caplog.text and "skipped 2 of 240" in caplog.text
    # the kept clips' features are those of the clips alone
    ok = np.flatnonzero(kept)[:5]
    assert np.allclose(feats[:5], kf.features_of(audio[ok]), atol=1e-5)


def test_too_many_bad_files(copy):
    files = _train_files(copy, 3)
    files[0].write_bytes(b"")
    files[1].write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 10)
    sf.write(str(files[2]), np.zeros(0), 16000, subtype="PCM_16")  # a header and no samples
    split = sc.load_split(copy, "train")
    with pytest.raises(SpikeportError, match=r"3 of 240 audio files .*first: .*left/.*\.wav"):
        sc.read_clips(split.clips)
    with pytest.raises(SpikeportError, match=r"3 of 240 audio files"):
        kf.compute_features(split, progress=False, workers=2)


def test_wrong_sample_rate_is_an_error(copy):
    (bad,) = _train_files(copy, 1)
    sf.write(str(bad), np.zeros(8000), 8000, subtype="PCM_16")
    split = sc.load_split(copy, "train")
    with pytest.raises(SpikeportError, match=f"{re.escape(str(bad))}: sample rate is 8000 Hz, expected 16000"):
        sc.read_clips(split.clips)
    with pytest.raises(SpikeportError, match=f"{re.escape(str(bad))}: sample rate is 8000 Hz"):
        kf.compute_features(split, progress=False, workers=2)
    noise = copy / sc.BACKGROUND_DIR / "pink_noise.wav"
    sf.write(str(noise), np.zeros(8000 * 60), 8000, subtype="PCM_16")
    with pytest.raises(SpikeportError, match="pink_noise.wav: sample rate is 8000 Hz"):
        sc.load_split(copy, "test")


# --- features --------------------------------------------------------------------------------

def test_feature_shape_and_normalization(corpus):
    split = sc.load_split(corpus, "validation")
    feats, labels, kept = kf.compute_features(split, progress=False, workers=2)
    assert feats.shape == (len(split), 3, 40, 101) and feats.dtype == np.float32
    assert kept.all() and np.array_equal(labels, split.labels())
    # training z-scores each (channel, band) with the train split's stats (on top of the
    # default per-clip normalization)
    raw = kf.features_of(sc.read_clips(split.clips[:8])[0], kf.FeatureParams(normalize="dataset"))
    assert np.abs(raw.mean(axis=-1)).max() > 1  # raw log-mel: far from zero mean
    assert np.allclose(kf.features_of(sc.read_clips(split.clips[:8])[0]), feats[:8], atol=1e-5)
    stats = kf.band_stats(feats)
    z = kf.normalize(feats, stats)
    assert np.abs(z.mean(axis=(0, 3))).max() < 1e-4
    assert np.abs(z.std(axis=(0, 3)) - 1).max() < 1e-3
    # per-clip normalization: every band of every clip has zero mean and unit std over time
    clip = kf.features_of(sc.read_clips(split.clips[:8])[0], kf.FeatureParams(normalize="clip"))
    mean, std = clip.mean(axis=-1), clip.std(axis=-1)
    assert np.abs(mean).max() < 1e-4
    assert np.all((np.abs(std - 1) < 1e-3) | (std < 1e-6))
    one, _, _ = kf.compute_features(split, progress=False, workers=1)
    assert np.array_equal(one, feats)
    # a constant (digital silence) clip: every band has zero variance -> zeros, not NaN
    zero = kf.features_of(np.zeros((1, 16000), np.float32), kf.FeatureParams(normalize="clip"))
    assert np.isfinite(zero).all() and not zero.any()
    flat = kf.normalize(np.ones((2, 3, 40, 5), np.float32), kf.band_stats(np.ones((2, 3, 40, 5))))
    assert np.isfinite(flat).all() and not flat.any()


def test_log_mel_band_placement():
    import librosa

    t = np.arange(16000) / 16000
    tones = np.stack([0.5 * np.sin(2 * np.pi * f * t) for f in (300.0, 1000.0, 3000.0)]).astype(np.float32)
    lm = kf.log_mel(tones)
    assert lm.shape == (3, 40, 101)
    centres = librosa.mel_frequencies(42, fmin=20.0, fmax=4000.0)[1:-1]
    for row, f in zip(lm, (300.0, 1000.0, 3000.0)):
        assert abs(centres[row[:, 50].argmax()] - f) < 0.1 * f


def test_feature_cache(copy, tmp_path, monkeypatch):
    split = sc.load_split(copy, "test")
    tmp_path = tmp_path / "cache"
    first = kf.compute_features(split, cache_dir=tmp_path, progress=False, workers=1)
    assert len(list(tmp_path.glob("kws-test-*.npz"))) == 1
    reads = []
    real = sc.read_clips

    def counting(clips, *a, **k):
        reads.append(len(clips))
        return real(clips, *a, **k)

    monkeypatch.setattr(sc, "read_clips", counting)
    second = kf.compute_features(split, cache_dir=tmp_path, progress=False, workers=1)
    assert reads == [] and all(np.array_equal(a, b) for a, b in zip(first, second))

    narrow = kf.FeatureParams(n_mels=32)
    assert narrow.key() != kf.FeatureParams().key() and kf.FeatureParams().key() == kf.FeatureParams().key()
    third = kf.compute_features(split, narrow, cache_dir=tmp_path, progress=False, workers=1)
    assert sum(reads) == len(split) and third[0].shape == (len(split), 3, 32, 101)

    reads.clear()
    kf.compute_features(split, cache_dir=tmp_path, progress=False, workers=1)
    assert reads == []
    wav = next(c.path for c in split.clips if c.label == 0)
    st = wav.stat()
    os.utime(wav, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a changed file invalidates
    kf.compute_features(split, cache_dir=tmp_path, progress=False, workers=1)
    assert sum(reads) == len(split)
    assert len(list(tmp_path.glob("kws-test-*.npz"))) == 3
