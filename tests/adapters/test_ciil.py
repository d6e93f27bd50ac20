"""CIIL adapter on the real LibEMG CIIL data, plus faults on copied files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from adapters.ciil import CiilAdapter
from emgcorpus.errors import SourceError
from tests.conftest import shared_data


@pytest.fixture(scope="module")
def root() -> Path:
    return shared_data("ciil_myo")


def test_subject_and_file_counts(root: Path) -> None:
    units = CiilAdapter(root).discover()
    subjects = {"/".join(u.key.split("/")[:2]) for u in units}
    assert len(subjects) == 32
    assert sum(s.startswith("ElectrodeShift/") for s in subjects) == 21
    assert len(units) == 2260


def test_class_names_come_from_metadata_json(root: Path) -> None:
    a = CiilAdapter(root)
    units = {u.key: u for u in a.discover()}
    meta = json.loads((root / "ElectrodeShift/subject0/training/metadata.json").read_text())
    for c in range(5):
        rec = a.read(units[f"ElectrodeShift/subject0/training/R_0_C_{c}.csv"])
        expected = meta[f"data/subject0/sgt/training/R_0_C_{c}.csv"]["class_name"]
        assert rec.meta["class_name"] == expected
        (event,) = rec.events
        assert event.label == ("rest" if expected == "No_Motion" else expected)
    # class 3 is Wrist_Extension per metadata.json (libemg's description says Flexion)
    assert a.read(units["ElectrodeShift/subject0/training/R_0_C_3.csv"]).events[0].label == (
        "Wrist_Extension"
    )


def test_samples_and_identity(root: Path) -> None:
    a = CiilAdapter(root)
    unit = next(u for u in a.discover() if u.key == "ElectrodeShift/subject0/trial_2/R_1_C_4.csv")
    rec = a.read(unit)
    ref = np.loadtxt(unit.files[0], delimiter=",")
    assert rec.samples.dtype == np.int16 and np.array_equal(rec.samples, ref)
    assert (rec.subject, rec.session, rec.trial) == (
        "ElectrodeShift/subject0",
        "trial_2",
        "R_1_C_4",
    )
    assert rec.fs == 200.0 and rec.events[0].repetition == 1


def test_train_folder_without_metadata_uses_subject_metadata(root: Path) -> None:
    a = CiilAdapter(root)
    unit = next(
        u for u in a.discover() if u.key == "MinimalTrainingData/subject3/train/R_0_C_1.csv"
    )
    rec = a.read(unit)
    assert rec.events[0].label == "Hand_Open"
    assert rec.meta["class_names_from"].startswith("MinimalTrainingData/subject3/test/")


def _copy_folder(root: Path, tmp_path: Path) -> Path:
    src = root / "ElectrodeShift/subject1/training"
    dst = tmp_path / "ElectrodeShift/subject1/training"
    dst.mkdir(parents=True)
    for name in ("R_0_C_0.csv", "R_0_C_1.csv", "metadata.json"):
        shutil.copy(src / name, dst / name)
    return dst


def test_mislabelled_file_is_caught(root: Path, tmp_path: Path) -> None:
    dst = _copy_folder(root, tmp_path)
    (dst / "R_0_C_0.csv").unlink()
    (dst / "R_0_C_1.csv").rename(dst / "R_0_C_0.csv")  # metadata says class 0 ...
    meta = json.loads((dst / "metadata.json").read_text())
    key = "data/subject1/sgt/training/R_0_C_0.csv"
    meta[key]["class_idx"] = 1  # ... now the metadata disagrees with the file name
    (dst / "metadata.json").write_text(json.dumps(meta))
    (unit,) = CiilAdapter(tmp_path).discover()
    with pytest.raises(SourceError, match="file name says rep 0, class 0") as err:
        CiilAdapter(tmp_path).read(unit)
    assert err.value.path.endswith("R_0_C_0.csv")


def test_empty_and_non_numeric_files(root: Path, tmp_path: Path) -> None:
    dst = _copy_folder(root, tmp_path)
    (dst / "R_0_C_0.csv").write_text("")
    (dst / "R_0_C_1.csv").write_text("1,2,3,4,5,6,7,nan\n")
    a = CiilAdapter(tmp_path)
    u0, u1 = a.discover()
    with pytest.raises(SourceError, match="empty"):
        a.read(u0)
    with pytest.raises(SourceError, match="non-finite"):
        a.read(u1)
