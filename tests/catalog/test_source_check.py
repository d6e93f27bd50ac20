"""``emgcorpus verify --sources``: source files re-hashed against the lake and catalog.yaml."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from adapters import registry
from emgcorpus.catalog.source_check import verify_sources
from emgcorpus.checksums import file_sha256
from emgcorpus.cli import cli
from emgcorpus.ingest import ingest
from tests.catalog.catalog_factory import entry, write_catalog
from tests.lake.fakes import NpyAdapter, write_npy_source


@pytest.fixture
def ingested(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    """(lake, data root, source folder): three .npy files fetched to ``<root>/toy-set``,
    listed with their sha256 in a catalog entry whose lake name is ``toy``."""
    monkeypatch.setitem(registry.ADAPTERS, "npy", "tests.lake.fakes:NpyAdapter")
    root = tmp_path / "emg-data"
    src = write_npy_source(root / "toy-set", n_files=3, n=200, n_ch=2)
    files = [
        {"url": f"http://127.0.0.1/{p.name}", "path": p.name, "sha256": file_sha256(p)}
        for p in sorted(src.glob("*.npy"))
    ]
    catalog = write_catalog(
        tmp_path / "catalog.yaml", [entry("toy-set", adapter="npy", dataset="toy", files=files)]
    )
    monkeypatch.setenv("EMGCORPUS_CATALOG", str(catalog))
    lake = tmp_path / "lake"
    report = ingest(lake, NpyAdapter(src, dataset="toy"), progress=False)
    assert len(report.added) == 3
    return lake, root, src


def test_untouched_sources_verify(ingested: tuple[Path, Path, Path]) -> None:
    lake, root, _ = ingested
    check = verify_sources(lake, data_root=root)
    assert check.problems == [] and check.files == 3


def test_a_tampered_copy_is_listed_by_file_name(
    ingested: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    lake, root, src = ingested
    copy = tmp_path / "copy"
    shutil.copytree(src, copy)
    victim = copy / "s1_t1.npy"
    data = bytearray(victim.read_bytes())
    data[-3] ^= 0x01  # one bit of one sample: the file still reads as a valid array
    victim.write_bytes(bytes(data))
    check = verify_sources(lake, {"toy": copy}, data_root=root)
    assert check.files == 3
    assert len(check.problems) == 2, check.problems
    assert all(str(victim) in p for p in check.problems)
    assert any("recorded at ingest" in p for p in check.problems)
    assert any("catalog.yaml" in p for p in check.problems)
    (copy / "s2_t2.npy").unlink()
    missing = verify_sources(lake, {"toy": copy}).problems
    assert any("s2_t2.npy: missing" in p for p in missing)


def test_a_catalog_that_disagrees_with_the_lake_is_listed(
    ingested: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake, root, src = ingested
    wrong = [{"url": "http://127.0.0.1/x", "path": "s0_t0.npy", "sha256": "0" * 64}]
    catalog = write_catalog(
        tmp_path / "other.yaml", [entry("toy-set", adapter="npy", dataset="toy", files=wrong)]
    )
    monkeypatch.setenv("EMGCORPUS_CATALOG", str(catalog))
    problems = verify_sources(lake, data_root=root).problems
    assert len(problems) == 2  # the catalog vs the lake, and the file vs the catalog
    assert all("s0_t0.npy" in p for p in problems)


def test_a_dataset_without_a_known_folder_says_how_to_give_it(
    ingested: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    lake, _, _ = ingested
    monkeypatch.setenv("EMGCORPUS_CATALOG", str(write_catalog(tmp_path / "empty.yaml", [])))
    (problem,) = verify_sources(lake).problems
    assert "--source toy=DIR" in problem


def test_cli_verify_sources(ingested: tuple[Path, Path, Path], tmp_path: Path) -> None:
    lake, root, src = ingested
    run = CliRunner().invoke
    ok = run(cli, ["--lake", str(lake), "verify", "--sources", "--data-root", str(root)], obj={})
    assert ok.exit_code == 0, ok.output
    assert "3 source files re-hashed" in ok.output
    victim = src / "s0_t0.npy"
    victim.write_bytes(victim.read_bytes()[:-2] + b"\x00\x00")
    bad = run(cli, ["--lake", str(lake), "verify", "--sources", "--source", f"toy={src}"], obj={})
    assert bad.exit_code == 1
    assert str(victim) in bad.output and "recorded at ingest" in bad.output
    plain = run(cli, ["--lake", str(lake), "verify"], obj={})  # without --sources: no hashing
    assert plain.exit_code == 0 and "re-hashed" not in plain.output
