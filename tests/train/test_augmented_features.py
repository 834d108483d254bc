"""Cached features of waveform-perturbed copies (spikeport.train.augmented_features)."""
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from spikeport.train import augmented_features as af
from spikeport.train import speech_commands as sc
from spikeport.train.audio_augment import AudioAugment, perturb
from spikeport.train.features import FeatureParams, compute_features, features_of

SR = sc.SAMPLE_RATE
PARAMS = FeatureParams()
AUG = AudioAugment(p_speed=0.7, p_reverb=0.7, p_eq=0.7, p_noise=0.7, copies=2)
OFF = AudioAugment(p_speed=0, p_tempo=0, p_pitch=0, p_reverb=0, p_eq=0, p_noise=0, copies=1)


def _clip(rng, freq):
    """1 s: a 0.4 s tone burst with harmonics at a random place, in faint noise."""
    y = rng.standard_normal(SR) * 0.003
    start = int(rng.integers(0, SR - 6400))
    t = np.arange(6400) / SR
    y[start:start + 6400] += 0.3 * np.hanning(6400) * sum(np.sin(2 * np.pi * k * freq * t) / k for k in (1, 2, 3))
    return y


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """A tiny Speech Commands folder: 2 clips of each command word, all in train."""
    root = tmp_path_factory.mktemp("tiny-sc")
    rng = np.random.default_rng(0)
    for wi, word in enumerate(sc.COMMAND_WORDS):
        (root / word).mkdir()
        for k in range(2):
            sf.write(str(root / word / f"spk{k}_nohash_0.wav"), _clip(rng, 200 + 60 * wi), SR, subtype="PCM_16")
    (root / sc.BACKGROUND_DIR).mkdir()
    sf.write(str(root / sc.BACKGROUND_DIR / "noise.wav"), rng.standard_normal(20 * SR) * 0.05, SR, subtype="PCM_16")
    (root / sc.VALIDATION_LIST).write_text("")
    (root / sc.TESTING_LIST).write_text("")
    return root


@pytest.fixture(scope="module")
def split(dataset) -> sc.KwsSplit:
    s = sc.load_split(dataset, "train")
    assert len(s) == 22   # 20 words + 2 silence windows
    return s


@pytest.fixture(scope="module")
def copies(split) -> np.ndarray:
    return af.augmented_features(split, PARAMS, AUG, seed=3, progress=False, workers=2)


def test_shape_dtype_and_difference_from_clean(split, copies):
    assert copies.shape == (2, len(split), 3, 40, 101)
    assert copies.dtype == np.float32 and np.isfinite(copies).all()
    clean, _, kept = compute_features(split, PARAMS, progress=False, workers=2)
    assert kept.all()
    for c in range(2):
        diff = np.abs(copies[c] - clean).reshape(len(split), -1).mean(axis=1)
        assert (diff > 0.01).mean() > 0.5, diff   # most clips perturbed (each perturbation with p 0.7)
    assert not np.allclose(copies[0], copies[1])


def test_each_row_is_perturb_of_that_clip_seeded_by_copy_and_index(split, copies):
    audio, kept, _ = sc.read_clips(split.clips)
    for c, i in [(0, 0), (1, 0), (0, 7), (1, 21)]:
        y = perturb(audio[i].astype(np.float64), AUG, np.random.default_rng([3, c, i]))
        np.testing.assert_allclose(copies[c, i], features_of(y[None], PARAMS)[0], atol=1e-4, err_msg=f"{c}, {i}")


def test_no_perturbation_gives_the_clean_features_in_their_order(split):
    clean, _, _ = compute_features(split, PARAMS, progress=False, workers=2)
    same = af.augmented_features(split, PARAMS, OFF, seed=0, progress=False, workers=2)
    assert same.shape == (1,) + clean.shape
    np.testing.assert_allclose(same[0], clean, atol=1e-5)


def test_deterministic_and_seeded(split, copies):
    again = af.augmented_features(split, PARAMS, AUG, seed=3, progress=False, workers=1)
    np.testing.assert_array_equal(again, copies)   # worker count does not matter
    other = af.augmented_features(split, PARAMS, AUG, seed=4, progress=False, workers=2)
    assert not np.allclose(other, copies)


def test_cached_then_loaded(split, copies, tmp_path, monkeypatch):
    first = af.augmented_features(split, PARAMS, AUG, seed=3, cache_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(first, copies)
    files = list(tmp_path.glob("kws-train-aug-*.npz"))
    assert len(files) == 1

    def no_pool(*a, **k):
        raise AssertionError("recomputed despite the cache")

    monkeypatch.setattr(af, "ProcessPoolExecutor", no_pool)
    second = af.augmented_features(split, PARAMS, AUG, seed=3, cache_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(second, first)
    assert second.dtype == np.float32
    # another seed or augmentation is another cache entry
    with pytest.raises(AssertionError, match="recomputed"):
        af.augmented_features(split, PARAMS, AUG, seed=4, cache_dir=tmp_path, progress=False)
    with pytest.raises(AssertionError, match="recomputed"):
        af.augmented_features(split, PARAMS, replace(AUG, p_eq=0.1), seed=3, cache_dir=tmp_path, progress=False)


def test_unreadable_clips_are_left_out_in_step_with_compute_features(dataset, tmp_path):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(dataset, root)
    (root / "yes" / "spk0_nohash_0.wav").write_bytes(b"not a wav")
    s = sc.load_split(root, "train")
    clean, _, kept = compute_features(s, PARAMS, progress=False, max_bad_fraction=1.0)
    assert kept.sum() == len(s) - 1
    same = af.augmented_features(s, PARAMS, OFF, seed=0, progress=False)
    assert same.shape == (1,) + clean.shape
    np.testing.assert_allclose(same[0], clean, atol=1e-5)


# --- draw -------------------------------------------------------------------------------------------------------

def _arrays(n=6, k=3):
    rng = np.random.default_rng(0)
    clean = rng.normal(size=(n, 3, 4, 5)).astype(np.float32)
    copies = rng.normal(size=(k, n, 3, 4, 5)).astype(np.float32)
    return clean, copies


def test_draw_without_copies_is_clean_rows():
    clean, _ = _arrays()
    idx = np.array([4, 0, 0, 5])
    np.testing.assert_array_equal(af.draw(clean, None, idx, np.random.default_rng(0)), clean[idx])
    empty = np.zeros((0,) + clean.shape, np.float32)
    np.testing.assert_array_equal(af.draw(clean, empty, idx, np.random.default_rng(0)), clean[idx])


def test_draw_takes_a_whole_row_from_clean_or_one_copy_uniformly():
    clean, copies = _arrays()
    before = clean.copy(), copies.copy()
    rng = np.random.default_rng(1)
    idx = rng.integers(0, 6, 3000)
    out = af.draw(clean, copies, idx, rng)
    assert out.shape == (3000, 3, 4, 5) and out.dtype == np.float32
    sources = np.concatenate([clean[None], copies])   # (4, n, ...)
    which = np.full(3000, -1)
    for j, i in enumerate(idx):
        hit = [s for s in range(4) if np.array_equal(out[j], sources[s, i])]
        assert len(hit) == 1, (j, i)
        which[j] = hit[0]
    freq = np.bincount(which, minlength=4) / 3000
    np.testing.assert_allclose(freq, 0.25, atol=0.03)
    np.testing.assert_array_equal(clean, before[0])
    np.testing.assert_array_equal(copies, before[1])
    # seeded, and a new array
    rng2 = np.random.default_rng(1)
    rng2.integers(0, 6, 3000)   # same state as rng had
    np.testing.assert_array_equal(af.draw(clean, copies, idx, rng2), out)
    out[:] = 0
    assert clean.any() and copies.any()
