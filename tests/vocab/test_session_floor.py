"""Session-level noise floors: recordings cut inside a held gesture borrow the floor of
their session's rest, and partitions keep sessions whole."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from emgcorpus.errors import ConfigError
from emgcorpus.recording import ChannelInfo
from vocab.lake_partitions import session_partitions
from vocab.nct import NCTTokenizer
from vocab.tokenizer_base import KIND_ACTIVE, Segments

FS = 1000.0
N_CH = 3


def recording(held: bool, seed: int, seconds: float = 6.0) -> np.ndarray:
    """White noise (the electrodes' floor) plus, when ``held``, EMG-like activity over the
    whole recording on every channel: a trial cut inside a held gesture, no rest at all."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    x = 0.02 * rng.normal(size=(n, N_CH))
    if held:
        sos = signal.butter(4, [30, 300], "bandpass", fs=FS, output="sos")
        emg = signal.sosfiltfilt(sos, rng.normal(size=(n, N_CH)), axis=0)
        level = 1.0 + 0.3 * np.sin(2 * np.pi * 0.5 * np.arange(n) / FS)[:, None]
        x += level * emg / emg.std(axis=0)
    return x


def channels() -> list[ChannelInfo]:
    return [ChannelInfo(name=f"c{i}", units="mV") for i in range(N_CH)]


def active_fraction(s: Segments) -> float:
    a = s.kind == KIND_ACTIVE
    return float(s.duration_s[a].sum() / s.duration_s.sum())


def test_held_gesture_is_active_against_the_session_floor() -> None:
    tok = NCTTokenizer()
    session = [recording(False, 0), recording(True, 1), recording(True, 2)]
    own = [tok.segment(x, FS, channels()) for x in session]
    shared = list(tok.segment_session(3, lambda i: (session[i], FS, channels())))
    # alone, a recording without rest takes its own activity for the floor
    assert active_fraction(own[1]) < 0.5
    # against the session floor (the rest recording's level) it is active throughout
    assert active_fraction(shared[1]) > 0.9 and active_fraction(shared[2]) > 0.9
    assert active_fraction(shared[0]) < 0.05
    # intensity is measured over the session floor: ~ ln(1 / 0.02) for unit-RMS activity
    a = shared[1].kind == KIND_ACTIVE
    assert abs(np.median(shared[1].descriptor[a, 1]) - np.log(1 / 0.02)) < 0.5


def test_explicit_floor_equals_the_session_result() -> None:
    tok = NCTTokenizer()
    session = [recording(False, 0), recording(True, 1)]
    shared = list(tok.segment_session(2, lambda i: (session[i], FS, channels())))
    preps = [tok.prepare(x, FS, channels()) for x in session]
    floors = tok.session_floors([p for p in preps if p is not None])
    assert sorted(floors) == ["c0", "c1", "c2"]
    given = tok.segment(session[1], FS, channels(), noise_floor=np.array(list(floors.values())))
    for col in ("channel", "onset_s", "duration_s", "kind"):
        assert np.array_equal(getattr(given, col), getattr(shared[1], col)), col
    assert np.array_equal(given.descriptor, shared[1].descriptor, equal_nan=True)
    # NaN entries fall back to the recording's own floor; a wrong length is an error
    nan_floor = tok.segment(session[1], FS, channels(), noise_floor=np.full(N_CH, np.nan))
    assert np.array_equal(nan_floor.onset_s, tok.segment(session[1], FS, channels()).onset_s)
    with pytest.raises(ConfigError, match="noise_floor has 2 entries"):
        tok.segment(session[1], FS, channels(), noise_floor=np.ones(2))


def test_a_session_of_one_is_the_per_recording_result() -> None:
    tok = NCTTokenizer()
    x = recording(True, 3)
    (alone,) = tok.segment_session(1, lambda i: (x, FS, channels()))
    ref = tok.segment(x, FS, channels())
    assert np.array_equal(alone.onset_s, ref.onset_s)
    assert np.array_equal(alone.descriptor, ref.descriptor, equal_nan=True)


def test_partitions_hold_whole_sessions_and_are_bounded() -> None:
    keys = ["a", "a", "b", "c", "c", "c", "a", "", "", "d", "d", "d", "d", "d"]
    parts = session_partitions(keys, 4)
    assert sorted(i for p in parts for i in p) == list(range(len(keys)))
    assert all(1 <= len(p) <= 4 for p in parts)
    # the three "a" recordings (not adjacent in id order) land together, in id order
    assert [0, 1, 6] in [[i for i in p if keys[i] == "a"] for p in parts]
    for p in parts:  # a session is contiguous inside its partition
        ks = [keys[i] for i in p]
        assert all(ks.index(k) + ks.count(k) - 1 == len(ks) - 1 - ks[::-1].index(k) for k in ks)
    # a session larger than the bound is cut into chunks of the bound
    d = [p for p in parts if any(keys[i] == "d" for i in p)]
    assert [len([i for i in p if keys[i] == "d"]) for p in d] == [4, 1]
    # recordings without a session key are sessions of their own
    assert session_partitions(["", "", ""], 1) == [[0], [1], [2]]
    assert session_partitions([], 3) == []
