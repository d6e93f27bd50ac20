"""CSL-HDEMG adapter on tiny files written in the release format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from adapters.csl_hdemg import CslHdemgAdapter
from emgcorpus.errors import SourceError
from tests.adapters.contract_sources.csl_hdemg import write_gesture


def _read(path: Path, root: Path):  # type: ignore[no-untyped-def]
    adapter = CslHdemgAdapter(root)
    return adapter.read(next(u for u in adapter.discover() if u.files[0] == path))


def test_repetitions_are_concatenated_with_one_event_each(tmp_path: Path) -> None:
    path = write_gesture(tmp_path, 2, 3, 11, reps=3)
    cells = scipy.io.loadmat(path)["gestures"].ravel()
    rec = _read(path, tmp_path)
    assert (rec.subject, rec.session, rec.trial, rec.fs) == ("2", "3", "gest11", 2048.0)
    assert rec.samples.shape == (100 + 105 + 110, 192)
    assert np.allclose(rec.samples[:100], cells[0].T)
    assert [(e.label, e.repetition) for e in rec.events] == [("gesture_11", k) for k in (1, 2, 3)]
    assert rec.events[1].onset == pytest.approx(100 / 2048)


def test_every_eighth_channel_is_bad_and_grid_is_8x24(tmp_path: Path) -> None:
    rec = _read(write_gesture(tmp_path, 1, 1, 0), tmp_path)
    bad = [i + 1 for i, c in enumerate(rec.channels) if c.status == "bad"]
    assert bad == list(range(8, 193, 8))
    assert {(c.position.row, c.position.col) for c in rec.channels} == {
        (r, c) for r in range(8) for c in range(24)
    }
    assert {e.label for e in rec.events} == {"rest"}


def test_faults_are_source_errors_naming_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "subject1" / "session1"
    folder.mkdir(parents=True)
    corrupt = folder / "gest1.mat"
    corrupt.write_bytes(b"not a mat file at all" * 20)
    with pytest.raises(SourceError, match="gest1.mat"):
        _read(corrupt, tmp_path)
    missing = folder / "gest2.mat"
    scipy.io.savemat(missing, {"emg": np.zeros((192, 10))})
    with pytest.raises(SourceError, match="'gestures' not found"):
        _read(missing, tmp_path)
    wrong = folder / "gest3.mat"
    cells = np.empty((1, 1), dtype=object)
    cells[0, 0] = np.zeros((64, 100))
    scipy.io.savemat(wrong, {"gestures": cells})
    with pytest.raises(SourceError, match=r"repetition 1 has shape \(64, 100\)"):
        _read(wrong, tmp_path)
    badname = tmp_path / "s1" / "g1.mat"
    badname.parent.mkdir()
    scipy.io.savemat(badname, {"gestures": cells})
    with pytest.raises(SourceError, match="g1.mat.*subject<k>/session<s>/gest<g>.mat"):
        _read(badname, tmp_path)
