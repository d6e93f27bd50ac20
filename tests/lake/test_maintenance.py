"""``emgcorpus rm`` and ``emgcorpus vacuum``: a dataset removed as a new snapshot, history
readable until a vacuum, and afterwards raw-Parquet readers count what Delta readers count."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pyarrow.dataset as ds
import pytest
from click.testing import CliRunner
from deltalake import DeltaTable

from adapters import registry
from emgcorpus.cli import cli
from emgcorpus.lake import Lake
from emgcorpus.schema import PARTITION_BY, TABLES
from tests.lake.fakes import write_npy_source


@pytest.fixture(autouse=True)
def npy_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.ADAPTERS, "npy", "tests.lake.fakes:NpyAdapter")


def _run(lake: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--lake", str(lake), *args], obj={})
    return result.exit_code, result.output


def _raw_parquet_rows(lake: Path, table: str) -> int:
    """Rows every Parquet file under the table folder holds (what a reader that ignores
    the Delta log counts)."""
    partitioning = "hive" if table in PARTITION_BY else None
    return ds.dataset(lake / table, format="parquet", partitioning=partitioning).count_rows()


def _two_dataset_lake(tmp_path: Path) -> Path:
    lake = tmp_path / "lake"
    for name, n_files in (("alpha", 3), ("beta", 2)):
        src = write_npy_source(tmp_path / name, n_files=n_files, n=800, n_ch=2)
        code, out = _run(lake, "ingest", "npy", str(src), "--dataset", name, "--json")
        assert code == 0, out
    code, out = _run(lake, "harmonize", "--fs", "500", "--method", "scipy", "--json")
    assert code == 0, out
    return lake


def test_rm_then_vacuum(tmp_path: Path) -> None:
    lake = _two_dataset_lake(tmp_path)
    before = Lake.open(lake)
    old_snapshot = before.snapshot()
    alpha_ids = before.recordings(["alpha"])["recording_id"].to_list()
    assert len(alpha_ids) == 3

    # the default retention (168 h) deletes nothing; two ingests left two files per
    # metadata table, compacted into one (a new version, same rows)
    code, out = _run(lake, "vacuum", "--json")
    assert code == 0, out
    result = json.loads(out)
    assert result["retention_hours"] == 168 and result["deleted"] == {}
    assert "recordings" in result["compacted"]
    assert len(DeltaTable(lake / "recordings").file_uris()) == 1
    assert _raw_parquet_rows(lake, "recordings") == 10  # the old files are kept
    old_snapshot = Lake.open(lake).snapshot()

    code, out = _run(lake, "rm", "--dataset", "nope")
    assert code == 1 and "no dataset 'nope'" in out and "alpha" in out

    code, out = _run(lake, "rm", "--dataset", "alpha", "--json")
    assert code == 0, out
    result = json.loads(out)
    assert result["rows"]["recordings"] == 3 and result["rows"]["harmonized"] == 3
    assert result["rows"]["channels"] == 6 and result["signal_files"] >= 1
    assert all(result["snapshot"][t] > old_snapshot[t] for t in TABLES)

    now = Lake.open(lake)
    assert now.recordings()["dataset"].unique().to_list() == ["beta"]
    for table in TABLES:  # every table, harmonized streams in signals too
        frame = pl.from_arrow(now.table(table).to_pyarrow_table(columns=["dataset"]))
        assert isinstance(frame, pl.DataFrame)
        assert "alpha" not in frame["dataset"].to_list(), table
    assert pl.scan_delta(str(lake / "recordings")).collect().height == 2
    code, out = _run(lake, "verify", "--json", "--no-shards")
    assert code == 0 and json.loads(out)["ok"], out

    # history kept: the earlier snapshot still reads alpha's samples
    old = Lake.open(lake, snapshot=old_snapshot)
    assert old.read_samples(alpha_ids[0]).shape == (800, 2)
    assert _raw_parquet_rows(lake, "signals") > DeltaTable(lake / "signals").count()

    code, out = _run(lake, "vacuum", "--retention-hours", "0")
    assert code == 1 and "--force" in out
    code, out = _run(lake, "vacuum", "--retention-hours", "0", "--force", "--dry-run", "--json")
    assert code == 0, out
    planned = json.loads(out)
    assert planned["dry_run"] and any("dataset=alpha" in p for p in planned["deleted"]["signals"])
    assert _raw_parquet_rows(lake, "signals") > DeltaTable(lake / "signals").count()  # kept

    code, out = _run(lake, "vacuum", "--retention-hours", "0", "--force")
    assert code == 0 and "deleted" in out, out
    for table in TABLES:
        assert _raw_parquet_rows(lake, table) == DeltaTable(lake / table).count(), table
        latest = pl.scan_delta(str(lake / table)).collect().height
        assert latest == DeltaTable(lake / table).count(), table
    after = Lake.open(lake)
    assert after.recordings().height == 2
    beta = after.recordings()["recording_id"][0]
    assert after.read_samples(beta, fs=500).shape[1] == 2
    code, out = _run(lake, "verify", "--json", "--no-shards")
    assert code == 0 and json.loads(out)["ok"], out
