"""vocab.lake_partitions.PartitionReader: a partition's samples come from Lake.read_many in
the order planned, any other request from Lake.read_samples, equal either way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vocab.lake_partitions import (
    PartitionReader,
    open_lake,
    plan_partitions,
    segment_partition,
    segment_recording,
    tokenized_channels,
)
from vocab.tokenizers import get_tokenizer


def _alone(lake: Any, rid: str, keep: list[int]) -> np.ndarray:
    return np.asarray(lake.read_samples(rid, channels=keep, physical=True))


def test_planned_reads_come_from_read_many_and_others_are_read_alone(
    sim_lake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = open_lake(sim_lake)
    rids = sorted(lake.recordings()["recording_id"].to_list())
    keeps = {rid: tokenized_channels(lake.channel_infos(rid)) for rid in rids}
    expected = {rid: _alone(lake, rid, keeps[rid]) for rid in rids}
    alone: list[str] = []
    read_samples = lake.read_samples

    def counted(rid: str, *args: Any, **kw: Any) -> np.ndarray:
        alone.append(rid)
        return np.asarray(read_samples(rid, *args, **kw))

    monkeypatch.setattr(lake, "read_samples", counted)
    reader = PartitionReader(lake, rids, None)
    for rid in rids:  # in the planned order: no read alone
        x = reader.read(rid, keeps[rid])
        assert x.dtype == expected[rid].dtype and np.array_equal(x, expected[rid])
    assert alone == []
    a, b, c = rids[:3]
    reader = PartitionReader(lake, [a, b, c], None)
    got = [(r, reader.read(r, keeps[r])) for r in (b, a, a, c)]  # b and the 2nd a: unplanned
    assert alone == [b, a, c]  # c: b was planned next
    assert all(np.array_equal(x, expected[r]) for r, x in got)


def test_segment_partition_reads_each_recording_once_through_the_plan(
    sim_lake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = open_lake(sim_lake)
    plan = plan_partitions(lake.recordings(), 16, None, None)
    refs = [plan.refs[i] for i in plan.partitions[0]]
    nfs = [plan.native_fs[i] for i in plan.partitions[0]]
    tokenizer = get_tokenizer("nct")
    assert len({r.session for r in refs}) == len(refs)  # a session each: floors of its own
    alone = [  # each recording read by Lake.read_samples and segmented alone
        segment_recording(lake, r, tokenizer, None, f)[0].descriptor.tobytes()
        for r, f in zip(refs, nfs)
    ]
    asked: list[str] = []
    read_many = lake.read_many

    def many(ids: list[str], *args: Any, **kw: Any) -> Any:
        asked.extend(ids)
        return read_many(ids, *args, **kw)

    monkeypatch.setattr(lake, "read_many", many)
    monkeypatch.setattr(lake, "read_samples", None)  # never called: every read is planned
    items = list(segment_partition(lake, refs, nfs, tokenizer, None))
    assert asked == [r.recording_id for r in refs] and len(refs) > 1
    assert [s.descriptor.tobytes() for _, s, *_ in items] == alone
