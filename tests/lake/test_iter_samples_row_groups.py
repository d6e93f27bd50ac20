"""A recording whose chunks lie in several Parquet row groups reads whole, streamed or not
(``iter_samples``, ``read_many``, ``iter_many``).

Regression: ``Lake.iter_samples`` checked each row group's chunks as if they were the whole
stream, so a recording spanning row groups failed with "N samples stored, M expected" (the
quick start's 64-channel simulated device, in ``harmonize``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import emgcorpus.signal_writer as signal_writer
from emgcorpus.harmonize import harmonize
from emgcorpus.ingest import ingest
from emgcorpus.lake import Lake
from tests.lake.fakes import SpecAdapter, build_recording, spec

SPECS = {
    "long": spec(n=600_000, n_ch=8, dtype="<i2", subject="s1"),  # three 4 MiB chunks
    "short": spec(n=500, n_ch=8, dtype="<i2", subject="s2"),
}


def test_a_recording_over_several_row_groups_streams_and_harmonizes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(signal_writer, "SIGNAL_ROW_GROUP_ROWS", 1)  # one chunk per row group
    path = tmp_path / "lake"
    report = ingest(path, SpecAdapter(path, specs=SPECS), progress=False)
    assert not report.errors
    lake = Lake.open(path)
    (long_id,) = [build_recording("long", SPECS["long"]).recording_id]
    groups = sum(
        pq.ParquetFile(uri.removeprefix("file://")).metadata.num_row_groups
        for uri in lake.table("signals").file_uris()
    )
    assert lake.read_chunks(long_id).num_rows == 3 and groups >= 3
    whole = lake.read_samples(long_id)
    blocks = list(lake.iter_samples(long_id))
    assert len(blocks) == 3
    np.testing.assert_array_equal(np.concatenate(blocks), whole)
    ids = [long_id, build_recording("short", SPECS["short"]).recording_id]
    for rid, x in lake.read_many(ids, batch_bytes=1024):
        np.testing.assert_array_equal(x, lake.read_samples(rid))
    for rid, chunks in lake.iter_many(ids):
        np.testing.assert_array_equal(np.concatenate(list(chunks)), lake.read_samples(rid))
    result = harmonize(path, 100.0, method="scipy", progress=False)
    assert long_id in result["added"]
    assert Lake.open(path).read_samples(long_id, fs=100.0).shape[0] > 0
