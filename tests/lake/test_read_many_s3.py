"""``Lake.read_many`` on a lake in an S3 object store (moto's server, the fixtures of
``test_object_store``): the batched read opens the files through the store and returns
what ``read_samples`` does."""

from __future__ import annotations

import json

import numpy as np

from emgcorpus.lake import Lake
from tests.lake import test_object_store as object_store

s3_server = object_store.s3_server
s3 = object_store.s3


def test_read_many_on_an_s3_lake(s3: object_store.Store) -> None:
    code, out = object_store._run(s3.lake, "ingest", "sim", "builtin", *object_store.SIM, "--json")
    assert code == 0, out
    assert len(json.loads(out)["added"]) == 2
    lake = Lake.open(s3.lake)
    ids = lake.recordings()["recording_id"].to_list()
    for kwargs in ({}, {"physical": False, "channels": [7, 0]}):
        got = list(lake.read_many([*reversed(ids), ids[0]], **kwargs))  # type: ignore[arg-type]
        assert [rid for rid, _ in got] == [*reversed(ids), ids[0]]
        for rid, samples in got:
            expected = lake.read_samples(rid, **kwargs)  # type: ignore[arg-type]
            assert samples.dtype == expected.dtype and samples.shape == expected.shape
            assert samples.shape[0] == int(lake.recording_row(rid)["n_samples"]) > 0
            np.testing.assert_array_equal(samples, expected)
