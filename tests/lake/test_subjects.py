"""Subjects: demographics merged over a subject's recordings, within and across ingests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from emgcorpus.ingest import ingest
from emgcorpus.lake import Lake
from emgcorpus.recording import Adapter, ChannelInfo, Recording, SourceUnit, SubjectInfo
from emgcorpus.verify import verify_lake


class DemographicsAdapter(Adapter):
    """Recordings ``options["units"]``: unit key -> (subject, SubjectInfo fields)."""

    name = "demographics"
    reads_files = False

    def discover(self) -> list[SourceUnit]:
        return [SourceUnit(k, ()) for k in self.options["units"]]

    def read(self, unit: SourceUnit) -> Recording:
        subject, info = self.options["units"][unit.key]
        return Recording(
            dataset="demo",
            subject=subject,
            session="1",
            trial=unit.key,
            device="dev",
            fs=100.0,
            channels=[ChannelInfo("c0")],
            samples=np.arange(50, dtype="<i2").reshape(50, 1),
            subject_info=SubjectInfo(subject=subject, **info) if info is not None else None,
        )


def _rows(path: Path) -> dict[str, dict]:
    return {r["subject"]: r for r in Lake.open(path).subjects().iter_rows(named=True)}


@pytest.mark.parametrize("batch_recordings", [1, 10])
def test_later_recordings_fill_unknown_fields(tmp_path: Path, batch_recordings: int) -> None:
    path = tmp_path / "lake"
    units = {
        "t1": ("s1", {"age": 31.0}),
        "t2": ("s1", None),
        "t3": ("s1", {"age": 99.0, "sex": "F", "extra": {"arm": "R"}}),
        "t4": ("s2", {"handedness": "L"}),
        "t5": ("s1", {"height_cm": 170.0, "extra": {"arm": "L", "limb": "intact"}}),
    }
    report = ingest(
        path,
        DemographicsAdapter(path, units=units),
        progress=False,
        batch_recordings=batch_recordings,
    )
    assert len(report.added) == 5
    rows = _rows(path)
    assert sorted(rows) == ["s1", "s2"]
    s1 = rows["s1"]
    assert (s1["age"], s1["sex"], s1["height_cm"], s1["weight_kg"]) == (31.0, "F", 170.0, None)
    assert json.loads(s1["extra_json"]) == {"arm": "R", "limb": "intact"}  # first value wins
    assert rows["s2"]["handedness"] == "L"
    info = Lake.open(path).subject_info("demo", "s1")
    assert info is not None and info.sex == "F" and info.age == 31.0
    assert verify_lake(path) == []


def test_a_later_ingest_enriches_a_subject_without_duplicating_it(tmp_path: Path) -> None:
    path = tmp_path / "lake"
    ingest(path, DemographicsAdapter(path, units={"a": ("s1", {"age": 40.0})}), progress=False)
    first = Lake.open(path).snapshot()
    more = {"a": ("s1", {"age": 40.0}), "b": ("s1", {"age": 41.0, "weight_kg": 70.0})}
    ingest(path, DemographicsAdapter(path, units=more), progress=False)
    lake = Lake.open(path)
    assert lake.subjects().height == 1
    row = lake.subjects().row(0, named=True)
    assert (row["age"], row["weight_kg"]) == (40.0, 70.0)
    assert lake.snapshot()["subjects"] > first["subjects"]
    # nothing new to say: no new subjects version
    again = lake.snapshot()
    ingest(path, DemographicsAdapter(path, units={"c": ("s1", {"age": 50.0})}), progress=False)
    assert Lake.open(path).snapshot()["subjects"] == again["subjects"]
    assert Lake.open(path).recordings().height == 3
