"""Faults: SIGKILL mid-ingest leaves the previous snapshot visible (to every reader once
emgcorpus opened the lake, also inside a commit group); one writer at a time, also across
processes."""

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
from emgcorpus.lake_writer import LakeWriter, read_snapshot
from emgcorpus.verify import verify_lake
from tests.conftest import REPO
from tests.lake.crash import (
    in_commit_group,
    latest_versions,
    orphan_problems,
    unreferenced_signal_files,
)
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
    # batches u00-u03 were staged in files no Delta version references: no table moved
    assert {t: DeltaTable(seeded / t).version() for t in before} == before
    staged = (seeded / "_emgcorpus" / "staged.txt").read_text().split()
    assert staged and all((seeded / rel).exists() for rel in staged)
    assert Lake.open(seeded).snapshot() == before  # opening recovers: staged files go
    assert not any((seeded / rel).exists() for rel in staged)
    assert not (seeded / "_emgcorpus" / "staged.txt").exists()
    assert Lake.open(seeded).recordings()["trial"].to_list() == ["seed"]
    report = ingest(seeded, SpecAdapter(seeded, specs=SPECS), progress=False, batch_recordings=3)
    assert len(report.added) == len(SPECS) and report.skipped == []
    _check_complete(seeded, extra=1)
    # the staged rows were dropped, not merged in
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


# --- a kill inside the commit group (the one window lake_writer's protocol leaves) -----
_GROUP_CHILD = """
import json, os, signal, sys
from deltalake import DeltaTable
import emgcorpus.lake_writer as lw
from emgcorpus.ingest import ingest
from tests.lake.fakes import SpecAdapter
lake, specs, kill_after = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
commit, count = DeltaTable.create_write_transaction, [0]
def counted(self, *args, **kwargs):
    commit(self, *args, **kwargs)
    count[0] += 1
    if count[0] == kill_after:
        os.kill(os.getpid(), signal.SIGKILL)
DeltaTable.create_write_transaction = counted
ingest(lake, SpecAdapter(lake, specs=specs), progress=False, batch_recordings=len(specs))
"""
#: commits of one batch of SPECS into the seeded lake: signals, channels, events,
#: subjects (new subjects: an append), recordings
_GROUP_COMMITS = 5


def _kill_in_group(lake: Path, kill_after: int) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _GROUP_CHILD, str(lake), json.dumps(SPECS), str(kill_after)],
        cwd=REPO,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -9, proc.stderr[-2000:]


def test_a_kill_inside_the_commit_group_is_rolled_back_by_the_next_open(seeded: Path) -> None:
    before = Lake.open(seeded).snapshot()
    _kill_in_group(seeded, kill_after=2)  # signals and channels committed, the rest not
    assert in_commit_group(seeded)
    # the window: outside readers see the committed part until emgcorpus opens the lake
    assert any("unknown recordings" in p for p in orphan_problems(seeded))
    # the first emgcorpus command, a read-only one, recovers the lake
    from click.testing import CliRunner

    from emgcorpus.cli import cli

    listed = CliRunner().invoke(cli, ["--lake", str(seeded), "ls", "--json"], obj={})
    assert listed.exit_code == 0, listed.output
    assert not in_commit_group(seeded)
    assert Lake.open(seeded).recordings()["trial"].to_list() == ["seed"]
    assert not in_commit_group(seeded)
    assert latest_versions(seeded) == read_snapshot(seeded)
    assert read_snapshot(seeded)["recordings"] == before["recordings"]
    assert orphan_problems(seeded) == []
    assert unreferenced_signal_files(seeded) == []
    report = ingest(seeded, SpecAdapter(seeded, specs=SPECS), progress=False, batch_recordings=3)
    assert len(report.added) == len(SPECS)
    _check_complete(seeded, extra=1)


def test_a_kill_after_every_commit_of_the_group_is_rolled_forward(seeded: Path) -> None:
    before = Lake.open(seeded).snapshot()
    _kill_in_group(seeded, kill_after=_GROUP_COMMITS)  # before the snapshot was replaced
    assert in_commit_group(seeded) and read_snapshot(seeded) == before
    assert latest_versions(seeded)["recordings"] == before["recordings"] + 1
    assert len(Lake.open(seeded).recordings()) == len(SPECS) + 1  # the batch was complete
    assert latest_versions(seeded) == read_snapshot(seeded)
    assert orphan_problems(seeded) == []
    report = ingest(seeded, SpecAdapter(seeded, specs=SPECS), progress=False)
    assert report.added == [] and len(report.skipped) == len(SPECS)
    _check_complete(seeded, extra=1)


# --- two writers in two processes -------------------------------------------------------
_PAUSED_CHILD = """
import json, sys
from emgcorpus.ingest import ingest
from tests.lake.fakes import SpecAdapter
lake, specs, pause_dir = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
report = ingest(lake, SpecAdapter(lake, specs=specs, pause_at="u03", pause_dir=pause_dir),
                progress=False, batch_recordings=2)
print(json.dumps({"added": len(report.added)}))
"""


def test_a_second_writer_process_is_refused_and_nothing_is_lost(
    seeded: Path, tmp_path: Path
) -> None:
    import os
    import time

    pause = tmp_path / "pause"
    pause.mkdir()
    first = subprocess.Popen(
        [sys.executable, "-c", _PAUSED_CHILD, str(seeded), json.dumps(SPECS), str(pause)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (pause / "paused").exists():  # the first writer holds the lock, mid-ingest
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        cli = [sys.executable, "-c", "from emgcorpus.cli import main; main()"]
        second = subprocess.run(
            [*cli, "--lake", str(seeded), "harmonize", "--fs", "1000"],
            cwd=REPO, capture_output=True, text=True, timeout=120, env=env,
        )  # fmt: skip
        assert second.returncode == 1
        message = second.stdout + second.stderr
        assert "another writer holds" in message and f"pid {first.pid}" in message
        assert "Traceback" not in message
        more = {"v00": spec(n=250, subject="v")}  # 4 channels, as the seed
        with pytest.raises(LakeError, match=f"another writer .*pid {first.pid}"):
            ingest(seeded, SpecAdapter(seeded, specs=more), progress=False)
        # the refused writers left nothing behind: the first one's batches stay its own
        (pause / "go").write_text("")
        out, err = first.communicate(timeout=120)
        assert first.returncode == 0, err[-2000:]
        assert json.loads(out.splitlines()[-1]) == {"added": len(SPECS)}
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    # the refused ones run again after the first: everything is there, once
    report = ingest(seeded, SpecAdapter(seeded, specs=more), progress=False)
    assert len(report.added) == 1
    harmonized = harmonize(seeded, 1000.0, progress=False)
    assert len(harmonized["added"]) == len(SPECS) + 2
    _check_complete(seeded, extra=1 + 1)


def test_a_writer_waits_for_a_reader_that_recovers(seeded: Path) -> None:
    import threading
    import time

    from emgcorpus.lake_writer import _try_lock, _unlock

    fd = _try_lock(seeded, "recovering")  # what Lake.open holds while it recovers
    assert fd is not None
    threading.Timer(0.3, _unlock, (fd,)).start()
    start = time.monotonic()
    with LakeWriter(seeded) as writer:  # waits instead of refusing
        assert writer.published == read_snapshot(seeded)
    assert time.monotonic() - start >= 0.25
