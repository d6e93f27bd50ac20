"""emg2qwerty adapter on tiny session files in the released HDF5 layout."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from adapters.emg2qwerty import Emg2QwertyAdapter
from emgcorpus.errors import SourceError
from tests.adapters.contract_sources.emg2qwerty import T0, make_source, write_session


def _read_one(path: Path):  # type: ignore[no-untyped-def]
    adapter = Emg2QwertyAdapter(path)
    return adapter.read(adapter.discover()[0])


def test_both_bands_and_keystrokes(tmp_path: Path) -> None:
    root, _ = make_source(tmp_path)
    units = Emg2QwertyAdapter(root).discover()
    assert len(units) == 2
    rec = Emg2QwertyAdapter(root).read(units[0])
    assert (rec.subject, rec.fs, rec.samples.shape) == ("89335547", 2000.0, (400, 32))
    assert [c.name for c in rec.channels][:2] == ["L0", "L1"]
    assert [c.name for c in rec.channels][16:18] == ["R0", "R1"]
    assert {c.group for c in rec.channels} == {"left", "right"}
    assert rec.channels[4].position.angle_deg == pytest.approx(90.0)
    keys = [(e.label, round(e.onset, 6), round(e.duration, 6)) for e in rec.events
            if e.kind == "keystroke"]  # fmt: skip
    assert keys == [("h", 0.01, 0.04), ("i", 0.1, 0.02)]
    assert [e.label for e in rec.events if e.kind == "prompt"] == ["hi"]
    assert rec.meta["condition"] == "on_keyboard"
    with h5py.File(units[0].files[0]) as h5:
        np.testing.assert_array_equal(rec.samples[:, 16:], h5["emg2qwerty/timeseries"]["emg_right"])


def test_truncated_file_names_the_file(tmp_path: Path) -> None:
    path = write_session(tmp_path / "s.hdf5")
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(SourceError, match=r"s.hdf5: not a readable HDF5 file"):
        _read_one(path)


def test_missing_field_is_named(tmp_path: Path) -> None:
    path = write_session(tmp_path / "s.hdf5", fields=("time", "emg_left"))
    with pytest.raises(
        SourceError, match=r"s.hdf5: emg2qwerty/timeseries lacks field\(s\) \['emg_right'\]"
    ):
        _read_one(path)


def test_missing_group_is_named(tmp_path: Path) -> None:
    path = tmp_path / "s.hdf5"
    with h5py.File(path, "w") as h5:
        h5.create_group("something_else")
    with pytest.raises(SourceError, match="no HDF5 group 'emg2qwerty'"):
        _read_one(path)


def test_keystrokes_outside_the_session_are_a_label_mismatch(tmp_path: Path) -> None:
    far = [{"key": "x", "start": T0 + 3600.0, "end": T0 + 3600.1}]
    path = write_session(tmp_path / "s.hdf5", keystrokes=far)
    with pytest.raises(SourceError, match="outside the recording.*labels do not match"):
        _read_one(path)


def test_wrong_rate_is_refused(tmp_path: Path) -> None:
    path = write_session(tmp_path / "s.hdf5", fs=1000.0)
    with pytest.raises(SourceError, match="does not match 2000 Hz"):
        _read_one(path)


def test_events_are_cut_to_the_recording(tmp_path: Path) -> None:
    path = write_session(tmp_path / "short.hdf5", n=300)  # 0.15 s; the prompt lasts 0.19 s
    rec = _read_one(path)
    prompt = next(e for e in rec.events if e.kind == "prompt")
    assert prompt.onset == 0.0 and prompt.duration == pytest.approx(0.15)
    assert rec.meta["events_clipped"] == "1"
