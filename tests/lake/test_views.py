"""Reading the lake from other tools: the README's DuckDB/polars snippet, run as written,
and the typed samples view against ``Lake.read_samples``."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from adapters import registry
from emgcorpus.harmonize import harmonize
from emgcorpus.ingest import ingest
from emgcorpus.lake import Lake
from emgcorpus.lake_views import (
    SAMPLES_VIEW,
    duckdb_delta_extension,
    samples_reader,
    samples_view,
    table_dataset,
)
from emgcorpus.schema import TABLES
from tests.lake.fakes import NpyAdapter, write_npy_source

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "### Reading the lake from DuckDB and polars"


def _snippet() -> str:
    text = README.read_text().split(SECTION, 1)[1].split("\n## ", 1)[0]
    return text.split("```python\n", 1)[1].split("```", 1)[0]


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tmp_path/emg-lake`` with two datasets of int16 recordings, harmonized at 500 Hz;
    the working folder is ``tmp_path`` (the README's paths are relative)."""
    monkeypatch.setitem(registry.ADAPTERS, "npy", "tests.lake.fakes:NpyAdapter")
    monkeypatch.chdir(tmp_path)
    for name, n_files in (("alpha", 2), ("beta", 1)):
        src = write_npy_source(tmp_path / name, n_files=n_files, n=1000, n_ch=3)
        ingest("emg-lake", NpyAdapter(src, fs=1000.0, dataset=name), progress=False)
    harmonize("emg-lake", 500.0, method="scipy", progress=False)
    return tmp_path / "emg-lake"


def test_readme_snippet_runs_and_agrees_with_read_samples(lake: Path) -> None:
    ns: dict[str, object] = {}
    exec(compile(_snippet(), str(README), "exec"), ns)
    per_dataset = ns["per_dataset"]
    assert isinstance(per_dataset, pl.DataFrame)
    assert per_dataset["dataset"].to_list() == ["alpha", "beta"]
    assert per_dataset["n"].to_list() == [2, 1]
    opened = Lake.open(lake)
    rid = str(ns["rid"])
    x = opened.read_samples(rid)
    np.testing.assert_array_equal(ns["signal"], x[:, 0])
    rms = ns["rms"]
    assert isinstance(rms, pl.DataFrame) and rms.height == 3
    expected = np.sqrt(np.mean(x.astype(np.float64) ** 2, axis=0))
    np.testing.assert_allclose(rms["rms"].to_numpy(), expected, rtol=1e-6)
    assert rms["units"].to_list() == ["uV"] * 3


def test_samples_view_rows_types_and_harmonized_stream(lake: Path) -> None:
    opened = Lake.open(lake)
    view = samples_view(opened, datasets=["alpha"], fs=500.0)
    assert view.schema == SAMPLES_VIEW
    assert view.num_rows == 2 * 3  # one chunk per recording, three channels
    assert set(view["stream"].to_pylist()) == {"fs500"} and set(view["fs"].to_pylist()) == {500.0}
    for rid in set(view["recording_id"].to_pylist()):
        frame = pl.from_arrow(view)
        assert isinstance(frame, pl.DataFrame)
        rows = frame.filter(pl.col("recording_id") == rid).sort("channel_index")
        stacked = np.stack([np.asarray(s) for s in rows["samples"].to_list()], axis=1)
        np.testing.assert_array_equal(stacked, opened.read_samples(rid, fs=500.0))
    con = duckdb.connect()
    con.register("view", samples_reader(opened))  # streamed once, one chunk at a time
    counted = con.sql("SELECT count(*), sum(len(samples)) FROM view").fetchall()[0]
    assert counted == (3 * 3, 3 * 3 * 1000)
    con.register("signals", table_dataset(opened, "signals"))
    streams = con.sql("SELECT DISTINCT stream FROM signals ORDER BY 1").fetchall()
    assert streams == [("fs500",), ("raw",)]


def test_duckdb_delta_scan_reads_the_latest_version_which_is_the_snapshot(lake: Path) -> None:
    """DuckDB's own Delta reader (the registry's packaged ``delta`` extension, no
    download) sees exactly the rows of the lake's snapshot, before and after a new ingest."""
    con = duckdb.connect()
    con.load_extension(str(duckdb_delta_extension()))

    def counts() -> dict[str, int]:
        return {
            t: con.sql(f"SELECT count(*) FROM delta_scan('{lake / t}')").fetchall()[0][0]
            for t in TABLES
        }

    def expected() -> dict[str, int]:
        opened = Lake.open(lake)
        return {t: table_dataset(opened, t).count_rows() for t in TABLES}

    assert counts() == expected()
    before = counts()["recordings"]
    src = write_npy_source(lake.parent / "gamma", n_files=2, n=500, n_ch=3)
    ingest(lake, NpyAdapter(src, fs=1000.0, dataset="gamma"), progress=False)
    assert counts() == expected() and counts()["recordings"] == before + 2
    datasets = con.sql(
        f"SELECT DISTINCT dataset FROM delta_scan('{lake / 'recordings'}') ORDER BY 1"
    ).fetchall()
    assert datasets == [("alpha",), ("beta",), ("gamma",)]
