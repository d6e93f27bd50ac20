"""Faults: SIGKILL mid-ingest leaves the previous snapshot visible; one writer at a time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from deltalake import DeltaTable

from emgcorpus.errors import LakeError
from emgcorpus.harmonize import harmonize
from emgcorpus.ingest import ingest
from emgcorpus.lake import Lake
from emgcorpus.lake_writer import LakeWriter
from emgcorpus.verify import verify_lake
from tests.conftest import REPO
from tests.lake.fakes import SpecAdapter, build_recording, spec

SPECS = {f"u{i:02d}": spec(n=300 + 10 * i, n_ch=3, subject=f"s{i % 2}") for i in range(8)}

_CHILD = """
import json, sys
from emgcorpus.ingest import ingest
from tests.lake.fakes import SpecAdapter
lake, specs, kill_at, mode = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
ingest(lake, SpecAdapter(lake, specs=specs, kill_at=kill_at), on_error=mode,
       progress=False, batch_recordings=2)
"""


def _ingest_killed(lake: Path, kill_at: str, mode: str) -> int:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(lake), json.dumps(SPECS), kill_at, mode],
        cwd=REPO,
        capture_output=True,
        timeout=120,
    )
    return proc.returncode


def _check_complete(lake_path: Path, extra: int = 0) -> None:
    lake = Lake.open(lake_path)
    recs = lake.recordings()
    assert recs.height == len(SPECS) + extra
    assert recs["recording_id"].n_unique() == recs.height
    assert lake.channels().height == 3 * len(SPECS) + 4 * extra  # the seed has 4
    for key, s in SPECS.items():
        expected = build_recording(key, s)
        got = lake.read_samples(expected.recording_id, physical=False)
        np.testing.assert_array_equal(got, expected.samples)
    assert verify_lake(lake_path) == []


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    path = tmp_path / "lake"
    ingest(path, SpecAdapter(path, specs={"seed": spec(subject="old")}), progress=False)
    return path


def test_sigkill_in_skip_mode_keeps_finished_batches_and_resumes(seeded: Path) -> None:
    assert _ingest_killed(seeded, "u05", "skip") == -9
    visible = Lake.open(seeded).recordings()
    assert sorted(visible["trial"].to_list()) == ["seed", "u00", "u01", "u02", "u03"]
    assert verify_lake(seeded) == []
    report = ingest(seeded, SpecAdapter(seeded, specs=SPECS), progress=False, batch_recordings=2)
    assert len(report.added) == 4 and len(report.skipped) == 4
    _check_complete(seeded, extra=1)


def test_sigkill_after_unpublished_commits_shows_the_previous_snapshot(seeded: Path) -> None:
    before = Lake.open(seeded).snapshot()
    assert _ingest_killed(seeded, "u05", "abort") == -9
    # batches u00-u03 were committed to the Delta tables but never published
    assert DeltaTable(seeded / "recordings").version() > before["recordings"]
    assert Lake.open(seeded).snapshot() == before
    assert Lake.open(seeded).recordings()["trial"].to_list() == ["seed"]
    report = ingest(seeded, SpecAdapter(seeded, specs=SPECS), progress=False, batch_recordings=3)
    assert len(report.added) == len(SPECS) and report.skipped == []
    _check_complete(seeded, extra=1)
    # the orphan versions were restored away, not merged in
    assert Lake.open(seeded).events().height == len(SPECS) + 1


def test_a_second_writer_is_refused(seeded: Path) -> None:
    with LakeWriter(seeded), pytest.raises(LakeError, match="another writer"):
        ingest(seeded, SpecAdapter(seeded, specs=SPECS), progress=False)
    with LakeWriter(seeded), pytest.raises(LakeError, match="another writer"):
        harmonize(seeded, 1000.0, progress=False)
    # released on exit: the next writer proceeds
    report = ingest(seeded, SpecAdapter(seeded, specs=SPECS), progress=False)
    assert len(report.added) == len(SPECS)


def test_a_writer_that_raises_leaves_nothing_visible(seeded: Path) -> None:
    import pyarrow as pa

    from emgcorpus.schema import SUBJECTS

    before = Lake.open(seeded).snapshot()
    row = {"dataset": "x", "subject": "ghost", "extra_json": "{}"}
    with pytest.raises(RuntimeError), LakeWriter(seeded) as writer:
        writer.append("subjects", pa.Table.from_pylist([row], SUBJECTS))
        raise RuntimeError("crash before publish")
    assert Lake.open(seeded).snapshot() == before
    assert DeltaTable(seeded / "subjects").to_pyarrow_table().num_rows == 1
