"""Waveform augmentations (spikeport.train.audio_augment), checked with numbers."""
import json
import re

import numpy as np
import pytest
from scipy.signal import freqz

from spikeport.errors import SpikeportError
from spikeport.train import audio_augment as aa

SR = aa.SAMPLE_RATE


def _sine(freq, seconds=1.0, amp=0.5):
    t = np.arange(int(round(seconds * SR))) / SR
    return amp * np.sin(2 * np.pi * freq * t)


def _peak_hz(x):
    """Frequency of the largest FFT bin of ``x`` (Hann-windowed)."""
    f = np.fft.rfftfreq(x.size, 1.0 / SR)
    return float(f[np.argmax(np.abs(np.fft.rfft(x * np.hanning(x.size))))])


def _word_like(seed=0, amp=0.3):
    """1 s: silence, 0.5 s of noise 'speech', silence."""
    rng = np.random.default_rng(seed)
    y = np.zeros(SR)
    y[4000:12000] = rng.standard_normal(8000) * amp * np.hanning(8000)
    return y


def _rms(x):
    return float(np.sqrt(np.mean(np.asarray(x, float) ** 2)))


# --- fit_length -----------------------------------------------------------------------------------------------

def test_fit_length_cuts_at_the_end():
    y = np.arange(1000, dtype=float)
    out = aa.fit_length(y, 600, np.random.default_rng(0))
    np.testing.assert_array_equal(out, y[:600])
    np.testing.assert_array_equal(aa.fit_length(y, 1000, np.random.default_rng(0)), y)


def test_fit_length_pads_with_noise_at_the_quietest_frame_rms():
    frame = SR // 50   # 320 samples = 20 ms
    rng = np.random.default_rng(1)
    levels = [0.5, 0.2, 0.01, 0.3, 0.4]   # frame 2 is the quietest
    y = np.concatenate([rng.standard_normal(frame) for _ in levels])
    for i, lv in enumerate(levels):   # exact RMS per frame
        seg = y[i * frame:(i + 1) * frame]
        y[i * frame:(i + 1) * frame] = seg / _rms(seg) * lv
    out = aa.fit_length(y, y.size + 16000, np.random.default_rng(2))
    assert out.size == y.size + 16000
    np.testing.assert_array_equal(out[:y.size], y)
    pad = out[y.size:]
    assert abs(_rms(pad) - 0.01) < 0.0005, _rms(pad)
    assert np.count_nonzero(pad) == pad.size   # noise, not digital silence
    # seeded
    np.testing.assert_array_equal(aa.fit_length(y, y.size + 16000, np.random.default_rng(2)), out)


def test_fit_length_of_a_clip_shorter_than_a_frame_pads_with_zeros():
    y = np.ones(100)
    out = aa.fit_length(y, 500, np.random.default_rng(0))
    assert out.size == 500 and not out[100:].any()


# --- speed, tempo, pitch --------------------------------------------------------------------------------------

@pytest.mark.parametrize("factor", [1.25, 0.8])
def test_change_speed_scales_frequency_and_length(factor):
    y = _sine(1000.0)
    z = aa.change_speed(y, factor)
    assert z.size == round(y.size / factor)
    assert abs(_peak_hz(z) - 1000.0 * factor) <= 0.01 * 1000.0 * factor, _peak_hz(z)
    assert z.dtype == np.float64
    assert abs(_rms(z) - _rms(y)) < 0.02 * _rms(y)   # resampling keeps the level


def test_change_speed_leaves_input_alone():
    y = _sine(440.0)
    before = y.copy()
    aa.change_speed(y, 1.1)
    np.testing.assert_array_equal(y, before)


@pytest.mark.parametrize("rate", [1.25, 0.8])
def test_stretch_tempo_keeps_pitch_changes_length(rate):
    y = _sine(1000.0)
    z = aa.stretch_tempo(y, rate)
    assert abs(z.size - y.size / rate) <= 0.01 * y.size / rate, z.size
    assert abs(_peak_hz(z) - 1000.0) <= 10.0, _peak_hz(z)
    assert z.dtype == np.float64


@pytest.mark.parametrize("semitones, ratio", [(12, 2.0), (-12, 0.5), (7, 2 ** (7 / 12))])
def test_shift_pitch_scales_frequency_keeps_length(semitones, ratio):
    y = _sine(500.0)
    z = aa.shift_pitch(y, semitones)
    assert z.size == y.size
    assert abs(_peak_hz(z) - 500.0 * ratio) <= 0.02 * 500.0 * ratio, _peak_hz(z)
    assert z.dtype == np.float64


# --- reverberation ------------------------------------------------------------------------------------------------

def _t20(rir):
    """RT60 from a linear fit of the Schroeder curve between -5 and -25 dB (tail only)."""
    e = np.cumsum((rir[1:] ** 2)[::-1])[::-1]
    edc = 10 * np.log10(e / e[0])
    t = np.arange(e.size) / SR
    sel = (edc < -5) & (edc > -25)
    slope = np.polyfit(t[sel], edc[sel], 1)[0]
    return -60.0 / slope


@pytest.mark.parametrize("rt60", [0.1, 0.3, 0.7, 1.5])
def test_room_impulse_decays_by_60_db_in_rt60(rt60):
    for seed in range(3):
        r = aa.room_impulse(rt60, np.random.default_rng(seed))
        assert r.shape == (round(rt60 * SR) + 1,) and r.dtype == np.float64
        assert r[0] == 1.0
        assert abs(_t20(r) - rt60) < 0.1 * rt60, (rt60, seed, _t20(r))


def test_room_impulse_predelay_and_direct_ratio():
    for seed in range(10):
        rng = np.random.default_rng(seed)
        r = aa.room_impulse(0.4, rng, direct_ratio_db=6.0)
        # 1-5 ms gap after the direct path
        assert not r[1:SR // 1000].any()
        assert r[5 * SR // 1000 + 1:5 * SR // 1000 + 10].any()
        # tail energy 6 dB below the direct path's (energy 1)
        assert abs(10 * np.log10(np.sum(r[1:] ** 2)) + 6.0) < 1e-9
    r0 = aa.room_impulse(0.4, np.random.default_rng(0))
    assert abs(np.sum(r0[1:] ** 2) - 1.0) < 1e-9
    np.testing.assert_array_equal(r0, aa.room_impulse(0.4, np.random.default_rng(0)))


def test_room_impulse_energy_in_windows_follows_rt60():
    """Energy falls 60 dB per rt60: mean power in two windows 0.1 s apart differs by 60*0.1/rt60 dB."""
    rt60 = 0.5
    r = np.mean([aa.room_impulse(rt60, np.random.default_rng(s))[1:] ** 2 for s in range(20)], axis=0)
    win = SR // 50
    p1 = r[int(0.05 * SR):int(0.05 * SR) + win].mean()
    p2 = r[int(0.35 * SR):int(0.35 * SR) + win].mean()
    drop = 10 * np.log10(p1 / p2)
    assert abs(drop - 60 * 0.3 / rt60) < 2.0, drop   # 36 dB expected


def test_reverberate_keeps_length_and_rms():
    y = _word_like()
    r = aa.room_impulse(0.6, np.random.default_rng(3))
    wet = aa.reverberate(y, r)
    assert wet.shape == y.shape
    assert abs(_rms(wet) - _rms(y)) < 1e-12
    assert not np.allclose(wet, y)
    # the tail spills into the silence after the word
    assert _rms(wet[12100:13000]) > 100 * _rms(y[12100:13000]) + 1e-6


def test_reverberate_with_a_unit_impulse_is_identity_and_delays_shift():
    y = _word_like(1)
    np.testing.assert_allclose(aa.reverberate(y, np.array([1.0])), y, atol=1e-12)
    d = np.zeros(11)
    d[10] = 0.5
    out = aa.reverberate(y, d)
    shifted = np.concatenate([np.zeros(10), y[:-10]])   # a pure delay; the 0.5 is undone by the RMS match
    np.testing.assert_allclose(out, shifted * (_rms(y) / _rms(shifted)), atol=1e-9)


# --- equalisation -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("f0, gain, q", [(1000.0, 6.0, 1.0), (300.0, -9.0, 2.0), (4000.0, 12.0, 0.7),
                                         (150.0, -10.0, 3.0)])
def test_peaking_biquad_response(f0, gain, q):
    b, a = aa.peaking_biquad(f0, gain, q)
    assert a[0] == 1.0
    _, h = freqz(b, a, worN=[f0], fs=SR)
    assert abs(20 * np.log10(abs(h[0])) - gain) < 1e-6
    far = [f0 / 30, min(f0 * 30, 7990.0)] if f0 * 30 < 8000 else [f0 / 30]
    _, hf = freqz(b, a, worN=far, fs=SR)
    assert np.all(np.abs(20 * np.log10(np.abs(hf))) < 0.15), 20 * np.log10(np.abs(hf))
    # the peak of the response is at f0 (boost) or the dip is (cut)
    w, hh = freqz(b, a, worN=4096, fs=SR)
    mag = 20 * np.log10(np.abs(hh))
    extreme = w[np.argmax(mag)] if gain > 0 else w[np.argmin(mag)]
    assert abs(extreme - f0) < 0.05 * f0 + 4
    assert np.all(np.abs(np.roots(a)) < 1)   # stable


def test_peaking_biquad_zero_gain_is_flat():
    b, a = aa.peaking_biquad(1000.0, 0.0, 1.0)
    np.testing.assert_allclose(b, a)


def test_random_eq_bounds_and_seeding():
    imp = np.zeros(4096)
    imp[0] = 1.0
    for seed in range(5):
        h = aa.random_eq(imp, np.random.default_rng(seed), bands=3, max_db=10.0, gain_db=6.0)
        mag = 20 * np.log10(np.abs(np.fft.rfft(h)) + 1e-30)
        assert np.all(np.abs(mag) <= 3 * 10.0 + 6.0 + 1e-6)
        assert np.ptp(mag) > 0.5   # it does equalise
    y = _word_like()
    np.testing.assert_array_equal(aa.random_eq(y, np.random.default_rng(4)), aa.random_eq(y, np.random.default_rng(4)))
    assert not np.allclose(aa.random_eq(y, np.random.default_rng(4)), aa.random_eq(y, np.random.default_rng(5)))
    # no bands: a pure gain within +-gain_db
    g = aa.random_eq(y, np.random.default_rng(0), bands=0, gain_db=6.0) / np.where(y == 0, 1, y)
    k = g[y != 0]
    np.testing.assert_allclose(k, k[0])
    assert abs(20 * np.log10(k[0])) <= 6.0
    # no gain anywhere: identity
    np.testing.assert_allclose(aa.random_eq(y, np.random.default_rng(0), max_db=0.0, gain_db=0.0), y, atol=1e-12)


# --- noise ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("snr", [-5.0, 0.0, 10.0, 20.0])
def test_mix_at_snr_achieves_the_snr_over_the_loud_part(snr):
    y = _word_like()
    n = np.random.default_rng(9).standard_normal(y.size) * 3.0
    m = aa.mix_at_snr(y, n, snr)
    added = m - y
    loud = np.abs(y) > 0.01 * np.abs(y).max()
    assert loud.sum() < 0.6 * y.size   # the silence does not count
    got = 10 * np.log10(np.mean(y[loud] ** 2) / np.mean(added ** 2))
    assert abs(got - snr) < 1e-6, got
    np.testing.assert_allclose(added / n, added[0] / n[0])   # only scaled noise was added
    # the level of the noise given does not matter
    np.testing.assert_allclose(aa.mix_at_snr(y, 10 * n, snr), m)


def test_mix_at_snr_with_silent_input_or_noise_returns_a_copy():
    y = _word_like()
    out = aa.mix_at_snr(y, np.zeros_like(y), 10.0)
    np.testing.assert_array_equal(out, y)
    assert out is not y
    z = np.zeros(100)
    np.testing.assert_array_equal(aa.mix_at_snr(z, np.ones(100), 10.0), z)


# --- AudioAugment ------------------------------------------------------------------------------------------------

def test_audio_augment_json_round_trip():
    a = aa.AudioAugment(p_speed=0.3, speed=0.1, p_tempo=0.2, p_pitch=0.1, pitch=3.0, rt60=(0.2, 0.9),
                        snr_db=(-5.0, 30.0), copies=4)
    d = json.loads(json.dumps(a.to_json()))
    assert d["rt60"] == [0.2, 0.9] and d["copies"] == 4
    assert aa.AudioAugment.from_json(d) == a
    assert aa.AudioAugment.from_json({}) == aa.AudioAugment()
    assert aa.AudioAugment.from_json(aa.AudioAugment().to_json()) == aa.AudioAugment()


@pytest.mark.parametrize("field, value", [
    ("p_speed", 1.5), ("p_noise", -0.1), ("p_reverb", "0.5"), ("p_eq", True),
    ("speed", 0.6), ("tempo", -0.1), ("pitch", 13), ("eq_db", 31.0),
    ("rt60", [0.5, 0.1]), ("rt60", [0.0, 0.5]), ("rt60", [0.1, 4.0]), ("rt60", 0.5), ("rt60", [0.1, 0.2, 0.3]),
    ("snr_db", [10.0]), ("snr_db", [30.0, 0.0]), ("snr_db", [-30.0, 0.0]),
    ("copies", 0), ("copies", 17), ("copies", 2.0), ("copies", True), ("p_speed", float("nan")),
])
def test_audio_augment_from_json_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(SpikeportError) as e:
        aa.AudioAugment.from_json({field: value}, where="cfg.json: audio_augment")
    msg = str(e.value)
    assert msg.startswith("cfg.json: audio_augment")
    assert re.search(rf"(?<![A-Za-z_]){field} is", msg), msg


def test_audio_augment_from_json_rejects_unknown_fields_and_non_objects():
    with pytest.raises(SpikeportError, match="unknown field.*p_sped"):
        aa.AudioAugment.from_json({"p_sped": 0.5})
    with pytest.raises(SpikeportError, match="not an object"):
        aa.AudioAugment.from_json([0.5])


def test_audio_augment_active():
    assert aa.AudioAugment().active
    off = aa.AudioAugment(p_speed=0, p_tempo=0, p_pitch=0, p_reverb=0, p_eq=0, p_noise=0)
    assert not off.active
    assert aa.AudioAugment(p_speed=0, p_reverb=0, p_eq=0, p_noise=0, p_pitch=0.1).active


# --- perturb -------------------------------------------------------------------------------------------------------

ALL_ON = aa.AudioAugment(p_speed=1, p_tempo=1, p_pitch=1, p_reverb=1, p_eq=1, p_noise=1)
ALL_OFF = aa.AudioAugment(p_speed=0, p_tempo=0, p_pitch=0, p_reverb=0, p_eq=0, p_noise=0)


def test_perturb_is_seeded_keeps_length_and_limits_peak():
    y = _word_like(amp=0.9)
    before = y.copy()
    outs = [aa.perturb(y, ALL_ON, np.random.default_rng(s)) for s in range(3)]
    np.testing.assert_array_equal(y, before)
    for s, out in enumerate(outs):
        assert out.shape == y.shape and out.dtype == np.float64
        assert np.abs(out).max() <= 0.99 + 1e-12
        assert np.isfinite(out).all()
        np.testing.assert_array_equal(aa.perturb(y, ALL_ON, np.random.default_rng(s)), out)
    assert not np.allclose(outs[0], outs[1])
    assert not np.allclose(outs[0], y)


def test_perturb_default_keeps_length_over_many_seeds():
    y = _word_like(2, amp=2.0)    # louder than full scale: scaled down to 0.99
    for s in range(8):
        out = aa.perturb(y, aa.AudioAugment(), np.random.default_rng(s))
        assert out.shape == y.shape
        assert np.abs(out).max() <= 0.99 + 1e-12


def test_perturb_with_all_probabilities_zero_is_identity():
    y = _word_like(amp=0.2)
    assert np.abs(y).max() < 0.99
    out = aa.perturb(y, ALL_OFF, np.random.default_rng(0))
    np.testing.assert_array_equal(out, y)
    assert out.dtype == np.float64 and out.shape == y.shape
    # float32 input: same values, float64 out
    out32 = aa.perturb(y.astype(np.float32), ALL_OFF, np.random.default_rng(0))
    assert out32.dtype == np.float64
    np.testing.assert_array_equal(out32, y.astype(np.float32).astype(np.float64))


def test_perturb_only_noise_adds_noise_at_an_snr_in_range():
    y = _word_like(3, amp=0.2)
    aug = aa.AudioAugment(p_speed=0, p_reverb=0, p_eq=0, p_noise=1, snr_db=(10.0, 10.0))
    out = aa.perturb(y, aug, np.random.default_rng(1))
    loud = np.abs(y) > 0.01 * np.abs(y).max()
    got = 10 * np.log10(np.mean(y[loud] ** 2) / np.mean((out - y) ** 2))
    assert abs(got - 10.0) < 1e-6


def test_perturb_returns_a_new_array():
    y = _word_like(amp=0.2)
    out = aa.perturb(y, ALL_OFF, np.random.default_rng(0))
    assert not np.shares_memory(out, y)
