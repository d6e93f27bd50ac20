"""verify_lake finds nothing on a good lake and finds a changed byte in a stored payload."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from emgcorpus.harmonize import harmonize
from emgcorpus.ingest import ingest
from emgcorpus.lake import Lake
from emgcorpus.lake_writer import write_snapshot
from emgcorpus.schema import SIGNALS
from emgcorpus.verify import verify_lake
from tests.lake.fakes import SpecAdapter, build_recording, spec

SPECS = {"a": spec(n=500, subject="x"), "b": spec(n=300, n_ch=3, subject="y", dtype="<f4")}


def _lake(tmp_path: Path) -> Path:
    path = tmp_path / "lake"
    ingest(path, SpecAdapter(path, specs=SPECS), progress=False)
    harmonize(path, 1000.0, progress=False)
    return path


def test_a_good_lake_verifies(tmp_path: Path) -> None:
    assert verify_lake(_lake(tmp_path)) == []


def test_a_changed_payload_is_found_by_its_sha256(tmp_path: Path) -> None:
    """A faulty writer replaced one raw chunk (one byte flipped) and published it."""
    path = _lake(tmp_path)
    rid = build_recording("b", SPECS["b"]).recording_id
    signals = DeltaTable(path / "signals")
    where = f"recording_id = '{rid}' AND stream = 'raw'"
    rows = signals.to_pyarrow_table(filters=[("recording_id", "=", rid), ("stream", "=", "raw")])
    assert rows.num_rows == 1
    data = bytearray(rows["data"][0].as_py())
    data[5] ^= 0xFF
    changed = rows.set_column(
        rows.schema.get_field_index("data"), "data", pa.array([bytes(data)], pa.binary())
    )
    signals.delete(where)
    write_deltalake(
        path / "signals", changed.cast(SIGNALS), mode="append", partition_by=["dataset"]
    )
    write_snapshot(
        path, {**Lake.open(path).snapshot(), "signals": DeltaTable(path / "signals").version()}
    )
    problems = verify_lake(path)
    assert len(problems) == 1
    assert rid in problems[0] and "sha256" in problems[0]


def test_a_corrupted_file_is_reported_not_raised(tmp_path: Path) -> None:
    path = _lake(tmp_path)
    rid = build_recording("a", SPECS["a"]).recording_id
    for file in Lake.open(path).signal_files(rid):
        target = path / "signals" / file
        blob = bytearray(target.read_bytes())
        for i in range(len(blob) // 3, len(blob) // 2):
            blob[i] ^= 0x5A
        target.write_bytes(bytes(blob))
    problems = verify_lake(path)
    assert problems and any(rid in p or "unreadable" in p for p in problems)
