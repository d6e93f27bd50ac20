"""verify_lake finds nothing on a good lake and finds a changed byte in a stored payload."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from emgcorpus.harmonize import harmonize
from emgcorpus.ingest import ingest
from emgcorpus.lake import Lake
from emgcorpus.lake_writer import read_snapshot, write_snapshot
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
    # (read_snapshot: Lake.open would first restore the table to the published snapshot)
    write_snapshot(path, {**read_snapshot(path), "signals": DeltaTable(path / "signals").version()})
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


def test_token_shards_under_the_lake_are_verified(tmp_path: Path) -> None:
    """Shards written by `tokenize` under <lake>/_shards are checked by verify_lake_shards
    (verify_lake checks the tables only); a changed byte in a shard file is reported with
    its folder, and the CLI `verify` (both checks) exits 1."""
    from click.testing import CliRunner

    from adapters.registry import make_adapter
    from emgcorpus.cli import cli
    from emgcorpus.shards.index import SHARDS_DIRNAME, read_index
    from emgcorpus.shards.verify import verify_lake_shards
    from vocab.compiler import VocabularyBuilder
    from vocab.tokenize import tokenize_lake

    path = tmp_path / "lake"
    sim = {"subjects": 1, "gestures": 2, "repetitions": 1, "contraction_s": 1.0, "rest_s": 1.0}
    ingest(path, make_adapter("sim", "builtin", devices="myo8", **sim), progress=False)
    vocab = VocabularyBuilder(path, "nct", size=4, sample_size=50, scheduler="sync").build(
        progress=False
    )
    out = tokenize_lake(path, vocab.id, scheduler="sync", progress=False)
    assert out.parent == path.resolve() / SHARDS_DIRNAME
    assert verify_lake(path) == [] and verify_lake_shards(path) == []
    shard = out / read_index(out)["shards"][0]["file"]
    blob = bytearray(shard.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    shard.write_bytes(bytes(blob))
    problems = verify_lake_shards(path)
    assert problems and all(p.startswith(f"token shards {out.name}:") for p in problems)
    assert any("sha256" in p and shard.name in p for p in problems)
    assert verify_lake(path) == []
    result = CliRunner().invoke(cli, ["--lake", str(path), "verify"])
    assert result.exit_code == 1 and "sha256" in result.output
    ok = CliRunner().invoke(cli, ["--lake", str(path), "verify", "--no-shards"])
    assert ok.exit_code == 0 and "lake OK" in ok.output


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal (tqdm draws only there)."""

    def isatty(self) -> bool:
        return True


def test_verify_progress_only_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = _lake(tmp_path)
    quiet = _Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    assert verify_lake(lake) == [] and quiet.getvalue() == ""
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert verify_lake(lake, progress=True) == []
    assert "verify" in terminal.getvalue() and "2/2" in terminal.getvalue()
