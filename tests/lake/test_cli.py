"""The lake commands through click: ingest, ls, harmonize, verify, adapters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from adapters import registry
from emgcorpus.cli import cli
from emgcorpus.lake import Lake
from tests.lake.fakes import write_npy_source


@pytest.fixture(autouse=True)
def npy_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register the in-test .npy adapter under the name ``npy`` for these tests."""
    monkeypatch.setitem(registry.ADAPTERS, "npy", "tests.lake.fakes:NpyAdapter")


def _run(lake: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--lake", str(lake), *args], obj={})
    return result.exit_code, result.output


def test_ingest_ls_harmonize_verify(tmp_path: Path) -> None:
    src = write_npy_source(tmp_path / "src", n_files=3, n=2000, n_ch=3)
    lake = tmp_path / "lake"
    code, out = _run(
        lake, "ingest", "npy", str(src), "--option", "fs=2000", "--dataset", "toy", "--json"
    )
    assert code == 0, out
    report = json.loads(out)
    assert len(report["added"]) == 3 and report["dataset"] == "toy"
    code, out = _run(lake, "ingest", "npy", str(src), "--option", "fs=2000", "--dataset", "toy")
    assert code == 0 and "0 added, 3 already in the lake" in out
    code, out = _run(lake, "harmonize", "--fs", "1000", "--method", "scipy")
    assert code == 0 and "harmonized 3 recordings at 1000 Hz" in out
    code, out = _run(lake, "ls", "--json")
    summary = json.loads(out)
    (toy,) = summary["datasets"]
    assert (toy["recordings"], toy["subjects"], toy["channels"]) == (3, 3, [3])
    assert toy["rates_hz"] == [2000.0] and summary["harmonized_hz"] == [1000.0]
    assert toy["hours"] == pytest.approx(3 * 1.0 / 3600)
    code, out = _run(lake, "ls")
    assert code == 0 and "toy" in out and "snapshot:" in out
    code, out = _run(lake, "verify", "--json")
    assert code == 0 and json.loads(out) == {"ok": True, "problems": []}


def test_ingest_with_a_bad_file_exits_1_and_lists_it(tmp_path: Path) -> None:
    src = write_npy_source(tmp_path / "src", n_files=2)
    (src / "s9_bad.npy").write_bytes(b"not numpy")
    lake = tmp_path / "lake"
    code, out = _run(lake, "ingest", "npy", str(src), "--json")
    assert code == 1
    report = json.loads(out)
    assert len(report["added"]) == 2 and report["errors"][0]["unit"] == "s9_bad.npy"
    code, out = _run(tmp_path / "lake2", "ingest", "npy", str(src), "--on-error", "abort")
    assert code == 1 and "s9_bad.npy" in out


def test_a_failed_first_ingest_leaves_no_lake_behind(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "s1_bad.npy").write_bytes(b"not numpy")
    (bad / "s2_bad.npy").write_bytes(b"not numpy either")
    missing = tmp_path / "missing-source"
    for i, args in enumerate(
        [
            ("npy", str(missing)),  # the source does not exist
            ("npy", str(bad)),  # every unit fails (skip)
            ("npy", str(bad), "--on-error", "abort"),  # the first unit fails (abort)
            ("ciil", str(bad)),  # discovery fails after the lake was opened
        ]
    ):
        lake = tmp_path / f"parent{i}" / "lake"
        code, out = _run(lake, "ingest", *args)
        assert code == 1, out
        assert not lake.exists() and not lake.parent.exists(), (args, out)


def test_a_failed_ingest_never_removes_an_existing_lake(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "s1_bad.npy").write_bytes(b"not numpy")
    empty_lake = tmp_path / "empty-lake"
    Lake.create(empty_lake)  # an existing lake with no recordings yet
    code, out = _run(empty_lake, "ingest", "npy", str(bad))
    assert code == 1 and (empty_lake / "recordings").is_dir(), out
    assert Lake.open(empty_lake).recordings().height == 0
    lake = tmp_path / "lake"
    src = write_npy_source(tmp_path / "src", n_files=2)
    assert _run(lake, "ingest", "npy", str(src))[0] == 0
    for args in (("npy", str(bad)), ("npy", str(bad), "--on-error", "abort")):
        code, out = _run(lake, "ingest", *args)
        assert code == 1, out
        assert Lake.open(lake).recordings().height == 2


def test_mapping_file_and_bad_option(tmp_path: Path) -> None:
    src = write_npy_source(tmp_path / "src", n_files=1, n=100)
    mapping = tmp_path / "map.yaml"
    mapping.write_text("fs: 500\n")
    code, out = _run(
        tmp_path / "lake", "ingest", "npy", str(src), "--mapping", str(mapping), "--json"
    )
    assert code == 0
    code, out = _run(tmp_path / "lake", "ls", "--json")
    assert json.loads(out)["datasets"][0]["rates_hz"] == [500.0]
    code, out = _run(tmp_path / "lake", "ingest", "npy", str(src), "--option", "novalue")
    assert code == 1 and "expected key=value" in out


def test_verify_and_ls_on_a_missing_lake_fail_clearly(tmp_path: Path) -> None:
    code, out = _run(tmp_path / "nope", "verify")
    assert code == 1 and "not an emgcorpus lake" in out


def test_adapters_lists_the_registry() -> None:
    result = CliRunner().invoke(cli, ["adapters"], obj={})
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert any(line.startswith("npy") and "test adapter" in line for line in lines)
    assert len(lines) == len(registry.ADAPTERS)


def test_adapters_json_lists_every_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.ADAPTERS, "broken", "tests.lake.no_such_module:Nothing")
    result = CliRunner().invoke(cli, ["adapters", "--json"], obj={})
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert set(rows) == set(registry.ADAPTERS)
    assert rows["npy"]["available"] and "test adapter" in rows["npy"]["summary"]
    assert rows["npy"]["error"] is None
    assert not rows["broken"]["available"] and "no_such_module" in rows["broken"]["error"]
    text = CliRunner().invoke(cli, ["adapters"], obj={}).output
    assert any(line.startswith("broken") and "unavailable:" in line for line in text.splitlines())
