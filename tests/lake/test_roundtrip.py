"""Round trip: what an adapter yields is what the lake gives back, bit for bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from deltalake import DeltaTable

from emgcorpus.errors import LakeError
from emgcorpus.ingest import ingest
from emgcorpus.lake import Lake
from emgcorpus.schema import TABLES
from tests.lake.fakes import SpecAdapter, build_recording, spec

SPECS = {
    "a-int16-1ch": spec(n=300, n_ch=1, fs=200.0, dtype="<i2", subject="s1"),
    "b-int16-8ch": spec(n=1000, n_ch=8, fs=200.0, dtype="<i2", subject="s2"),
    "c-uint16-64ch": spec(n=700, n_ch=64, fs=2048.0, dtype="<u2", subject="s1"),
    "d-float32-256ch": spec(n=9000, n_ch=256, fs=1000.0, dtype="<f4", subject="s3"),
    "e-float64-2ch": spec(n=123, n_ch=2, fs=4000.0, dtype=">f8", subject="s3"),
}


@pytest.fixture(scope="module")
def lake_with_specs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rt") / "lake"
    report = ingest(path, SpecAdapter(path, specs=SPECS), progress=False)
    assert len(report.added) == len(SPECS) and not report.errors
    return path


@pytest.mark.parametrize("key", sorted(SPECS))
def test_raw_samples_come_back_exactly(lake_with_specs: Path, key: str) -> None:
    expected = build_recording(key, SPECS[key])
    lake = Lake.open(lake_with_specs)
    raw = lake.read_samples(expected.recording_id, physical=False)
    assert raw.dtype == expected.samples.dtype.newbyteorder("<")
    np.testing.assert_array_equal(raw, expected.samples)
    phys = lake.read_samples(expected.recording_id)
    assert phys.dtype == np.float32
    np.testing.assert_allclose(phys, expected.physical().astype(np.float32), rtol=1e-6)
    sub = lake.read_samples(expected.recording_id, channels=[0], physical=False)
    np.testing.assert_array_equal(sub[:, 0], expected.samples[:, 0])


def test_metadata_round_trip(lake_with_specs: Path) -> None:
    lake = Lake.open(lake_with_specs)
    expected = build_recording("c-uint16-64ch", SPECS["c-uint16-64ch"])
    rid = expected.recording_id
    assert lake.channel_infos(rid) == expected.channels
    rec = lake.read_recording(rid)
    assert (rec.dataset, rec.subject, rec.trial, rec.fs) == ("fake", "s1", "c-uint16-64ch", 2048.0)
    assert rec.events == expected.events
    assert rec.subject_info == expected.subject_info
    assert rec.meta == {"unit": "c-uint16-64ch"}
    assert all(c.gain == 1.0 and c.offset == 0.0 for c in rec.channels)
    row = lake.recording_row(rid)
    assert row["n_channels"] == 64 and row["n_emg_channels"] == 64
    assert row["n_samples"] == 700 and row["duration_s"] == pytest.approx(700 / 2048)
    channels = lake.channels(rid)
    assert channels["channel_index"].to_list() == list(range(64))
    assert channels["high_cutoff"].null_count() == 64  # unknown stays null
    assert sorted(lake.recordings()["native_fs"].unique().to_list()) == [200, 1000, 2048, 4000]
    assert lake.subjects().height == 3


def test_reading_one_recording_touches_one_file(tmp_path: Path) -> None:
    specs = {f"u{i:02d}": spec(n=200 + i, n_ch=2, subject=f"s{i % 3}") for i in range(24)}
    path = tmp_path / "lake"
    ingest(path, SpecAdapter(path, specs=specs), progress=False, batch_recordings=3)
    lake = Lake.open(path)
    n_files = len(lake.table("signals").file_uris())
    assert n_files == 8
    for key in ("u00", "u13", "u23"):
        rid = build_recording(key, specs[key]).recording_id
        assert len(lake.signal_files(rid)) == 1
        np.testing.assert_array_equal(
            lake.read_samples(rid, physical=False), build_recording(key, specs[key]).samples
        )


def test_reingest_adds_nothing_and_makes_no_versions(lake_with_specs: Path) -> None:
    before = {t: DeltaTable(lake_with_specs / t).version() for t in TABLES}
    snapshot = Lake.open(lake_with_specs).snapshot()
    report = ingest(lake_with_specs, SpecAdapter(lake_with_specs, specs=SPECS), progress=False)
    assert report.added == [] and len(report.skipped) == len(SPECS)
    assert {t: DeltaTable(lake_with_specs / t).version() for t in TABLES} == before
    assert Lake.open(lake_with_specs).snapshot() == snapshot
    assert Lake.open(lake_with_specs).recordings().height == len(SPECS)


def test_snapshot_time_travel(tmp_path: Path) -> None:
    path = tmp_path / "lake"
    first = {"x1": spec(subject="a")}
    ingest(path, SpecAdapter(path, specs=first), progress=False)
    old = Lake.open(path).snapshot()
    ingest(path, SpecAdapter(path, specs={"x2": spec(subject="b"), **first}), progress=False)
    assert Lake.open(path).recordings().height == 2
    past = Lake.open(path, snapshot=old)
    assert past.recordings()["trial"].to_list() == ["x1"]
    assert past.subjects()["subject"].to_list() == ["a"]
    with pytest.raises(LakeError, match="no recording"):
        past.read_samples(build_recording("x2", spec(subject="b")).recording_id)
    with pytest.raises(LakeError, match="does not exist"):
        Lake.open(path, snapshot={"recordings": 999})


def test_open_refuses_a_folder_that_is_not_a_lake(tmp_path: Path) -> None:
    with pytest.raises(LakeError, match="not an emgcorpus lake"):
        Lake.open(tmp_path)
    lake = Lake.create(tmp_path / "new")
    assert Lake.create(tmp_path / "new").snapshot() == lake.snapshot()
    assert lake.recordings().height == 0 and lake.harmonized_rates() == []
