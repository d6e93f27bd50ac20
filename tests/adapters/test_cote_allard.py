"""Côté-Allard adapter on the real PreTrainingDataset, plus faults on copied files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from adapters.cote_allard import GESTURES, CoteAllardAdapter
from emgcorpus.errors import SourceError
from emgcorpus.recording import SourceUnit
from tests.conftest import shared_data


@pytest.fixture(scope="module")
def root() -> Path:
    return shared_data("cote_allard_myo")


def test_discover_counts_subjects_and_files(root: Path) -> None:
    units = CoteAllardAdapter(root).discover()
    subjects = {u.key.split("/")[1] for u in units}
    assert len(subjects) == 22
    assert len(units) == 22 * 28
    # the part folder itself is a valid source too, with keys relative to it
    part = CoteAllardAdapter(root / "PreTrainingDataset").discover()
    assert len(part) == len(units) and part[0].key == "Female0/training0/classe_0.dat"


def test_read_labels_shape_and_demographics(root: Path) -> None:
    a = CoteAllardAdapter(root)
    unit = next(u for u in a.discover() if u.key.endswith("Female0/training0/classe_12.dat"))
    rec = a.read(unit)
    raw = np.fromfile(unit.files[0], dtype="<i2").reshape(-1, 8)
    assert rec.samples.dtype == np.int16 and np.array_equal(rec.samples, raw)
    assert rec.fs == 200.0 and len(rec.channels) == 8
    assert [c.position.angle_deg for c in rec.channels] == [45.0 * k for k in range(8)]
    assert all(c.units == "n/a" and c.high_cutoff == 100.0 for c in rec.channels)
    (event,) = rec.events
    assert event.label == GESTURES[12 % 7] == "Hand Close" and event.repetition == 1
    assert event.duration == pytest.approx(raw.shape[0] / 200.0)
    assert rec.subject == "PreTraining/Female0" and rec.session == "training0"
    assert rec.subject_info is not None and rec.subject_info.sex == "F"
    assert rec.subject_info.age == 23.0


def test_neutral_is_rest(root: Path) -> None:
    a = CoteAllardAdapter(root)
    unit = next(u for u in a.discover() if u.key.endswith("Male0/training0/classe_7.dat"))
    (event,) = a.read(unit).events
    assert (event.kind, event.label, event.repetition) == ("rest", "rest", 1)


def _copy_subject(root: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "PreTrainingDataset" / "Male0" / "training0"
    dst.mkdir(parents=True)
    shutil.copy(root / "PreTrainingDataset/Male0/training0/classe_3.dat", dst / "classe_3.dat")
    return dst


def test_truncated_file_names_the_file(root: Path, tmp_path: Path) -> None:
    dst = _copy_subject(root, tmp_path)
    f = dst / "classe_3.dat"
    f.write_bytes(f.read_bytes()[:-3])
    (unit,) = CoteAllardAdapter(tmp_path).discover()
    with pytest.raises(SourceError, match="not a multiple of 16 bytes") as err:
        CoteAllardAdapter(tmp_path).read(unit)
    assert err.value.path == str(f)


def test_empty_file(root: Path, tmp_path: Path) -> None:
    dst = _copy_subject(root, tmp_path)
    (dst / "classe_3.dat").write_bytes(b"")
    (unit,) = CoteAllardAdapter(tmp_path).discover()
    with pytest.raises(SourceError, match="empty"):
        CoteAllardAdapter(tmp_path).read(unit)


@pytest.mark.parametrize("name", ["classe_28.dat", "classe_x.dat"])
def test_mislabelled_file_name(root: Path, tmp_path: Path, name: str) -> None:
    dst = _copy_subject(root, tmp_path)
    bad = dst / name
    (dst / "classe_3.dat").rename(bad)
    with pytest.raises(SourceError, match="classe_<i>.dat") as err:
        CoteAllardAdapter(tmp_path).read(SourceUnit(key=name, files=(bad,)))
    assert name in str(err.value)


def test_source_without_parts_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="PreTrainingDataset"):
        CoteAllardAdapter(tmp_path).discover()


def test_evaluation_layout_three_sessions_subjects_labels_demographics(tmp_path: Path) -> None:
    from tests.adapters.fixtures_cote_allard import LAYOUT, write_release

    written = write_release(tmp_path)
    adapter = CoteAllardAdapter(tmp_path)
    units = adapter.discover()
    assert len(units) == 28 * (3 + 3 + 1)
    recs = [adapter.read(u) for u in units]
    sessions: dict[str, set[str]] = {}
    for rec in recs:
        sessions.setdefault(rec.subject, set()).add(rec.session)
    assert sessions == {
        "Evaluation/Female1": {"training0", "Test0", "Test1"},
        "Evaluation/Male12": {"training0", "Test0", "Test1"},
        "PreTraining/Male4": {"training0"},
    }
    assert len({r.recording_id for r in recs}) == len(recs)
    by_key = {(r.subject, r.session, r.trial): r for r in recs}
    for i in (0, 6, 7, 20, 27):
        rec = by_key[("Evaluation/Male12", "Test1", f"classe_{i}")]
        assert np.array_equal(rec.samples, written[("EvaluationDataset", "Male12", "Test1")][i])
        (event,) = rec.events
        gesture = i % 7
        assert event.label == ("rest" if gesture == 0 else GESTURES[gesture])
        assert event.kind == ("rest" if gesture == 0 else "gesture")
        assert event.repetition == i // 7
        assert event.duration == pytest.approx(rec.samples.shape[0] / 200.0)
    for part, subject, _, sex, age, circ in LAYOUT:
        short = "Evaluation" if part == "EvaluationDataset" else "PreTraining"
        rec = by_key[(f"{short}/{subject}", "training0", "classe_1")]
        info = rec.subject_info
        assert info is not None and (info.sex, info.age) == (sex, float(age))
        assert info.extra["Circumference"] == str(circ)
        assert f"{part}/{subject}/experiment.csv" in [s.path for s in rec.sources]
    # the EvaluationDataset folder alone is a valid source, keys relative to it
    part_units = CoteAllardAdapter(tmp_path / "EvaluationDataset").discover()
    assert len(part_units) == 28 * 6 and part_units[0].key == "Female1/Test0/classe_0.dat"
