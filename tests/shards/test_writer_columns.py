"""The shard writer's column-wise table against the row-wise construction it replaced."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from emgcorpus.shards.schema import DESC_COLUMN, SHARD_SCHEMA
from emgcorpus.shards.writer import PARQUET_OPTIONS, rows_to_table, sentence_rows
from emgcorpus.topology import POSITION_DIM

LIST_COLUMNS = [f.name for f in SHARD_SCHEMA if pa.types.is_list(f.type) and f.name != "events"]


def _row_wise(rows: list[dict[str, Any]]) -> pa.Table:
    """The former rows_to_table: every row's arrays as Python lists, converted by pyarrow."""
    columns = {}
    for field in SHARD_SCHEMA:
        values = [r.get(field.name) if field.name == DESC_COLUMN else r[field.name] for r in rows]
        if pa.types.is_list(field.type) and field.name != "events":
            values = [None if v is None else np.asarray(v).tolist() for v in values]
        columns[field.name] = pa.array(values, type=field.type)
    return pa.table(columns, schema=SHARD_SCHEMA)


def _parquet(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, **PARQUET_OPTIONS)
    return buf.getvalue()


def _random_rows(rng: np.random.Generator, n_rec: int, desc: bool) -> list[dict[str, Any]]:
    """Rows of ``n_rec`` random recordings through sentence_rows (sentences of 1 to 7
    tokens, one-token recordings among them), with NaN-holed descriptors or none."""
    rows: list[dict[str, Any]] = []
    for r in range(n_rec):
        n = int(rng.choice([1, int(rng.integers(1, 40))]))
        onset = np.sort(rng.uniform(0, 20, n))
        events = [
            {
                "onset": float(t),
                "duration": float(rng.uniform(0.1, 3)),
                "label": f"g{rng.integers(5)}",
                "repetition": None if rng.random() < 0.3 else int(rng.integers(1, 6)),
                "kind": "gesture",
            }
            for t in np.sort(rng.uniform(0, 20, int(rng.integers(0, 5))))
        ]
        d = None
        if desc:
            d = rng.normal(size=(n, 3)).astype(np.float32)
            d[rng.random((n, 3)) < 0.2] = np.nan
        recording = {
            "recording_id": f"sim-{r}",
            "dataset": "sim",
            "device": "ring16",
            "subject": f"s{r % 3}",
            "session": "1",
            "trial": str(r),
        }
        rows += sentence_rows(
            recording,
            16,
            rng.integers(0, 70000, n).astype(np.int64) % 2**31,
            rng.integers(-1, 16, n).astype(np.int16),
            onset,
            rng.uniform(0.01, 0.5, n),
            rng.normal(size=(n, POSITION_DIM)).astype(np.float32),
            events,
            int(rng.integers(1, 8)),
            d,
        )
    return rows


def _empty_sentence(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with no tokens (every per-token array empty, events kept)."""
    out = dict(row)
    for name in LIST_COLUMNS:
        if out.get(name) is not None:
            out[name] = np.asarray(out[name])[:0]
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("desc", ["with", "without", "mixed"])
def test_column_wise_table_equals_the_row_wise_one(seed: int, desc: str) -> None:
    rng = np.random.default_rng(seed)
    rows = _random_rows(rng, 12, desc != "without")
    if desc == "mixed":  # some rows lack the descriptors (None or no key at all)
        rows[1][DESC_COLUMN] = None
        del rows[-1][DESC_COLUMN]
    rows.insert(2, _empty_sentence(rows[0]))
    rows.append(_empty_sentence(rows[-1]))
    assert any(len(r["token_ids"]) == 1 for r in rows) and any(len(r["events"]) for r in rows)
    new, old = rows_to_table(rows), _row_wise(rows)
    assert new.schema == SHARD_SCHEMA
    for name in new.column_names:
        if name != DESC_COLUMN:
            assert new.column(name).equals(old.column(name)), name
    a, b = new.column(DESC_COLUMN).combine_chunks(), old.column(DESC_COLUMN).combine_chunks()
    assert a.is_null().equals(b.is_null()) and a.offsets.equals(b.offsets)
    np.testing.assert_array_equal(a.values.to_numpy(False), b.values.to_numpy(False))  # NaNs
    assert _parquet(new) == _parquet(old)  # the same file bytes


def test_no_rows_and_only_empty_sentences_give_the_row_wise_table() -> None:
    rows = _random_rows(np.random.default_rng(3), 1, True)[:1]
    for sample in ([], [_empty_sentence(rows[0])], [_empty_sentence(rows[0])] * 3):
        new, old = rows_to_table(sample), _row_wise(sample)
        assert new.equals(old) and new.num_rows == len(sample)
        assert _parquet(new) == _parquet(old)


def test_bad_token_arrays_are_refused_naming_the_column() -> None:
    row = _random_rows(np.random.default_rng(4), 1, False)[0]
    with pytest.raises(ValueError, match="token_pos: a row holds a 2-d array"):
        rows_to_table([{**row, "token_pos": np.zeros((2, POSITION_DIM), np.float32)}])
    with pytest.raises(pa.ArrowInvalid, match="32767"):
        rows_to_table([{**row, "token_channel": np.array([40000])}])
