"""Batched ingest of many small recordings: the same lake as one recording at a time.

Ingest gathers small recordings (one ``signals`` chunk each) into one record batch,
stages the metadata tables of a batch with one staging-list update, and hashes a source
file several units share once while it is unchanged. These tests pin down that none of
this changes what the lake holds.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from emgcorpus.checksums import file_sha256
from emgcorpus.chunk_codec import chunk_batches, one_chunk, rows_per_chunk, whole_streams_batch
from emgcorpus.errors import ChecksumError
from emgcorpus.ingest import ingest
from emgcorpus.lake import Lake
from emgcorpus.lake_writer import delta_table, read_snapshot
from emgcorpus.recording import Adapter, ChannelInfo, Recording, SourceUnit
from emgcorpus.schema import RAW_STREAM, SIGNALS
from tests.lake.fakes import SpecAdapter, build_recording, spec

#: Many small recordings (one chunk each) with, in between, recordings of several chunks
#: (64 float32 channels: 16384 samples a chunk), one of one chunk but over 1 MiB (not
#: gathered), other dtypes and channel counts, a big-endian one and a second dataset: the
#: gathered streams must be flushed before each other stream and at each change of
#: dataset, keeping the ingest order.
SPECS: dict[str, dict[str, Any]] = {
    **{f"a{i:03d}": spec(n=200 + i, n_ch=8, subject=f"s{i % 7}") for i in range(60)},
    "b-long": spec(n=40000, n_ch=64, fs=2000.0, dtype="<f4", subject="s1"),
    **{f"c{i:03d}": spec(n=50 + 3 * i, n_ch=3, dtype="<u2", subject="s2") for i in range(25)},
    "d-big-endian": spec(n=321, n_ch=2, dtype=">f8", subject="s3"),
    "d-one-chunk-1.3MB": spec(n=5000, n_ch=64, fs=2000.0, dtype="<f4", subject="s3"),
    "e-other": spec(n=99, n_ch=4, dataset="fake2", subject="s9"),
    "f-long-again": spec(n=16385, n_ch=64, fs=2000.0, dtype="<f4", subject="s4"),
    **{f"g{i:03d}": spec(n=300, n_ch=16, dtype="<i4", subject=f"s{i % 3}") for i in range(30)},
}


def _table_rows(lake: Path, table: str, version: int) -> list[dict[str, Any]]:
    """Every row of ``table`` at ``version``, payload bytes as their sha256, in a fixed
    order (the lake does not promise a row order across files)."""
    rows = delta_table(lake, table, version).to_pyarrow_table().to_pylist()
    out = [
        {k: hashlib.sha256(v).hexdigest() if isinstance(v, bytes) else v for k, v in r.items()}
        for r in rows
    ]
    return sorted(out, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def _contents(lake: Path) -> dict[str, list[dict[str, Any]]]:
    return {t: _table_rows(lake, t, v) for t, v in read_snapshot(lake).items()}


@pytest.fixture(scope="module")
def lakes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The SPECS ingested in batches (defaults) and one recording per batch."""
    root = tmp_path_factory.mktemp("batching")
    batched, single = root / "batched", root / "single"
    for path, kw in ((batched, {}), (single, {"batch_recordings": 1})):
        report = ingest(path, SpecAdapter(path, specs=SPECS), progress=False, **kw)
        assert len(report.added) == len(SPECS) and not report.errors
    return batched, single


def test_batched_ingest_equals_one_by_one(lakes: tuple[Path, Path]) -> None:
    batched, single = lakes
    a, b = _contents(batched), _contents(single)
    assert a.keys() == b.keys()
    for table in a:
        assert a[table] == b[table], table
    assert len(a["signals"]) > len(SPECS)  # the long recordings have several chunks
    assert len(a["channels"]) == sum(s["n_ch"] for s in SPECS.values())


def test_batched_signals_keep_ingest_order(lakes: tuple[Path, Path]) -> None:
    """Within each ``signals`` file the rows run in ingest order (seq, then chunk)."""
    batched, _ = lakes
    dt = delta_table(batched, "signals", read_snapshot(batched)["signals"])
    files = dt.file_uris()
    assert files
    for uri in files:
        t = pq.read_table(uri, columns=["seq", "chunk_index", "start_sample"])
        order = list(zip(t["seq"].to_pylist(), t["chunk_index"].to_pylist()))
        assert order == sorted(order)
        assert len(set(order)) == len(order)


@pytest.mark.parametrize(
    "key", ["a000", "a059", "b-long", "d-big-endian", "d-one-chunk-1.3MB", "e-other", "g029"]
)
def test_batched_samples_come_back_exactly(lakes: tuple[Path, Path], key: str) -> None:
    expected = build_recording(key, SPECS[key])
    lake = Lake.open(lakes[0])
    np.testing.assert_array_equal(
        lake.read_samples(expected.recording_id, physical=False), expected.samples
    )


def _batch_rows(batches: list[pa.RecordBatch]) -> list[dict[str, Any]]:
    return pa.Table.from_batches(batches, schema=SIGNALS).to_pylist()


def test_whole_streams_batch_equals_chunk_batches() -> None:
    rng = np.random.default_rng(0)
    streams = [
        ("r1", 5, rng.integers(-9, 9, (200, 8)).astype("<i2")),
        ("r2", 6, rng.standard_normal((17, 3)).astype(">f8")),  # big-endian
        ("r3", 7, np.asfortranarray(rng.integers(0, 9, (40, 5)).astype("<u2"))),
        ("r4", 9, rng.standard_normal((1, 1)).astype("<f4")),
    ]
    limit = rows_per_chunk(4, np.dtype("<f4"))
    streams.append(("r5", 10, np.zeros((limit, 4), "<f4")))  # exactly one chunk
    whole = whole_streams_batch(streams, "ds", RAW_STREAM)
    each = [b for rid, seq, x in streams for b in chunk_batches(rid, seq, "ds", RAW_STREAM, x)]
    assert _batch_rows([whole]) == _batch_rows(each)
    assert whole.num_rows == len(streams)


def test_whole_streams_batch_refuses_a_stream_of_several_chunks() -> None:
    limit = rows_per_chunk(4, np.dtype("<f4"))
    assert one_chunk(np.zeros((limit, 4), "<f4"))
    assert not one_chunk(np.zeros((limit + 1, 4), "<f4"))
    assert not one_chunk(np.zeros((0, 4), "<f4"))
    with pytest.raises(ValueError, match="one chunk"):
        whole_streams_batch([("r", 0, np.zeros((limit + 1, 4), "<f4"))], "ds", RAW_STREAM)


class SharedFileAdapter(Adapter):
    """``u<i>.bin`` units (int16, 2 channels) that each also list ``shared.txt``; reading
    unit ``options["change_at"]`` rewrites ``shared.txt`` (a source changed mid-ingest)."""

    name = "shared-file"
    summary = "test adapter whose units share a file"

    def discover(self) -> list[SourceUnit]:
        shared = self.source / "shared.txt"
        return [SourceUnit(p.name, (p, shared)) for p in sorted(self.source.glob("u*.bin"))]

    def read(self, unit: SourceUnit) -> Recording:
        if unit.key == self.options.get("change_at"):
            (self.source / "shared.txt").write_text("changed, and longer than before\n")
        x = np.fromfile(unit.files[0], "<i2").reshape(-1, 2)
        return Recording(
            dataset=self.dataset,
            subject="s1",
            session="1",
            trial=unit.key,
            device="test",
            fs=100.0,
            channels=[ChannelInfo(f"c{i}", units="uV") for i in range(2)],
            samples=x,
        )


def _shared_source(root: Path, n: int = 4) -> tuple[Path, dict[str, str]]:
    root.mkdir(parents=True)
    (root / "shared.txt").write_text("demographics\n")
    for i in range(n):
        np.arange(100 * (i + 1), dtype="<i2").tofile(root / f"u{i}.bin")
    return root, {p.name: file_sha256(p) for p in root.iterdir()}


def test_a_shared_file_is_recorded_with_its_sha256_for_every_unit(tmp_path: Path) -> None:
    source, sums = _shared_source(tmp_path / "src")
    report = ingest(tmp_path / "lake", SharedFileAdapter(source), checksums=sums, progress=False)
    assert len(report.added) == 4 and not report.errors
    recs = Lake.open(tmp_path / "lake").recordings().sort("unit_key")
    for unit, files, shas in recs.select("unit_key", "source_files", "source_sha256").iter_rows():
        assert files == [unit, "shared.txt"]
        assert shas == [sums[unit], sums["shared.txt"]]


def test_a_shared_file_changed_during_the_ingest_is_hashed_again(tmp_path: Path) -> None:
    """Unit u1.bin rewrites shared.txt while it is read: the units after it find it changed
    (a hash kept from before the change would let them through)."""
    source, sums = _shared_source(tmp_path / "src")
    adapter = SharedFileAdapter(source, change_at="u1.bin")
    report = ingest(tmp_path / "lake", adapter, checksums=sums, progress=False)
    assert [k for k, _ in report.errors] == ["u2.bin", "u3.bin"]
    assert all("shared.txt" in m for _, m in report.errors)
    assert len(report.added) == 2
    with pytest.raises(ChecksumError, match="shared.txt"):
        ingest(tmp_path / "lake2", SharedFileAdapter(source), checksums=sums, on_error="abort")
