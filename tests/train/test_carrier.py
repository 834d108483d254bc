"""Keywords cut from short carrier phrases (issue #18: more eSpeak NG variability)."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from spikeport.errors import SpikeportError
from spikeport.train import corpus as kc
from spikeport.train.config import KwsConfig
from spikeport.train.speech_commands import COMMAND_WORDS, SAMPLE_RATE

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


def _tone(seconds: float, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return 0.5 * np.sin(2 * np.pi * hz * t)


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE))


def test_carrier_ssml_places_pauses_only_beside_spoken_parts():
    both = kc.carrier_ssml("stop", ("say", "now"), "?", "high", "strong")
    assert both.count("<break") == 2 and both.index("say") < both.index("stop") < both.index("now")
    assert '<emphasis level="strong">stop</emphasis>' in both and 'range="high"' in both
    assert both.endswith("now?</prosody></speak>")
    after_only = kc.carrier_ssml("go", ("", "again"))
    assert after_only.count("<break") == 1 and after_only.index("go") < after_only.index("<break")
    before_only = kc.carrier_ssml("go", ("I said", ""))
    assert before_only.count("<break") == 1 and before_only.index("<break") < before_only.index(" go.")


def test_carriers_hold_no_keyword():
    words = set(COMMAND_WORDS) | set(kc.UNKNOWN_WORDS)
    for before, after in kc.CARRIERS:
        assert not words & set((before + " " + after).lower().split()), (before, after)


def test_sounding_parts_split_at_long_pauses_only():
    y = np.concatenate([_tone(0.2), _silence(0.3), _tone(0.3), _silence(0.1), _tone(0.1), _silence(0.25),
                        _tone(0.2)])
    parts = [(a / SAMPLE_RATE, b / SAMPLE_RATE) for a, b in kc.sounding_parts(y)]
    assert len(parts) == 3                                  # the 0.1 s pause does not split
    np.testing.assert_allclose(parts, [(0.0, 0.2), (0.5, 1.0), (1.25, 1.45)], atol=0.011)
    assert kc.sounding_parts(_silence(0.5)) == [] and kc.sounding_parts(np.zeros(10)) == []


def test_cut_word_takes_the_part_after_the_words_before():
    a, b, c = _tone(0.2, 300), _tone(0.4, 500), _tone(0.3, 700)
    gap = _silence(0.3)
    three = np.concatenate([a, gap, b, gap, c])
    word = kc.cut_word(three, ("say", "now"))
    assert abs(word.size - b.size) <= 160 and np.allclose(word[:100], three[SAMPLE_RATE // 2:][:100])
    assert kc.cut_word(np.concatenate([b, gap, c]), ("", "again")).size == pytest.approx(b.size, abs=160)
    assert kc.cut_word(np.concatenate([a, gap, b]), ("I said", "")).size == pytest.approx(b.size, abs=160)
    assert kc.cut_word(three, ("I said", "")) is None       # three parts where two were spoken
    assert kc.cut_word(np.concatenate([a, b]), ("say", "now")) is None


@needs_espeak
def test_espeak_keyword_is_cut_from_its_phrase():
    carrier = ("the word", "please")
    text = kc.carrier_ssml("stop", carrier)
    phrase = kc._speak("en-us", "m3", 170, 50, text, "test")
    cut = kc.synthesize("stop", "en-us", "m3", 170, 50, text, carrier)
    alone = kc.synthesize("stop", "en-us", "m3", 170, 50)
    assert phrase.size > 1.5 * SAMPLE_RATE                  # the whole phrase would not fit a clip
    assert 0.5 * alone.size < cut.size < 1.6 * alone.size    # the cut is about one word long
    assert cut.size < 0.4 * phrase.size


@needs_espeak
def test_carrier_corpus_changes_only_the_carrier_clips(tmp_path):
    plain = kc.build_corpus(tmp_path / "plain", clips_per_word=3, clips_per_unknown=0, seed=2, progress=False)
    mixed = kc.build_corpus(tmp_path / "mixed", clips_per_word=3, clips_per_unknown=0, seed=2, progress=False,
                            carrier_percent=50)
    manifest = json.loads((mixed / kc.MANIFEST).read_text())
    assert manifest["params"]["carrier_percent"] == 50 and "carrier_percent" not in \
        json.loads((plain / kc.MANIFEST).read_text())["params"]
    assert 5 <= manifest["carriers"]["clips"] <= 25          # about half of 30
    files = sorted(p.relative_to(plain).as_posix() for p in plain.glob("*/*.wav"))
    assert files == sorted(p.relative_to(mixed).as_posix() for p in mixed.glob("*/*.wav"))
    same = sum((plain / f).read_bytes() == (mixed / f).read_bytes() for f in files)
    # every other clip (and the background noise) is byte-identical; the carrier ones are not
    # (one whose phrase did not split is the word alone, which can equal its plain twin)
    assert len(files) - manifest["carriers"]["clips"] <= same < len(files)
    assert kc.corpus_root(tmp_path, 3, 0, 2, 50).name == "corpus-3-0-s2-c50"
    assert kc.corpus_is_current(mixed, 3, 0, 2, 50) and not kc.corpus_is_current(mixed, 3, 0, 2)


def test_carrier_percent_is_validated():
    assert KwsConfig(corpus={"carrier_percent": 30}).validate().corpus == {"carrier_percent": 30}
    with pytest.raises(SpikeportError, match="corpus.carrier_percent"):
        KwsConfig(corpus={"carrier_percent": 101}).validate()
    with pytest.raises(SpikeportError, match="carrier_percent"):
        kc.build_corpus("/nonexistent/never", clips_per_word=1, carrier_percent=-1, progress=False)
