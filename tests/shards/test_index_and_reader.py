"""The shard package on hand-written shards: the index written and read, writer, reader."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from emgcorpus.checksums import file_sha256
from emgcorpus.errors import LakeError, SourceError
from emgcorpus.shards.index import FORMAT, INDEX_FILE, read_index, write_index
from emgcorpus.shards.reader import ShardRows, ShardSet, read_dataset_recordings
from emgcorpus.shards.schema import DESC_COLUMN, SHARD_SCHEMA_WITHOUT_DESC
from emgcorpus.shards.verify import verify_shards
from emgcorpus.shards.writer import sentence_rows, write_partition_shards
from emgcorpus.topology import POSITION_DIM

RECORDING = {
    "recording_id": "toy-s1-1-1",
    "dataset": "toy",
    "device": "toy",
    "subject": "s1",
    "session": "1",
    "trial": "1",
}


def _rows(n_tokens: int = 7, max_tokens: int = 3, desc: np.ndarray | None = None) -> list[dict]:
    onset = np.arange(n_tokens, dtype=np.float64) * 0.5
    events = [
        {"onset": 0.0, "duration": 1.0, "label": "a", "repetition": 1, "kind": "gesture"},
        {"onset": 2.5, "duration": 1.0, "label": "b", "repetition": None, "kind": "gesture"},
    ]
    return sentence_rows(
        RECORDING,
        2,
        np.arange(12, 12 + n_tokens, dtype=np.int32),
        (np.arange(n_tokens) % 2).astype(np.int16),
        onset,
        np.full(n_tokens, 0.25),
        np.ones((n_tokens, POSITION_DIM), np.float32),
        events,
        max_tokens,
        desc,
    )


def test_sentences_carry_the_events_they_overlap() -> None:
    rows = _rows()
    assert [len(r["token_ids"]) for r in rows] == [3, 3, 1]
    assert [r["sentence_index"] for r in rows] == [0, 1, 2]
    assert [[e["label"] for e in r["events"]] for r in rows] == [["a"], ["b"], ["b"]]
    assert rows[1]["t_start_s"] == 1.5 and rows[1]["t_end_s"] == 2.75


def test_written_index_reads_back_and_verifies(tmp_path: Path) -> None:
    entries = write_partition_shards(_rows(), tmp_path, 0, max_rows=2)
    assert [e["file"] for e in entries] == ["part-00000-000.parquet", "part-00000-001.parquet"]
    (tmp_path / "part-00007-000.parquet").write_bytes(b"stale")
    index = write_index(tmp_path, {"vocab_id": "v", "vocab_size": 20}, entries, 1)
    assert not (tmp_path / "part-00007-000.parquet").exists()
    assert read_index(tmp_path) == json.loads((tmp_path / INDEX_FILE).read_text()) == index
    assert index["format"] == FORMAT and index["totals"]["tokens"] == 7
    assert verify_shards(tmp_path) == []
    shards = ShardSet.open(tmp_path)
    assert shards.vocab_id == "v" and shards.vocab_size() == 20
    assert [len(k) for k in shards.kept_rows(min_tokens=2)] == [2, 0]
    row = ShardRows(shards.files[0]).row(1, None, np.random.default_rng(0))
    assert row["token_ids"].tolist() == [15, 16, 17] and row["onset_s"][0] == 0.0
    (rec,) = read_dataset_recordings(shards, "toy")
    assert rec.tokens.ids.tolist() == list(range(12, 19)) and rec.end_s == 3.25
    assert [e["label"] for e in rec.events] == ["a", "b"]


def test_index_without_the_format_is_refused_by_every_reader(tmp_path: Path) -> None:
    """index.json is written in one place (write_index); a hand-made bare index is refused."""
    entries = write_partition_shards(_rows(), tmp_path, 0, max_rows=10)
    (tmp_path / INDEX_FILE).write_text(json.dumps({"shards": entries}))
    with pytest.raises(LakeError, match="expected a emgcorpus.shards/1 index"):
        read_index(tmp_path)
    with pytest.raises(LakeError, match="expected a emgcorpus.shards/1 index"):
        ShardSet.open(tmp_path)
    (tmp_path / INDEX_FILE).write_text("{")
    with pytest.raises(LakeError, match="not valid JSON"):
        ShardSet.open(tmp_path)
    write_index(tmp_path, {"vocab_id": "v"}, [{**entries[0], "file": "gone.parquet"}], 1)
    with pytest.raises(SourceError, match="lists shards that do not exist"):
        ShardSet.open(tmp_path)


def test_folder_without_an_index_is_an_unfinished_tokenization(tmp_path: Path) -> None:
    """A tokenize killed before index.json leaves Parquet files the trainer must not read."""
    write_partition_shards(_rows(), tmp_path, 0, max_rows=10)
    assert list(tmp_path.glob("*.parquet"))
    with pytest.raises(LakeError, match="no index.json beside 1 Parquet file.*unfinished"):
        ShardSet.open(tmp_path)


def test_descriptors_round_trip_and_shards_without_them_still_read(tmp_path: Path) -> None:
    desc = np.arange(14, dtype=np.float32).reshape(7, 2)
    desc[3] = np.nan  # a rest token
    (tmp_path / "d").mkdir()
    (tmp_path / "n").mkdir()
    entries = write_partition_shards(_rows(desc=desc), tmp_path / "d", 0, max_rows=10)
    write_index(tmp_path / "d", {"vocab_id": "v", "descriptor_dim": 2}, entries, 1)
    shards = ShardSet.open(tmp_path / "d")
    assert shards.descriptor_dim == 2
    row = ShardRows(shards.files[0]).row(1, None, np.random.default_rng(0))
    np.testing.assert_array_equal(row["desc"], desc[3:6])  # NaN kept
    (rec,) = read_dataset_recordings(shards, "toy")
    assert rec.tokens.desc is not None
    np.testing.assert_array_equal(rec.tokens.desc, desc)
    assert rec.tokens.between(1.0, 2.0)["desc"].shape == (2, 2)
    # written without descriptors (as before the column): ids only, nothing breaks
    entries = write_partition_shards(_rows(), tmp_path / "n", 0, max_rows=10)
    write_index(tmp_path / "n", {"vocab_id": "v"}, entries, 1)
    plain = ShardSet.open(tmp_path / "n")
    assert plain.descriptor_dim == 0
    assert "desc" not in ShardRows(plain.files[0]).row(0, None, np.random.default_rng(0))
    (rec,) = read_dataset_recordings(plain, "toy")
    assert rec.tokens.desc is None and "desc" not in rec.tokens.between(0.0, 9.0)
    with pytest.raises(ValueError, match="rows for"):
        _rows(desc=desc[:3])
    # a shard file of the format before token_desc still reads and verifies
    old = tmp_path / "old"
    old.mkdir()
    table = pq.read_table(plain.files[0]).drop_columns([DESC_COLUMN])
    assert table.schema.equals(SHARD_SCHEMA_WITHOUT_DESC)
    pq.write_table(table, old / "part-00000-000.parquet")
    entry = {**entries[0], "sha256": file_sha256(old / "part-00000-000.parquet")}
    write_index(old, {"vocab_id": "v"}, [entry], 1)
    assert verify_shards(old) == []
    (rec,) = read_dataset_recordings(ShardSet.open(old), "toy")
    assert rec.tokens.desc is None and rec.tokens.ids.tolist() == list(range(12, 19))
