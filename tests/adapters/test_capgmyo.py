"""CapgMyo adapter on tiny trial files written in the release format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from adapters.capgmyo import CapgMyoAdapter
from emgcorpus.errors import ConfigError, SourceError
from tests.adapters.contract_sources.capgmyo import write_trial


def _read(path: Path, root: Path, **options: str):  # type: ignore[no-untyped-def]
    adapter = CapgMyoAdapter(root, **options)
    return adapter.read(next(u for u in adapter.discover() if u.files[0] == path))


def test_dba_trial_is_one_gesture_on_an_8x16_grid_in_mv(tmp_path: Path) -> None:
    path = write_trial(tmp_path / "dba-preprocessed-003", 3, 6, 2)
    raw = scipy.io.loadmat(path)["data"]
    rec = _read(path, tmp_path)
    assert rec.fs == 1000.0 and rec.subject == "3" and rec.session == "1"
    assert rec.samples.shape == (200, 128)
    assert np.allclose(rec.samples, raw * 2.5)
    assert {(c.position.row, c.position.col) for c in rec.channels} == {
        (r, c) for r in range(8) for c in range(16)
    }
    assert all(c.units == "mV" and c.high_cutoff == 380.0 for c in rec.channels)
    assert [(e.label, e.repetition, e.kind) for e in rec.events] == [("fist", 2, "gesture")]
    assert rec.events[0].duration == pytest.approx(0.2)


def test_dbb_folders_are_subject_sessions_and_dbc_has_finger_gestures(tmp_path: Path) -> None:
    b = _read(write_trial(tmp_path / "dbb-preprocessed-004", 4, 1, 1), tmp_path)
    assert (b.subject, b.session) == ("2", "2")
    c = _read(write_trial(tmp_path / "dbc-preprocessed-001", 1, 12, 1), tmp_path)
    assert c.events[0].label == "thumb_extension"
    mvc = _read(write_trial(tmp_path / "dba-preprocessed-001", 1, 100, 1), tmp_path)
    assert mvc.events[0].kind == "calibration"


def test_database_option_overrides_and_is_checked(tmp_path: Path) -> None:
    path = write_trial(tmp_path / "plain", 1, 9, 1)
    rec = _read(path, tmp_path, database="c")
    assert rec.events[0].label == "thumb_adduction"
    assert rec.dataset == "capgmyo-dbc"  # the catalog entry's name
    assert "7.5 mm and 10.05 mm" in (rec.channels[0].placement_description or "")
    assert rec.channels[0].position.pitch_mm is None  # axes of the two distances not documented
    assert CapgMyoAdapter(tmp_path).dataset == "capgmyo"
    assert CapgMyoAdapter(tmp_path, database="a", dataset="x").dataset == "x"
    with pytest.raises(SourceError, match="set option database"):
        _read(path, tmp_path)
    with pytest.raises(ConfigError):
        CapgMyoAdapter(tmp_path, database="d")


def test_faults_are_source_errors_naming_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "dba-preprocessed-001"
    corrupt = folder / "001-001-001.mat"
    folder.mkdir()
    corrupt.write_bytes(b"\x00garbage" * 50)
    with pytest.raises(SourceError, match="001-001-001.mat"):
        _read(corrupt, tmp_path)
    missing = folder / "001-002-001.mat"
    scipy.io.savemat(missing, {"gesture": 2})
    with pytest.raises(SourceError, match="'data' not found"):
        _read(missing, tmp_path)
    narrow = folder / "001-003-001.mat"
    scipy.io.savemat(narrow, {"data": np.zeros((10, 64))})
    with pytest.raises(SourceError, match=r"expected \(n, 128\)"):
        _read(narrow, tmp_path)
    mismatch = write_trial(folder, 1, 4, 1)
    original = {k: v for k, v in scipy.io.loadmat(mismatch).items() if not k.startswith("__")}
    scipy.io.savemat(mismatch, {**original, "gesture": np.array([[5]])})
    with pytest.raises(SourceError, match="gesture.*5.*file name says 4"):
        _read(mismatch, tmp_path)
    badname = folder / "s1_g1.mat"
    scipy.io.savemat(badname, {"data": np.zeros((10, 128))})
    with pytest.raises(SourceError, match="s1_g1.mat.*<subject>-<gesture>-<trial>"):
        _read(badname, tmp_path)
