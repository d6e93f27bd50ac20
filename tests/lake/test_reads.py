"""Per-recording reads: indexed metadata shared by every Lake of a process, row-group pruning,
files the lake writes that other Delta readers read, and the bulk iterator."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from emgcorpus.ingest import ingest
from emgcorpus.lake import Lake
from emgcorpus.lake_cache import parquet_footer
from emgcorpus.schema import SIGNAL_ROW_GROUP_ROWS
from tests.lake.fakes import SpecAdapter, build_recording, spec

#: 40 small recordings (one chunk each) in two ingest batches, and one of several chunks.
SPECS = {f"r{i:03d}": spec(n=200 + i, n_ch=3, subject=f"s{i % 4}") for i in range(40)}
SPECS["big"] = spec(n=300_000, n_ch=8, dtype="<i2", subject="s9")


@pytest.fixture(scope="module")
def lake_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("reads") / "lake"
    report = ingest(path, SpecAdapter(path, specs=SPECS), progress=False, batch_recordings=21)
    assert len(report.added) == len(SPECS) and not report.errors
    return path


def test_every_lake_of_the_process_shares_one_index(lake_path: Path) -> None:
    a, b = Lake.open(lake_path), Lake.open(lake_path, snapshot=Lake.open(lake_path).snapshot())
    for name in ("recordings", "channels", "events", "subjects", "harmonized"):
        assert a._index(name) is b._index(name)
    rid = build_recording("r007", SPECS["r007"]).recording_id
    rows = a.channels(rid)
    assert rows["recording_id"].unique().to_list() == [rid]
    assert rows["channel_index"].to_list() == [0, 1, 2]
    assert a.channels().height == sum(s["n_ch"] for s in SPECS.values())
    assert a.channels(rid).equals(
        a.channels().filter(pl.col("recording_id") == rid).sort("channel_index")
    )


def test_a_recording_read_touches_one_file_and_its_row_groups(lake_path: Path) -> None:
    lake = Lake.open(lake_path)
    assert len(lake.table("signals").file_uris()) >= 2  # two batches, two files
    for key in ("r000", "r030", "big"):
        rid = build_recording(key, SPECS[key]).recording_id
        files = lake.signal_files(rid)
        assert len(files) == 1
        footer = parquet_footer(lake_path / "signals" / files[0])
        seq = int(lake.recording_row(rid)["seq"])
        groups = footer.row_groups_holding(seq)
        chunks = lake.read_chunks(rid).num_rows
        assert len(groups) <= chunks // SIGNAL_ROW_GROUP_ROWS + 2
        assert len(groups) < footer.meta.num_row_groups or key == "big"


def test_samples_and_iter_recordings_match_the_source(lake_path: Path) -> None:
    lake = Lake.open(lake_path)
    keys = ["big", "r001", "r039"]
    ids = [build_recording(k, SPECS[k]).recording_id for k in keys]
    for key, rec in zip(keys, lake.iter_recordings(ids)):
        expected = build_recording(key, SPECS[key])
        assert rec.recording_id == expected.recording_id
        np.testing.assert_allclose(rec.samples, expected.physical().astype(np.float32), rtol=1e-6)
        raw = lake.read_samples(rec.recording_id, channels=[2, 0], physical=False)
        np.testing.assert_array_equal(raw, expected.samples[:, [2, 0]])
    assert len(list(lake.iter_recordings())) == len(SPECS)


def test_signal_files_are_plain_delta_for_other_readers(lake_path: Path) -> None:
    """Files the lake writes itself carry Delta statistics and read with delta-rs/polars."""
    dt = DeltaTable(lake_path / "signals")
    actions = pl.DataFrame(dt.get_add_actions(flatten=True))
    assert actions["min.seq"].null_count() == 0 and actions["num_records"].sum() > len(SPECS)
    rid = build_recording("r005", SPECS["r005"]).recording_id
    scanned = pl.scan_delta(str(lake_path / "signals")).filter(pl.col("recording_id") == rid)
    frame = scanned.select("dataset", "seq", "n_samples").collect()
    assert frame.rows() == [("fake", int(Lake.open(lake_path).recording_row(rid)["seq"]), 205)]
    for uri in dt.file_uris():
        meta = pq.read_metadata(uri)
        assert max(meta.row_group(i).num_rows for i in range(meta.num_row_groups)) <= (
            SIGNAL_ROW_GROUP_ROWS
        )


def test_a_lake_recreated_at_the_same_path_is_not_served_stale(tmp_path: Path) -> None:
    path = tmp_path / "lake"
    first = {"x": spec(n=100, subject="a")}
    ingest(path, SpecAdapter(path, specs=first), progress=False)
    assert Lake.open(path).recordings()["subject"].to_list() == ["a"]
    shutil.rmtree(path)
    second = {"x": spec(n=100, subject="b"), "y": spec(n=50, subject="b")}
    ingest(path, SpecAdapter(path, specs=second), progress=False)
    lake = Lake.open(path)
    assert lake.recordings()["subject"].to_list() == ["b", "b"]
    rid = build_recording("y", second["y"]).recording_id
    assert lake.read_samples(rid).shape == (50, 4)
