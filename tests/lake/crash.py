"""Helpers of the SIGKILL tests: run one stage in a child process killed at a random time,
and read the lake the way tools other than emgcorpus do (latest Delta versions).

The child imports everything first, then arms a timer that SIGKILLs the process
``delay`` seconds into the stage (a negative delay: no kill) and prints the stage's
duration when it finishes, so a calibration run tells the trials how long the stage
takes and each trial's kill point is uniform over it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
from deltalake import DeltaTable

from emgcorpus.lake import Lake
from emgcorpus.lake_writer import JOURNAL_FILE, META_DIR, read_snapshot
from emgcorpus.schema import RAW_STREAM, TABLES
from tests.conftest import REPO

_CHILD = """
import json, os, signal, sys, threading, time
stage, lake, delay, args = sys.argv[1], sys.argv[2], float(sys.argv[3]), json.loads(sys.argv[4])
if stage == "ingest":
    from emgcorpus.ingest import ingest
    from tests.lake.fakes import SpecAdapter
    run = lambda: ingest(lake, SpecAdapter(lake, specs=args["specs"]), on_error=args["mode"],
                         progress=False, batch_recordings=args["batch"])
elif stage == "harmonize":
    from emgcorpus.harmonize import harmonize
    run = lambda: harmonize(lake, args["fs"], progress=False, batch_bytes=args["batch_bytes"])
elif stage == "vocab":
    from vocab.compiler import VocabularyBuilder
    run = lambda: VocabularyBuilder(lake, "nct", scheduler="sync", **args).build(progress=False)
elif stage == "tokenize":
    from vocab.tokenize import tokenize_lake
    run = lambda: tokenize_lake(lake, scheduler="sync", progress=False, **args)
if delay >= 0:
    timer = threading.Timer(delay, lambda: os.kill(os.getpid(), signal.SIGKILL))
    timer.daemon = True
    timer.start()
start = time.perf_counter()
run()
print(json.dumps({"elapsed": time.perf_counter() - start}))
"""


def run_stage(stage: str, lake: Path, args: dict[str, Any], delay: float = -1.0) -> dict[str, Any]:
    """Run ``stage`` on ``lake`` in a child process, SIGKILLed ``delay`` s into the stage
    (negative: never). Returns ``{"killed": bool, "elapsed": s or None}``."""
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, stage, str(lake), str(delay), json.dumps(args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    if proc.returncode == -9:
        return {"killed": True, "elapsed": None}
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"killed": False, "elapsed": json.loads(proc.stdout.splitlines()[-1])["elapsed"]}


def in_commit_group(lake: Path) -> bool:
    """True when a writer died inside its commit group (its journal is still there)."""
    return (lake / META_DIR / JOURNAL_FILE).exists()


def latest_versions(lake: Path) -> dict[str, int]:
    return {t: DeltaTable(lake / t).version() for t in TABLES}


_ID_COLUMNS = {
    "recordings": ["recording_id"],
    "channels": ["recording_id", "channel_index"],
    "events": ["recording_id", "onset"],
    "subjects": ["dataset", "subject"],
    "harmonized": ["recording_id", "stream"],
    "signals": ["recording_id", "stream", "chunk_index"],
}


def outside_view(lake: Path) -> dict[str, dict[str, pl.DataFrame]]:
    """The key columns of every table at its latest version, read three ways: plain
    ``deltalake`` (to pyarrow), ``polars.read_delta`` and ``polars.scan_delta``."""
    view: dict[str, dict[str, pl.DataFrame]] = {"deltalake": {}, "read_delta": {}, "scan": {}}
    for t, cols in _ID_COLUMNS.items():
        uri = str(lake / t)
        arrow = DeltaTable(uri).to_pyarrow_table(columns=cols)
        view["deltalake"][t] = pl.DataFrame(pl.from_arrow(arrow))
        view["read_delta"][t] = pl.read_delta(uri, columns=cols)
        view["scan"][t] = pl.scan_delta(uri).select(cols).collect()
    return view


def orphan_problems(lake: Path) -> list[str]:
    """What a reader of the latest Delta versions would find wrong: rows of recordings the
    ``recordings`` table does not hold, derived streams without their ``harmonized`` row,
    readers disagreeing, or counts other than those emgcorpus sees at its snapshot.

    Reads only Delta logs and data files (no emgcorpus call that could recover the lake),
    except the emgcorpus counts, which are read at the snapshot without opening it.
    """
    problems: list[str] = []
    view = outside_view(lake)
    snapshot = read_snapshot(lake)
    for reader, tables in view.items():
        ids = set(tables["recordings"]["recording_id"].to_list())
        for t in ("signals", "channels", "events", "harmonized"):
            stray = set(tables[t]["recording_id"].to_list()) - ids
            if stray:
                problems.append(f"{reader}: {t} rows of unknown recordings {sorted(stray)[:3]}")
        derived = tables["signals"].filter(pl.col("stream") != RAW_STREAM)
        streams = set(derived.select("recording_id", "stream").unique().iter_rows())
        listed = set(tables["harmonized"].iter_rows())
        if streams - listed:
            problems.append(f"{reader}: derived streams without harmonized rows")
        for t, frame in tables.items():
            want = DeltaTable(lake / t, version=snapshot[t]).to_pyarrow_table(
                columns=_ID_COLUMNS[t]
            )
            if frame.height != want.num_rows:
                problems.append(
                    f"{reader}: {t} has {frame.height} rows, emgcorpus sees {want.num_rows}"
                )
            dup = frame.height - frame.unique().height
            if dup:
                problems.append(f"{reader}: {t} has {dup} duplicated rows")
    return problems


def unreferenced_signal_files(lake: Path) -> list[str]:
    """Parquet files under ``signals/`` that the latest version does not reference (what
    a raw-Parquet reader globbing the folder would count on top of the table)."""
    referenced = {u.rsplit("/", 1)[-1] for u in DeltaTable(lake / "signals").file_uris()}
    return sorted(str(p) for p in (lake / "signals").rglob("*.parquet") if p.name not in referenced)


def emgcorpus_counts(lake: Path) -> dict[str, int]:
    """Row counts emgcorpus reads (Lake.open: recovers a crashed writer first)."""
    ld = Lake.open(lake)
    return {
        "recordings": ld.recordings().height,
        "channels": ld.channels().height,
        "events": ld.events().height,
        "subjects": ld.subjects().height,
        "harmonized": ld.harmonized().height,
    }
