"""Generic WFDB adapter on the real PhysioNet emgdb records, plus header/data faults."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import wfdb

from adapters._common import normalize_units
from adapters.wfdb_record import WfdbAdapter, parse_comment_fields
from emgcorpus.errors import ConfigError, SourceError
from tests.conftest import shared_data


@pytest.fixture(scope="module")
def root() -> Path:
    return shared_data("physionet_emgdb")


def test_three_records_with_diagnosis(root: Path) -> None:
    a = WfdbAdapter(root)
    recs = [a.read(u) for u in a.discover()]
    assert [r.subject for r in recs] == ["emg_healthy", "emg_myopathy", "emg_neuropathy"]
    assert [r.n_samples for r in recs] == [50860, 110337, 147858]
    assert all(r.fs == 4000.0 and len(r.channels) == 1 for r in recs)
    assert recs[1].meta["diagnosis"].startswith("myopathy")
    assert recs[2].meta["diagnosis"].endswith("right L5 radiculopathy")  # continuation line
    assert recs[0].subject_info is not None and recs[0].subject_info.age == 44.0
    assert all(r.events == [] for r in recs)


def test_lowercase_mv_unit_is_normalised(root: Path) -> None:
    assert "10000/mv" in (root / "emg_myopathy.hea").read_text()
    a = WfdbAdapter(root)
    rec = a.read(next(u for u in a.discover() if u.key == "emg_myopathy"))
    assert rec.channels[0].units == "mV"
    assert normalize_units("mv") == "mV" and normalize_units("µV") == "uV"


def test_digital_values_are_lossless(root: Path) -> None:
    a = WfdbAdapter(root)
    rec = a.read(a.discover()[2])
    ref = wfdb.rdrecord(str(root / "emg_neuropathy"), physical=False)
    assert rec.samples.dtype == np.int16
    assert np.array_equal(rec.samples[:, 0], ref.d_signal[:, 0])
    assert rec.channels[0].gain == pytest.approx(1e-4)


def test_options_label_and_pattern(root: Path) -> None:
    a = WfdbAdapter(root, label="dorsiflexion", pattern=r"emg_(?P<subject>\w+)")
    rec = a.read(a.discover()[0])
    assert rec.subject == "healthy"
    (event,) = rec.events
    assert event.label == "dorsiflexion" and event.duration == pytest.approx(rec.duration_s)
    with pytest.raises(ConfigError, match="named groups"):
        WfdbAdapter(root, pattern="emg_.*")


def test_header_data_mismatch(root: Path, tmp_path: Path) -> None:
    for ext in (".hea", ".dat"):
        shutil.copy(root / f"emg_healthy{ext}", tmp_path / f"emg_healthy{ext}")
    dat = tmp_path / "emg_healthy.dat"
    dat.write_bytes(dat.read_bytes()[:1001])
    (unit,) = WfdbAdapter(tmp_path).discover()
    with pytest.raises(SourceError, match="50860 samples x 1 signals"):
        WfdbAdapter(tmp_path).read(unit)


def test_empty_and_missing_files(root: Path, tmp_path: Path) -> None:
    shutil.copy(root / "emg_healthy.hea", tmp_path / "emg_healthy.hea")
    (unit,) = WfdbAdapter(tmp_path).discover()
    with pytest.raises(SourceError, match="missing"):
        WfdbAdapter(tmp_path).read(unit)
    (tmp_path / "emg_healthy.dat").write_bytes(b"")
    with pytest.raises(SourceError, match="empty"):
        WfdbAdapter(tmp_path).read(unit)


def test_comment_fields() -> None:
    fields = parse_comment_fields(["<age>: 62 <sex>: M", "<diagnoses>: a b", " c", "other"])
    assert fields == {"age": "62", "sex": "M", "diagnoses": "a b c"}
