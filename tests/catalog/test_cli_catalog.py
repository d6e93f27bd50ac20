"""`emgcorpus catalog`, `catalog show` and `fetch` through click."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from click.testing import CliRunner

from emgcorpus.cli import cli
from tests.catalog.catalog_factory import entry, write_catalog
from tests.catalog.http_fixture import Route, serve


def _catalog(tmp_path: Path, url: str, data: bytes) -> Path:
    files = [{"url": url, "path": "a.bin", "sha256": hashlib.sha256(data).hexdigest()}]
    return write_catalog(
        tmp_path / "catalog.yaml",
        [
            entry("alpha", files=files, doi="10.1234/alpha", citation="Alpha et al. 2020"),
            entry(
                "beta",
                access="login",
                manual_steps="Log in, put files in {dir}.",
                expect_glob="*.mat",
            ),  # fmt: skip
        ],
    )


def test_catalog_table_json_and_show(tmp_path: Path) -> None:
    cat = _catalog(tmp_path, "http://127.0.0.1:9/a.bin", b"abc")
    (tmp_path / "data" / "beta").mkdir(parents=True)
    (tmp_path / "data" / "beta" / "s1.mat").write_bytes(b"x")
    runner = CliRunner()
    base = ["--lake", str(tmp_path / "no-lake"), "catalog", "--catalog", str(cat)]
    table = runner.invoke(cli, [*base, "--data-dir", str(tmp_path / "data")], obj={})
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0].split()[:4] == ["name", "device", "channels", "rate_hz"]
    assert lines[1].split()[0] == "alpha" and lines[1].split()[-2:] == ["no", "no"]
    assert lines[2].split()[0] == "beta" and lines[2].split()[-2:] == ["yes", "no"]
    as_json = runner.invoke(cli, [*base, "--json", "--data-dir", str(tmp_path / "data")], obj={})
    rows = json.loads(as_json.output)
    assert [(r["name"], r["fetched"], r["ingested"]) for r in rows] == [
        ("alpha", "no", "no"),
        ("beta", "yes", "no"),
    ]
    show = runner.invoke(cli, [*base, "show", "alpha"], obj={})
    assert show.exit_code == 0 and "Alpha et al. 2020 doi:10.1234/alpha" in show.output
    shown = json.loads(runner.invoke(cli, [*base, "show", "alpha", "--json"], obj={}).output)
    assert shown["files"][0]["path"] == "a.bin" and shown["adapter"] == "sim"
    unknown = runner.invoke(cli, [*base, "show", "alpah"], obj={})
    assert unknown.exit_code == 1 and "did you mean alpha" in unknown.output


def test_fetch_command_downloads_and_reports(tmp_path: Path) -> None:
    data = b"0123456789" * 1000
    with serve() as srv:
        srv.routes["/a.bin"] = Route(data)
        cat = _catalog(tmp_path, srv.url("/a.bin"), data)
        out = tmp_path / "alpha"
        result = CliRunner().invoke(
            cli, ["fetch", "alpha", "--to", str(out), "--catalog", str(cat)], obj={}
        )
    assert result.exit_code == 0, result.output
    assert (out / "a.bin").read_bytes() == data
    assert "alpha: complete in" in result.output


def test_fetch_login_dataset_prints_steps_and_fails_until_files_exist(tmp_path: Path) -> None:
    cat = _catalog(tmp_path, "http://127.0.0.1:9/a.bin", b"abc")
    out = tmp_path / "beta"
    args = ["fetch", "beta", "--to", str(out), "--catalog", str(cat)]
    first = CliRunner().invoke(cli, args, obj={})
    assert first.exit_code == 1
    assert f"Log in, put files in {out}." in first.output
    out.mkdir()
    (out / "S1.mat").write_bytes(b"x")
    second = CliRunner().invoke(cli, args, obj={})
    assert second.exit_code == 0 and "1 file(s) match *.mat" in second.output
