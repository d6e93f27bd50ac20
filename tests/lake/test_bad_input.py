"""Bad input: each kind is refused with a clear error; skip vs abort; the lake is untouched."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from deltalake import DeltaTable

from emgcorpus.errors import ChecksumError, ConfigError, SourceError
from emgcorpus.ingest import ingest
from emgcorpus.lake import Lake
from emgcorpus.schema import TABLES
from tests.lake.fakes import NpyAdapter, SpecAdapter, build_recording, spec, write_npy_source

BAD = {
    "nan": (spec(dtype="<f4", nan=True), "NaN/Inf"),
    "inf": (spec(dtype="<f8", inf=True), "NaN/Inf"),
    "empty": (spec(empty=True), "empty recording"),
    "events_outside": (spec(events_outside=True), "outside the recording"),
    "channel_mismatch": (spec(channel_mismatch=True), "5 channels described but samples have 4"),
    "raise": (spec(**{"raise": True}), "truncated file"),
    "fs_zero": (spec(fs=0.0), "sampling rate must be"),
}


def _versions(path: Path) -> dict[str, int]:
    return {t: DeltaTable(path / t).version() for t in TABLES}


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    """A lake already holding one good recording."""
    path = tmp_path / "lake"
    ingest(path, SpecAdapter(path, specs={"seed": spec(subject="old")}), progress=False)
    return path


@pytest.mark.parametrize("kind", sorted(BAD))
def test_each_bad_unit_is_reported_and_the_rest_ingested(seeded: Path, kind: str) -> None:
    bad_spec, message = BAD[kind]
    specs = {"good1": spec(subject="g"), f"zz-{kind}": bad_spec, "good2": spec(subject="g")}
    report = ingest(seeded, SpecAdapter(seeded, specs=specs), progress=False)
    assert [k for k, _ in report.errors] == [f"zz-{kind}"]
    assert message in report.errors[0][1]
    assert len(report.added) == 2
    lake = Lake.open(seeded)
    assert sorted(lake.recordings()["trial"].to_list()) == ["good1", "good2", "seed"]


def test_abort_commits_nothing_and_leaves_the_lake_as_it_was(seeded: Path) -> None:
    before = Lake.open(seeded)
    seed_id = before.recordings()["recording_id"][0]
    seed_samples = before.read_samples(seed_id, physical=False)
    specs = {"a": spec(), "b": spec(), "c-bad": spec(nan=True, dtype="<f4"), "d": spec()}
    with pytest.raises(SourceError, match="NaN/Inf"):
        ingest(
            seeded,
            SpecAdapter(seeded, specs=specs),
            on_error="abort",
            progress=False,
            batch_recordings=1,
        )
    after = Lake.open(seeded)
    assert after.snapshot() == before.snapshot()
    assert after.recordings()["trial"].to_list() == ["seed"]
    np.testing.assert_array_equal(after.read_samples(seed_id, physical=False), seed_samples)
    # the same units without the bad one go in completely afterwards
    del specs["c-bad"]
    report = ingest(seeded, SpecAdapter(seeded, specs=specs), on_error="abort", progress=False)
    assert sorted(report.added) == sorted(
        build_recording(k, s).recording_id for k, s in specs.items()
    )
    assert Lake.open(seeded).recordings().height == 4


def test_skip_mode_leaves_existing_rows_unchanged(seeded: Path) -> None:
    before = Lake.open(seeded)
    rows_before = before.recordings()
    ingest(seeded, SpecAdapter(seeded, specs={"x": spec(empty=True)}), progress=False)
    after = Lake.open(seeded)
    assert after.recordings().equals(rows_before)
    assert after.snapshot() == before.snapshot()


def test_invalid_on_error_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="on_error"):
        ingest(tmp_path / "l", SpecAdapter(tmp_path, specs={}), on_error="ignore")


def test_checksum_mismatch_refuses_the_unit(tmp_path: Path) -> None:
    src = write_npy_source(tmp_path / "src", n_files=2)
    good = hashlib.sha256((src / "s0_t0.npy").read_bytes()).hexdigest()
    checksums = {"s0_t0.npy": good, "s1_t1.npy": "0" * 64}
    path = tmp_path / "lake"
    report = ingest(path, NpyAdapter(src), checksums=checksums, progress=False)
    assert [k for k, _ in report.errors] == ["s1_t1.npy"]
    assert "sha256 mismatch" in report.errors[0][1] and "s1_t1.npy" in report.errors[0][1]
    row = Lake.open(path).recordings().row(0, named=True)
    assert row["source_files"] == ["s0_t0.npy"] and row["source_sha256"] == [good]
    with pytest.raises(ChecksumError):
        ingest(
            tmp_path / "lake2",
            NpyAdapter(src),
            checksums=checksums,
            on_error="abort",
            progress=False,
        )
    assert not (tmp_path / "lake2").exists()  # an aborted first ingest leaves no empty lake
