"""The held-out robustness set (spikeport.train.robust_corpus) and the corpus changes it relies on."""
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from spikeport.errors import SpikeportError
from spikeport.train import corpus as cp
from spikeport.train import robust_corpus as rc
from spikeport.train import speech_commands as sc
from spikeport.train.robust_eval import _conditions, breakdown

SR = sc.SAMPLE_RATE
PER_WORD, PER_UNKNOWN = 2, 1


@pytest.fixture(scope="module")
def robust(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("robust") / "set"
    return rc.build_robustness_set(root, clips_per_word=PER_WORD, clips_per_unknown=PER_UNKNOWN, seed=0,
                                   progress=False, workers=2)


@pytest.fixture(scope="module")
def held_speakers():
    voices, variants = cp.available_voices(held_out=True)
    return [(v, var) for v in voices for var in variants]


def _sine(freq, n=SR):
    return np.sin(2 * np.pi * freq * np.arange(n) / SR)


def _db(a, b):
    return 20 * np.log10(np.sqrt(np.mean(a ** 2)) / np.sqrt(np.mean(b ** 2)))


# --- voices ----------------------------------------------------------------------------------------------------

def test_training_and_held_out_voices_are_disjoint():
    voices, variants = cp.available_voices()
    hv, hvar = cp.available_voices(held_out=True)
    assert not set(voices) & set(hv) and not set(variants) & set(hvar)
    assert set(hv) <= set(cp.HELD_OUT_VOICES) and set(hvar) <= set(cp.HELD_OUT_VARIANTS)
    assert not set(voices) & set(cp.HELD_OUT_VOICES) and not set(variants) & set(cp.HELD_OUT_VARIANTS)
    # this espeak-ng has them all
    assert set(hv) == set(cp.HELD_OUT_VOICES) and set(hvar) == set(cp.HELD_OUT_VARIANTS)
    assert len(variants) >= 10 and voices
    assert set(cp.HELD_OUT_VOICES) <= set(cp.VOICES) and set(cp.HELD_OUT_VARIANTS) <= set(cp.VARIANTS)


def test_training_corpus_never_uses_held_out_speakers(tmp_path):
    root = cp.build_corpus(tmp_path / "c", clips_per_word=3, clips_per_unknown=0, seed=1, progress=False,
                           workers=1)
    m = json.loads((root / cp.MANIFEST).read_text())
    assert not set(m["voices"]) & set(cp.HELD_OUT_VOICES)
    assert not set(m["variants"]) & set(cp.HELD_OUT_VARIANTS)
    assert m["held_out"] == {"voices": list(cp.HELD_OUT_VOICES), "variants": list(cp.HELD_OUT_VARIANTS)}
    for desc in m["speakers"].values():   # "voice+variant pitch a-b (split)"
        voice, variant = desc.split()[0].split("+")
        assert voice not in cp.HELD_OUT_VOICES and variant not in cp.HELD_OUT_VARIANTS, desc


# --- SSML, place, write_clip ------------------------------------------------------------------------------------

def test_ssml_markup():
    assert cp.ssml("yes") == '<speak><prosody range="medium">yes.</prosody></speak>'
    s = cp.ssml("stop", "!", "x-high", "strong")
    assert s == '<speak><prosody range="x-high"><emphasis level="strong">stop</emphasis>!</prosody></speak>'
    root = ET.fromstring(s)
    assert root.tag == "speak" and root.find("prosody").get("range") == "x-high"
    assert root.find("prosody/emphasis").text == "stop"


def test_random_ssml_draws_every_option_and_is_seeded():
    rng = np.random.default_rng(0)
    seen = {"into": set(), "range": set(), "emph": set()}
    for _ in range(300):
        s = cp.random_ssml("go", rng)
        p = ET.fromstring(s).find("prosody")
        seen["range"].add(p.get("range"))
        e = p.find("emphasis")
        seen["emph"].add("none" if e is None else e.get("level"))
        text = "".join(p.itertext())
        assert text[:-1] == "go"
        seen["into"].add(text[-1])
    assert seen == {"into": set(cp.INTONATIONS), "range": set(cp.PITCH_RANGES), "emph": set(cp.EMPHASIS)}
    a = [cp.random_ssml("up", np.random.default_rng(5)) for _ in range(2)]
    assert a[0] == a[1]


def test_synthesize_speaks_ssml_not_its_tags():
    plain = cp.synthesize("yes", "en-029", "Andy", 160, 50)
    marked = cp.synthesize("yes", "en-029", "Andy", 160, 50, cp.ssml("yes", "?"))
    assert marked.size > 0.05 * SR
    # read aloud, the tags would take several times longer than the word
    assert marked.size < 1.6 * plain.size, (marked.size, plain.size)


def test_place_scales_and_positions_speech():
    speech = np.hanning(4000) * _sine(300, 4000)
    for seed in range(5):
        clip, rms = cp.place(speech, np.random.default_rng(seed))
        assert clip.shape == (sc.CLIP_SAMPLES,) and clip.dtype == np.float64
        nz = np.flatnonzero(clip)
        start = nz[0] - 1 if speech[0] == 0 else nz[0]
        scale = np.abs(clip).max() / np.abs(speech).max()
        np.testing.assert_allclose(clip[start:start + 4000], speech * scale, atol=1e-12)
        assert not clip[:start].any() and not clip[start + 4000:].any()
        assert cp.SPEECH_PEAK[0] <= np.abs(clip).max() <= cp.SPEECH_PEAK[1]
        assert abs(rms - np.sqrt(np.mean((speech * scale) ** 2))) < 1e-12


def test_write_clip_scales_loud_clips_without_touching_input(tmp_path):
    x = 1.5 * _sine(440)
    before = x.copy()
    cp.write_clip(str(tmp_path / "a.wav"), x)
    np.testing.assert_array_equal(x, before)
    y, rate = sf.read(str(tmp_path / "a.wav"))
    info = sf.info(str(tmp_path / "a.wav"))
    assert rate == SR and info.subtype == "PCM_16" and y.size == SR
    np.testing.assert_allclose(y, x * (0.99 / 1.5), atol=1.0 / 32768)   # scaled, not clipped
    q = 0.5 * _sine(440)
    cp.write_clip(str(tmp_path / "b.wav"), q)
    np.testing.assert_allclose(sf.read(str(tmp_path / "b.wav"))[0], q, atol=1.0 / 32768)


# --- rooms, equalisers, noises ------------------------------------------------------------------------------------

def _t20(rir):
    e = np.cumsum((rir ** 2)[::-1])[::-1]
    edc = 10 * np.log10(e / e[0] + 1e-30)
    t = np.arange(e.size) / SR
    sel = (edc < -5) & (edc > -25)
    return -60.0 / np.polyfit(t[sel], edc[sel], 1)[0]


def test_shoebox_rir_shape_direct_path_and_peak():
    for seed in range(20):
        for rt60 in (0.2, 1.0):
            r = rc.shoebox_rir(rt60, np.random.default_rng(seed))
            assert r.dtype == np.float64 and r.ndim == 1
            assert np.abs(r).max() == 1.0
            assert r[0] > 0             # the direct path, first: nothing arrives before it
            assert (r >= 0).all()       # image sources with positive reflection coefficients
            # an image arrives every few ms, at most 0.5 s
            assert 0.4 * SR < r.size <= round(0.5 * SR)
            assert np.count_nonzero(r) > 100
    r = rc.shoebox_rir(0.5, np.random.default_rng(3))
    np.testing.assert_array_equal(r, rc.shoebox_rir(0.5, np.random.default_rng(3)))


def test_shoebox_rir_direct_path_is_the_peak_for_most_rooms():
    # images arriving at one sample add up and can beat the direct path in some rooms; most rooms not
    first = [np.argmax(rc.shoebox_rir(0.6, np.random.default_rng(s))) == 0 for s in range(50)]
    assert np.mean(first) >= 0.7


def test_shoebox_rir_longer_rt60_decays_slower():
    for seed in range(5):
        short, long_ = (rc.shoebox_rir(rt, np.random.default_rng(seed)) for rt in (0.2, 1.0))   # same room

        def late(r):
            return np.sum(r[int(0.1 * SR):] ** 2) / np.sum(r ** 2)

        assert late(long_) > 10 * late(short), (seed, late(short), late(long_))
        assert _t20(long_) > 2 * _t20(short)
    # Sabine's RT60 within a factor of 2 of the one asked for (image-source rooms decay about so)
    for seed in range(5):
        got = _t20(rc.shoebox_rir(0.6, np.random.default_rng(seed)))
        assert 0.3 < got < 1.2, got


def test_equalise_kinds():
    rng = np.random.default_rng(0)
    low, mid, high = _sine(100), _sine(1000), _sine(6000)
    sl = slice(4000, None)   # after the filter's start-up

    def gain(kind, y):
        return _db(rc.equalise(y, kind, np.random.default_rng(1))[sl], y[sl])

    assert gain("telephone", low) < -30 and gain("telephone", high) < -30
    assert abs(gain("telephone", mid)) < 1
    assert gain("muffled", high) < -30 and abs(gain("muffled", low)) < 1 and abs(gain("muffled", mid)) < 1
    assert gain("tinny", low) < -30 and abs(gain("tinny", high)) < 1 and abs(gain("tinny", mid)) < 1.5
    out = rc.equalise(mid, "telephone", rng)
    assert out.shape == mid.shape
    with pytest.raises(ValueError, match="equaliser"):
        rc.equalise(mid, "radio", rng)


@pytest.mark.parametrize("kind", rc.NOISE_KINDS)
def test_held_out_noise_rms_length_and_seeding(kind, held_speakers):
    for n in (16000, 5000):
        x = rc.held_out_noise(kind, n, np.random.default_rng(4), held_speakers)
        assert x.shape == (n,) and x.dtype == np.float64
        assert abs(np.sqrt(np.mean(x ** 2)) - 1.0) < 1e-9
        assert np.isfinite(x).all()
    a = rc.held_out_noise(kind, 16000, np.random.default_rng(7), held_speakers)
    np.testing.assert_array_equal(a, rc.held_out_noise(kind, 16000, np.random.default_rng(7), held_speakers))
    assert not np.allclose(a, rc.held_out_noise(kind, 16000, np.random.default_rng(8), held_speakers))


def test_held_out_noise_characters(held_speakers):
    clicks = rc.held_out_noise("clicks", 3 * SR, np.random.default_rng(0), held_speakers)
    # impulsive: most of the time near silent, energy in short bursts
    assert np.mean(np.abs(clicks) < 0.05) > 0.5
    assert np.abs(clicks).max() > 5
    music = rc.held_out_noise("music", 3 * SR, np.random.default_rng(0), held_speakers)
    power = np.abs(np.fft.rfft(music)) ** 2
    f = np.fft.rfftfreq(music.size, 1 / SR)
    assert power[f > 3000].sum() < 1e-3 * power.sum()   # three harmonics of notes below 880 Hz
    assert power[f < 110].sum() < 1e-2 * power.sum()
    with pytest.raises(ValueError, match="noise kind"):
        rc.held_out_noise("white", 100, np.random.default_rng(0), held_speakers)


# --- the built set -------------------------------------------------------------------------------------------------

def _word_wavs(root):
    return sorted(str(p.relative_to(root)) for p in root.glob("*/*.wav") if not p.parent.name.startswith("_"))


def test_robustness_set_layout(robust):
    words = sc.COMMAND_WORDS + cp.UNKNOWN_WORDS
    wavs = _word_wavs(robust)
    assert len(wavs) == 10 * PER_WORD + 10 * PER_UNKNOWN
    for w in words:
        assert len(list((robust / w).glob("*.wav"))) == (PER_WORD if w in sc.COMMAND_WORDS else PER_UNKNOWN)
    listed = (robust / sc.TESTING_LIST).read_text().splitlines()
    assert listed == wavs                                   # every clip, sorted, once
    assert (robust / sc.VALIDATION_LIST).read_text() == ""
    bg = sorted(p.name for p in (robust / sc.BACKGROUND_DIR).iterdir())
    assert bg == sorted(f"{k}_noise.wav" for k in rc.NOISE_KINDS)
    for name in bg:
        info = sf.info(str(robust / sc.BACKGROUND_DIR / name))
        assert info.samplerate == SR and info.frames == rc.BACKGROUND_SECONDS * SR and info.channels == 1
    for rel in wavs:
        y, rate = sf.read(str(robust / rel))
        assert rate == SR and y.shape == (sc.CLIP_SAMPLES,)
        assert 0 < np.abs(y).max() <= 0.99 + 1 / 32768
    m = json.loads((robust / rc.MANIFEST).read_text())
    assert m["params"] == {"format": rc.ROBUST_FORMAT, "clips_per_word": PER_WORD, "clips_per_unknown": PER_UNKNOWN,
                           "seed": 0}
    assert m["files"] == len(wavs) + 3
    assert sorted(m["background"]) == sorted(f"{sc.BACKGROUND_DIR}/{b}" for b in bg)


def test_robustness_set_conditions_and_speakers(robust):
    m = json.loads((robust / rc.MANIFEST).read_text())
    clips = m["clips"]
    assert sorted(clips) == _word_wavs(robust)
    for rel, c in clips.items():
        assert set(c) == {"voice", "variant", "pitch", "speed", "rt60", "eq", "noise", "snr_db"}
        assert c["voice"] in cp.HELD_OUT_VOICES and c["variant"] in cp.HELD_OUT_VARIANTS, (rel, c)
        assert rc.PITCH[0] <= c["pitch"] <= rc.PITCH[1] and rc.SPEED_WPM[0] <= c["speed"] <= rc.SPEED_WPM[1]
        assert c["rt60"] is None or rc.RT60[0] <= c["rt60"] <= rc.RT60[1]
        assert c["eq"] is None or c["eq"] in rc.EQ_KINDS
        if c["noise"] == "corpus":      # the held-out speaker alone, in the corpus' own noise
            assert c["rt60"] is None and c["eq"] is None and cp.SNR_DB[0] <= c["snr_db"] <= cp.SNR_DB[1]
        else:
            assert c["noise"] in rc.NOISE_KINDS and rc.SNR_DB[0] <= c["snr_db"] <= rc.SNR_DB[1]
        # file name = the held-out speaker's id
        assert sc.speaker_of(rel) == cp._speaker_id(c["voice"], c["variant"], 9)
    # none of the robustness speakers' ids is a training speaker id (pitch bands 0-2)
    train_ids = {cp._speaker_id(v, var, b) for v in cp.VOICES for var in cp.VARIANTS
                 for b in range(len(cp.PITCH_BANDS))}
    assert not {sc.speaker_of(r) for r in clips} & train_ids


def test_robustness_set_loads_as_a_test_split(robust):
    test = sc.load_split(robust, "test")
    assert test.classes == sc.CLASSES_12 and len(test.classes) == 12
    counts = test.counts()
    assert all(counts[w] == PER_WORD for w in sc.COMMAND_WORDS)
    assert counts[sc.UNKNOWN] == 10 * PER_UNKNOWN and counts[sc.SILENCE] == PER_WORD
    train = sc.load_split(robust, "train")
    assert not [c for c in train.clips if c.offset == 0 and sc.BACKGROUND_DIR not in str(c.path)]
    assert len(train) == 0
    assert len(sc.load_split(robust, "validation")) == 0


def test_robustness_set_second_call_is_a_no_op(robust):
    stamps = {p: p.stat().st_mtime_ns for p in robust.rglob("*")}
    assert rc.is_current(robust, PER_WORD, PER_UNKNOWN, 0)
    assert not rc.is_current(robust, PER_WORD, PER_UNKNOWN, 1)
    assert not rc.is_current(robust, PER_WORD + 1, PER_UNKNOWN, 0)
    again = rc.build_robustness_set(robust, clips_per_word=PER_WORD, clips_per_unknown=PER_UNKNOWN, seed=0,
                                    progress=False)
    assert again == robust
    assert {p: p.stat().st_mtime_ns for p in robust.rglob("*")} == stamps


def test_robust_eval_conditions_match_the_manifest(robust):
    s = sc.load_split(robust, "test")
    conds = _conditions(robust, s.clips)
    m = json.loads((robust / rc.MANIFEST).read_text())["clips"]
    for c, cond in zip(s.clips, conds):
        if c.label == sc.CLASSES_12.index(sc.SILENCE):
            assert cond is None
        else:
            assert cond == m[f"{c.path.parent.name}/{c.path.name}"]
    got = breakdown(np.ones(len(s), bool), conds)
    assert set(got) == {"acoustics", "noise", "eq", "reverb", "voice"}
    assert all(v == 1.0 for g in got.values() for v in g.values())


def _files(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_robustness_set_is_deterministic_and_rebuilds_for_other_params(tmp_path):
    a = rc.build_robustness_set(tmp_path / "a", clips_per_word=1, clips_per_unknown=0, seed=5, progress=False,
                                workers=1)
    b = rc.build_robustness_set(tmp_path / "b", clips_per_word=1, clips_per_unknown=0, seed=5, progress=False,
                                workers=2)
    fa, fb = _files(a), _files(b)
    assert fa.keys() == fb.keys()
    assert sum(k.endswith(".wav") for k in fa) == 10 + 3
    for k in fa:
        assert fa[k] == fb[k], k
    # another seed in b: rebuilt in place, other audio
    rc.build_robustness_set(b, clips_per_word=1, clips_per_unknown=0, seed=6, progress=False, workers=2)
    assert rc.is_current(b, 1, 0, 6) and not rc.is_current(b, 1, 0, 5)
    fb6 = _files(b)
    bg = f"{sc.BACKGROUND_DIR}/music_noise.wav"
    assert fb6[bg] != fa[bg]
    assert not set(fb6.items()) & {(k, v) for k, v in fa.items() if k.endswith(".wav")}
    assert not list(tmp_path.glob(".b.build-*"))   # no temporary folder left behind


def test_robustness_set_refuses_foreign_folders_and_bad_sizes(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(SpikeportError, match="not overwriting"):
        rc.build_robustness_set(foreign, clips_per_word=1, clips_per_unknown=0, progress=False)
    assert (foreign / "notes.txt").read_text() == "keep me"
    with pytest.raises(SpikeportError, match="sizes"):
        rc.build_robustness_set(tmp_path / "x", clips_per_word=0, clips_per_unknown=0, progress=False)
    with pytest.raises(SpikeportError, match="sizes"):
        rc.build_robustness_set(tmp_path / "x", clips_per_word=1, clips_per_unknown=-1, progress=False)
    assert not (tmp_path / "x").exists()


# --- breakdown -----------------------------------------------------------------------------------------------------

def test_breakdown_groups_by_condition():
    def c(noise, eq, rt60, voice):
        return {"noise": noise, "eq": eq, "rt60": rt60, "voice": voice, "variant": "x", "pitch": 50, "speed": 150,
                "snr_db": 10.0}

    conds = [c("babble", None, None, "en-029"), c("babble", "telephone", 0.5, "en-029"),
             c("clicks", "telephone", None, "en-gb-scotland"), c("music", "muffled", 0.3, "en-gb-scotland"),
             None, c("clicks", None, 0.9, "en-029"), c("corpus", None, None, "en-029")]
    correct = np.array([1, 0, 1, 1, 0, 0, 1], bool)
    got = breakdown(correct, conds)
    assert got == {"acoustics": {"held-out acoustics": 0.6, "speaker only": 1.0},
                   "noise": {"babble": 0.5, "clicks": 0.5, "corpus": 1.0, "music": 1.0},
                   "eq": {"muffled": 1.0, "none": 2 / 3, "telephone": 0.5},
                   "reverb": {"no": 1.0, "yes": 1 / 3},
                   "voice": {"en-029": 0.5, "en-gb-scotland": 1.0}}
    assert list(got["noise"]) == ["babble", "clicks", "corpus", "music"]   # sorted
    assert breakdown(np.array([True, False]), [None, None]) == {}
