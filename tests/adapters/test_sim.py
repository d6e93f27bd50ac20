"""The built-in simulated corpus: determinism, physiology, devices, options, learnability."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import welch
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from adapters.registry import make_adapter
from adapters.sim import SimAdapter, SimOptions, simulate_recording
from adapters.sim_devices import DEVICES
from emgcorpus.errors import ConfigError, SourceError
from emgcorpus.recording import Recording, SourceUnit

SMALL = {
    "subjects": "2",
    "gestures": "3",
    "repetitions": "2",
    "contraction_s": "2",
    "rest_s": "1.5",
}


def _one(device: str, subject: int = 1, **options: object) -> Recording:
    opts = SimOptions.from_options({**SMALL, **options})
    return simulate_recording(opts, device, subject, 1)


def _segments(rec: Recording, kind: str, margin_s: float = 0.5) -> np.ndarray:
    """Samples (physical units) of all events of ``kind``, trimmed by ``margin_s`` each side."""
    x = rec.physical()
    parts = [
        x[int((e.onset + margin_s) * rec.fs) : int((e.onset + e.duration - margin_s) * rec.fs)]
        for e in rec.events
        if e.kind == kind
    ]
    return np.concatenate(parts)


def test_registry_builds_sim_and_discover_touches_no_disk(tmp_path: Path) -> None:
    adapter = make_adapter("sim", str(tmp_path), **SMALL)
    units = adapter.discover()
    assert [u.key for u in units] == sorted(u.key for u in units)
    assert len(units) == len(DEVICES) * 2
    assert all(u.files == () for u in units)
    assert list(tmp_path.iterdir()) == []
    assert {u.key.split("/")[0] for u in units} == set(DEVICES)


def test_same_options_give_identical_recordings() -> None:
    a = SimAdapter("builtin", **SMALL)
    b = SimAdapter("/any/path", **SMALL)
    for ua, ub in zip(a.discover(), b.discover(), strict=True):
        ra, rb = a.read(ua), b.read(ub)
        assert np.array_equal(ra.samples, rb.samples)
        assert ra.events == rb.events
        assert ra.recording_id == rb.recording_id


def test_different_seeds_differ() -> None:
    r0, r1 = _one("ring16", seed="0"), _one("ring16", seed="1")
    assert r0.samples.shape == r1.samples.shape
    assert not np.array_equal(r0.samples, r1.samples)
    assert r0.meta["subject_gain"] != r1.meta["subject_gain"]


def test_events_cover_the_protocol_and_gestures_are_louder_than_rest() -> None:
    opts = SimOptions.from_options(SMALL)
    for device in DEVICES:
        rec = simulate_recording(opts, device, 2, 1)
        gestures = [e for e in rec.events if e.kind == "gesture"]
        rests = [e for e in rec.events if e.kind == "rest"]
        assert Counter((e.label, e.repetition) for e in gestures) == Counter(
            {(g, r): 1 for g in opts.gestures for r in (1, 2)}
        )
        assert all(e.label == "rest" for e in rests)
        ordered = sorted(rec.events, key=lambda e: e.onset)
        for prev, nxt in zip(ordered, ordered[1:], strict=False):
            assert nxt.onset == pytest.approx(prev.onset + prev.duration)
        end = ordered[-1].onset + ordered[-1].duration
        assert end == pytest.approx(rec.duration_s, abs=1.0 / rec.fs)
        rms_g = np.sqrt(np.mean(_segments(rec, "gesture") ** 2, axis=0))
        rms_r = np.sqrt(np.mean(_segments(rec, "rest") ** 2, axis=0))
        assert np.median(rms_g / rms_r) > 2.0, device


@pytest.mark.parametrize("device", ["ring16", "grid64", "bipolar4"])
def test_spectrum_mostly_inside_20_to_450_hz(device: str) -> None:
    rec = _one(device)
    f, p = welch(rec.physical(), fs=rec.fs, nperseg=1024, axis=0)
    total = p.sum(axis=0)
    inside = p[(f >= 20) & (f <= 450)].sum(axis=0)
    assert np.all(inside / total > 0.9)
    # the power peaks where surface EMG does (MUAP spectrum), not at the band edges
    peak = f[np.argmax(np.median(p, axis=1))]
    assert 30.0 <= peak <= 200.0


@pytest.mark.parametrize("mains", ["50", "60"])
def test_powerline_peak_present(mains: str) -> None:
    rec = _one("ring16", powerline=mains)
    assert rec.meta["powerline_hz"] == mains
    f, p = welch(_segments(rec, "rest", 0.2), fs=rec.fs, nperseg=2000, axis=0)
    p = np.median(p, axis=1)
    at = np.argmin(np.abs(f - float(mains)))
    around = (np.abs(f - float(mains)) > 3) & (np.abs(f - float(mains)) < 15)
    assert p[at] > 10 * np.median(p[around])


def test_samples_are_quantised_adc_counts() -> None:
    for name, device in DEVICES.items():
        rec = _one(name)
        assert rec.samples.dtype == np.int16
        assert device.adc_min <= rec.samples.min() and rec.samples.max() <= device.adc_max
        assert len({c.gain for c in rec.channels}) == 1
        assert rec.channels[0].units in ("uV", "mV")
        assert np.allclose(rec.physical(), rec.samples * device.gain)
        # real signal, not a few codes: many distinct levels in use
        assert np.unique(rec.samples[:, 0]).size > 20
    myo = _one("myo8")
    assert myo.samples.min() >= -128 and myo.samples.max() <= 127


def test_devices_have_their_own_layout_rate_and_positions() -> None:
    recs = {name: _one(name) for name in DEVICES}
    assert {r.samples.shape[1] for r in recs.values()} == {4, 8, 16, 64}
    assert len({r.fs for r in recs.values()}) == 4
    assert len({r.device for r in recs.values()}) == 4
    for name, rec in recs.items():
        systems = {c.position.system for c in rec.channels}
        assert systems == {DEVICES[name].layout}
        assert len({c.name for c in rec.channels}) == len(rec.channels)
        assert all(c.high_cutoff is not None and c.high_cutoff <= rec.fs / 2 for c in rec.channels)
        assert rec.trial == name  # recording ids differ between devices of one session
    ring = [c.position.angle_deg for c in recs["ring16"].channels]
    assert ring == pytest.approx(list(np.arange(16) * 22.5))
    grid = {(c.position.row, c.position.col) for c in recs["grid64"].channels}
    assert grid == {(r, c) for r in range(8) for c in range(8)}
    assert all(c.position.pitch_mm == 10.0 for c in recs["grid64"].channels)
    muscles = [c.target_muscle for c in recs["bipolar4"].channels]
    assert muscles == [c.position.muscle for c in recs["bipolar4"].channels]
    assert None not in muscles
    assert len({r.recording_id for r in recs.values()}) == 4


def test_neighbouring_grid_electrodes_are_more_alike_than_distant_ones() -> None:
    rec = _one("grid64")
    x = _segments(rec, "gesture")
    env = np.abs(x).reshape(-1, 256, 64).mean(axis=1)
    corr = np.corrcoef(env.T)
    near = np.mean([corr[i, i + 1] for i in range(0, 64, 8)])
    far = np.mean([corr[i, i + 7] for i in range(0, 64, 8)])
    assert near > far


def test_subjects_differ_but_keep_their_traits_across_devices() -> None:
    opts = SimOptions.from_options({**SMALL, "subjects": "4"})
    a1 = simulate_recording(opts, "myo8", 1, 1)
    a2 = simulate_recording(opts, "grid64", 1, 1)
    b1 = simulate_recording(opts, "myo8", 2, 1)
    assert a1.meta["subject_gain"] == a2.meta["subject_gain"]
    assert a1.meta["subject_gain"] != b1.meta["subject_gain"]
    assert a1.meta["donning_rotation_deg"] != b1.meta["donning_rotation_deg"]


def test_option_parsing_and_errors() -> None:
    opts = SimOptions.from_options({"gestures": "12", "devices": "myo8, grid64", "seed": 3})
    assert opts.gestures[-2:] == ("gesture_11", "gesture_12")
    assert opts.devices == ("myo8", "grid64")
    named = SimOptions.from_options({"gestures": "hand_open,my_move"})
    assert named.gestures == ("hand_open", "my_move")
    rec = simulate_recording(
        SimOptions.from_options({"gestures": "hand_open,my_move", "repetitions": "1"}),
        "myo8",
        1,
        1,
    )
    assert {e.label for e in rec.events} == {"hand_open", "my_move", "rest"}
    bad = [
        {"subjects": "0"},
        {"subjects": "two"},
        {"devices": "myo9"},
        {"gestures": "rest,hand_open"},
        {"contraction_s": "-1"},
        {"powerline": "55"},
        {"colour": "blue"},
    ]
    for options in bad:
        with pytest.raises(ConfigError):
            SimAdapter("builtin", **options)


def test_unknown_unit_key_is_a_source_error() -> None:
    adapter = SimAdapter("builtin", **SMALL)
    for key in ("myo8/sub-09/ses-1", "nope", "myo8/sub-xx/ses-1"):
        with pytest.raises(SourceError, match="sub|sim unit key"):
            adapter.read(SourceUnit(key=key, files=()))


def _td_features(w: np.ndarray) -> np.ndarray:
    """Hudgins time-domain features per channel: log MAV, log RMS, log WL, ZC, SSC."""
    d = np.diff(w, axis=0)
    zc = np.mean(np.diff(np.sign(w), axis=0) != 0, axis=0)
    ssc = np.mean(np.diff(np.sign(d), axis=0) != 0, axis=0)
    return np.concatenate(
        [
            np.log(np.mean(np.abs(w), axis=0) + 1e-3),
            np.log(np.sqrt(np.mean(w**2, axis=0)) + 1e-3),
            np.log(np.sum(np.abs(d), axis=0) + 1e-3),
            zc,
            ssc,
        ]
    )


def test_td_lda_leave_one_subject_out_is_clearly_above_chance() -> None:
    adapter = SimAdapter("builtin", devices="myo8", subjects="5", repetitions="2")
    feats, labels, subjects = [], [], []
    for unit in adapter.discover():
        rec = adapter.read(unit)
        x, win = rec.physical(), int(0.2 * rec.fs)
        for e in rec.events:
            start, stop = int((e.onset + 0.5) * rec.fs), int((e.onset + e.duration - 0.5) * rec.fs)
            for s in range(start, stop - win, win):
                feats.append(_td_features(x[s : s + win]))
                labels.append(e.label)
                subjects.append(rec.subject)
    X, y, g = np.array(feats), np.array(labels), np.array(subjects)
    chance = 1.0 / np.unique(y).size
    loso = []
    for s in np.unique(g):
        test = g == s
        loso.append(LinearDiscriminantAnalysis().fit(X[~test], y[~test]).score(X[test], y[test]))
    assert np.mean(loso) > 2.5 * chance
    # not trivial: subjects differ, so cross-subject accuracy stays below within-subject
    first = g == g[0]
    within = LinearDiscriminantAnalysis().fit(X[first][::2], y[first][::2])
    assert within.score(X[first][1::2], y[first][1::2]) > np.mean(loso)
