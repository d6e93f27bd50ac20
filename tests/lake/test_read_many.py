"""``Lake.read_many``: many recordings' samples read in batches, equal sample for sample to
``Lake.read_samples`` (physical units, stored values, channel selection, harmonized
streams, a recording of several chunks), in the order asked, streaming batch by batch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from emgcorpus.errors import LakeError
from emgcorpus.harmonize import harmonize
from emgcorpus.ingest import ingest
from emgcorpus.lake import Lake
from emgcorpus.lake_cache import SignalFiles, clear_caches
from emgcorpus.lake_views import samples_view
from emgcorpus.schema import CHUNK_BYTES
from tests.lake.fakes import SpecAdapter, build_recording, spec

#: int16 recordings (gain 0.001, offset 2: scaled), float32 ones (stored as is), in two
#: datasets, and one int16 recording of three 4 MiB chunks.
SPECS = {f"i{i:02d}": spec(n=150 + 7 * i, n_ch=3, subject=f"s{i % 3}") for i in range(12)}
SPECS.update({f"f{i:02d}": spec(n=90 + i, n_ch=3, dtype="<f4", dataset="other") for i in range(5)})
SPECS["long"] = spec(n=600_000, n_ch=8, dtype="<i2", subject="s9", dataset="other")


@pytest.fixture(scope="module")
def lake_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("read_many") / "lake"
    report = ingest(path, SpecAdapter(path, specs=SPECS), progress=False, batch_recordings=6)
    assert len(report.added) == len(SPECS) and not report.errors
    harmonize(path, 100.0, method="scipy", datasets=["fake"], progress=False)
    return path


def _ids(*keys: str) -> list[str]:
    return [build_recording(k, SPECS[k]).recording_id for k in keys]


def test_the_lake_has_several_files_and_a_recording_of_several_chunks(lake_path: Path) -> None:
    lake = Lake.open(lake_path)
    assert len(lake.table("signals").file_uris()) >= 3
    (long_id,) = _ids("long")
    assert lake.read_chunks(long_id).num_rows == -(-600_000 * 8 * 2 // CHUNK_BYTES) == 3


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"physical": False}, {"channels": [2, 0]}, {"channels": [1], "physical": False}],
)
def test_every_recording_equals_read_samples(lake_path: Path, kwargs: dict[str, object]) -> None:
    clear_caches()
    lake = Lake.open(lake_path)
    ids = lake.recordings()["recording_id"].to_list()
    got = list(lake.read_many(ids, **kwargs))  # type: ignore[arg-type]
    assert [rid for rid, _ in got] == ids
    for rid, samples in got:
        expected = lake.read_samples(rid, **kwargs)  # type: ignore[arg-type]
        assert samples.dtype == expected.dtype and samples.shape == expected.shape
        np.testing.assert_array_equal(samples, expected)


def test_physical_units_and_stored_values_match_the_source(lake_path: Path) -> None:
    lake = Lake.open(lake_path)
    keys = ["long", "i03", "f02"]
    got = dict(lake.read_many(_ids(*keys)))
    raw = dict(lake.read_many(_ids(*keys), physical=False))
    for key, rid in zip(keys, _ids(*keys)):
        rec = build_recording(key, SPECS[key])
        np.testing.assert_array_equal(raw[rid], rec.samples)
        np.testing.assert_allclose(got[rid], rec.physical().astype(np.float32), rtol=1e-6)
    assert got[_ids("i03")[0]].dtype == np.float32 and raw[_ids("i03")[0]].dtype == np.int16
    assert not np.array_equal(got[_ids("i03")[0]], raw[_ids("i03")[0]])  # scaled: -2, x 0.001


def test_any_order_repeats_and_tiny_batches_give_the_same_samples(lake_path: Path) -> None:
    lake = Lake.open(lake_path)
    ids = _ids("f04", "long", "i00", "i11", "f04", "i05")
    for batch_bytes in (1, 5_000, 64 * 1024 * 1024):
        got = list(lake.read_many(ids, batch_bytes=batch_bytes))
        assert [rid for rid, _ in got] == ids
        for rid, samples in got:
            np.testing.assert_array_equal(samples, lake.read_samples(rid))


def test_a_harmonized_rate_reads_its_stream(lake_path: Path) -> None:
    lake = Lake.open(lake_path)
    ids = lake.recordings(["fake"])["recording_id"].to_list()
    for rid, samples in lake.read_many(ids, fs=100.0):
        expected = lake.read_samples(rid, fs=100.0)
        assert samples.dtype == np.dtype("<f4") and samples.shape[0] < SPECS["i11"]["n"]
        np.testing.assert_array_equal(samples, expected)
    with pytest.raises(LakeError, match="harmonize --fs 100"):
        list(lake.read_many(_ids("f00"), fs=100.0))


def test_batches_are_read_one_at_a_time(lake_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each batch is read when the consumer reaches it (memory: one batch), and a batch
    reads each row group holding its recordings once."""
    lake = Lake.open(lake_path)
    ids = _ids(*(f"i{i:02d}" for i in range(12)))
    sizes = [int(lake.read_samples(rid).nbytes) for rid in ids]  # growing with the index
    reads: list[tuple[object, int]] = []
    batches: list[int] = []
    inner_batch, inner_groups = Lake._read_batch, Lake._batch_row_groups

    def read_batch(self: Lake, plans: list) -> object:  # type: ignore[type-arg]
        batches.append(len(plans))
        return inner_batch(self, plans)

    def row_groups(self: Lake, seqs: np.ndarray) -> object:
        for pf, groups in inner_groups(self, seqs):
            reads.extend((pf, g) for g in groups)
            yield pf, groups

    monkeypatch.setattr(Lake, "_read_batch", read_batch)
    monkeypatch.setattr(Lake, "_batch_row_groups", row_groups)
    it = lake.read_many(ids, batch_bytes=sum(sizes[:3]))
    next(it)
    assert batches == [3]
    rest = list(it)
    assert len(rest) == 11 and sum(batches) == 12 and max(batches) <= 3
    reads.clear()
    list(lake.read_many(ids))  # one batch: each row group once, shared by its recordings
    assert len({(id(pf), g) for pf, g in reads}) == len(reads)
    assert 0 < len(reads) < sum(len(lake._row_groups(rid)) for rid in ids)


def test_unknown_recordings_and_channels_are_named(lake_path: Path) -> None:
    lake = Lake.open(lake_path)
    with pytest.raises(LakeError, match="no recording 'nope'"):
        list(lake.read_many([*_ids("i00"), "nope"]))
    with pytest.raises(LakeError, match=r"channel indices \[3\]"):
        list(lake.read_many(_ids("i00"), channels=[0, 3]))
    with pytest.raises(LakeError, match="batch_bytes"):
        list(lake.read_many(_ids("i00"), batch_bytes=0))
    assert list(lake.read_many([])) == []


def test_iter_many_and_the_samples_view_give_the_chunks_of_iter_samples(lake_path: Path) -> None:
    lake = Lake.open(lake_path)
    ids = _ids("long", "i01", "f03")
    for rid, blocks in lake.iter_many(ids):
        got, expected = list(blocks), list(lake.iter_samples(rid))
        assert len(got) == len(expected) == (3 if rid == ids[0] else 1)
        for a, b in zip(got, expected):
            assert a.dtype == b.dtype == np.float32
            np.testing.assert_array_equal(a, b)
    view = samples_view(lake, ids)
    for rid in ids:
        mine = view.filter(pc.equal(view["recording_id"], rid))
        x = lake.read_samples(rid)
        n_chunks = len(list(lake.iter_samples(rid)))
        assert sorted(set(mine["chunk_index"].to_pylist())) == list(range(n_chunks))
        for c in range(x.shape[1]):
            rows = mine.filter(pc.equal(mine["channel_index"], c)).sort_by("chunk_index")
            values = np.concatenate(
                [np.asarray(v, np.float32) for v in rows["samples"].to_pylist()]
            )
            np.testing.assert_array_equal(values, x[:, c])


def test_rows_read_in_any_order_give_the_same_samples(
    lake_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows reaching a batch out of (seq, chunk) order, as files of another writer could
    hold them (here: files, row groups and rows read backwards), are put in order."""
    lake = Lake.open(lake_path)
    ids = lake.recordings()["recording_id"].to_list()
    expected = {rid: lake.read_samples(rid) for rid in ids}
    files, batches = SignalFiles.holding_any, pq.ParquetFile.iter_batches
    seen: list[int] = []

    def backwards_files(self: SignalFiles, seqs: np.ndarray) -> list[str]:
        return files(self, seqs)[::-1]

    def backwards_rows(self: pq.ParquetFile, *args: Any, **kwargs: Any) -> Iterator[pa.RecordBatch]:
        for batch in reversed(list(batches(self, *args, **kwargs))):
            seen.append(batch.num_rows)
            yield batch.take(pa.array(range(batch.num_rows - 1, -1, -1)))

    monkeypatch.setattr(SignalFiles, "holding_any", backwards_files)
    monkeypatch.setattr(pq.ParquetFile, "iter_batches", backwards_rows)
    for rid, samples in lake.read_many(ids):
        np.testing.assert_array_equal(samples, expected[rid])
    assert sum(seen) >= len(ids) + 2  # every row went through the backwards reader
