"""The fixed cost of one ingest, cut without changing what the lake holds.

Ingest creates a new lake inside its own writer (``LakeWriter(create=True)``: one lock,
the new tables stay loaded for the writer instead of being read again), makes no
progress bar when none is shown, and does not fsync its journal, staging list and
snapshot (the lake guards against process death, not power loss). These tests pin down
that the lake is the same as one made by ``Lake.create`` first, that an existing lake is
opened as before, and that a lake whose creation was killed is completed.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from deltalake import DeltaTable

import emgcorpus.progress as progress_module
from emgcorpus.errors import LakeError
from emgcorpus.harmonize import harmonize
from emgcorpus.ingest import ingest
from emgcorpus.lake import Lake
from emgcorpus.lake_writer import LakeWriter, delta_table, read_snapshot
from emgcorpus.schema import PARTITION_BY, TABLES
from emgcorpus.verify import verify_lake
from tests.lake.fakes import SpecAdapter, spec

SPECS = {
    "a": spec(n=300, n_ch=3, subject="s1"),
    "b": spec(n=500, n_ch=2, subject="s2", dtype="<f4"),
    "c": spec(n=200, n_ch=3, subject="s1"),
}


def _table_shape(lake: Path, name: str) -> dict[str, Any]:
    """What a table is, apart from its id and timestamps: schema, partitioning, settings,
    version and the sha256 of each of its Parquet files (sorted)."""
    dt = delta_table(lake, name)
    meta = dt.metadata()
    files = sorted(
        hashlib.sha256(Path(u.removeprefix("file://")).read_bytes()).hexdigest()
        for u in dt.file_uris()
    )
    return {
        "schema": dt.schema().to_json(),
        "partition": list(meta.partition_columns),
        "configuration": dict(meta.configuration),
        "name": meta.name,
        "version": dt.version(),
        "files": files,
    }


def _lake_shape(lake: Path) -> dict[str, Any]:
    return {
        "snapshot": read_snapshot(lake),
        **{name: _table_shape(lake, name) for name in TABLES},
    }


def test_ingest_into_a_new_lake_equals_lake_create_then_ingest(tmp_path: Path) -> None:
    made_first = tmp_path / "made-first"
    Lake.create(made_first)
    ingest(made_first, SpecAdapter(made_first, specs=SPECS), progress=False)
    new = tmp_path / "new"
    report = ingest(new, SpecAdapter(new, specs=SPECS), progress=False)
    assert len(report.added) == 3
    assert _lake_shape(new) == _lake_shape(made_first)
    assert report.snapshot == read_snapshot(new)


def test_writer_create_makes_what_lake_create_makes(tmp_path: Path) -> None:
    with LakeWriter(tmp_path / "w", create=True) as writer:
        assert writer.published == dict.fromkeys(TABLES, 0)
        assert writer.holds_no_files(*TABLES)
    made = Lake.create(tmp_path / "c")
    assert read_snapshot(tmp_path / "w") == made.snapshot()
    assert _lake_shape(tmp_path / "w") == _lake_shape(tmp_path / "c")
    for name in TABLES:
        dt = DeltaTable(str(tmp_path / "w" / name))
        assert list(dt.metadata().partition_columns) == PARTITION_BY.get(name, [])


def test_writer_create_opens_an_existing_lake_unchanged(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    ingest(lake, SpecAdapter(lake, specs=SPECS), progress=False)
    before = _lake_shape(lake)
    with LakeWriter(lake, create=True) as writer:
        assert writer.published == before["snapshot"]
        assert not writer.holds_no_files("recordings")
    assert _lake_shape(lake) == before
    again = ingest(lake, SpecAdapter(lake, specs=SPECS), progress=False)
    assert again.added == [] and len(again.skipped) == 3
    assert _lake_shape(lake) == before


def test_writer_create_refuses_at_once_when_a_writer_holds_an_existing_lake(
    tmp_path: Path,
) -> None:
    lake = tmp_path / "lake"
    Lake.create(lake)
    with LakeWriter(lake):
        start = time.monotonic()
        with pytest.raises(LakeError, match="another writer holds"), LakeWriter(lake, create=True):
            pass
        assert time.monotonic() - start < 5.0  # (no wait: the lake exists)


def test_writer_create_completes_a_lake_whose_creation_was_killed(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    (lake / "signals").mkdir(parents=True)
    DeltaTable.create(
        str(lake / "signals"),
        TABLES["signals"],
        partition_by=PARTITION_BY["signals"],
        name="signals",
        configuration={"delta.dataSkippingNumIndexedCols": "6"},
    )
    with pytest.raises(LakeError, match="not an emgcorpus lake"):
        read_snapshot(lake)
    report = ingest(lake, SpecAdapter(lake, specs=SPECS), progress=False)
    assert len(report.added) == 3
    reference = tmp_path / "reference"
    ingest(reference, SpecAdapter(reference, specs=SPECS), progress=False)
    assert _lake_shape(lake) == _lake_shape(reference)


def test_commands_without_progress_make_no_progress_bar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ingest, verify and harmonize with ``progress=False`` create no tqdm (a disabled one
    still costs a lock and a monitor thread); a shown bar is a real tqdm."""
    made: list[Any] = []
    real = progress_module.tqdm

    def counting(*args: Any, **kwargs: Any) -> Any:
        made.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(progress_module, "tqdm", counting)
    lake = tmp_path / "lake"
    assert len(ingest(lake, SpecAdapter(lake, specs=SPECS), progress=False).added) == 3
    assert verify_lake(lake, progress=False) == []
    assert harmonize(lake, 100.0, progress=False)["added"]
    assert made == []
    with progress_module.progress_bar(False, [1, 2, 3]) as quiet:
        quiet.update(5)
        assert list(quiet) == [1, 2, 3]
    shown = progress_module.progress_bar(True, [1, 2], desc="x", disable=True)
    assert (
        isinstance(shown, real)
        and list(shown) == [1, 2]
        and made == [{"desc": "x", "disable": True}]
    )


def test_ingest_does_not_fsync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Journal, staging list and snapshot are replaced or appended without an fsync (each
    waits for the disk: milliseconds on a busy one); the lake is complete all the same."""
    calls: list[int] = []
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append(fd))
    lake = tmp_path / "lake"
    report = ingest(lake, SpecAdapter(lake, specs=SPECS), progress=False, batch_recordings=1)
    assert calls == []
    assert len(report.added) == 3 and report.snapshot == read_snapshot(lake)
    doc = json.loads((lake / "_emgcorpus" / "snapshot.json").read_text())
    assert doc["versions"]["recordings"] == 3
    assert not (lake / "_emgcorpus" / "commit.json").exists()
    assert not (lake / "_emgcorpus" / "staged.txt").exists()
