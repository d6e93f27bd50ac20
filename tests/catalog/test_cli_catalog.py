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


def test_catalog_show_prints_the_real_folder_not_a_placeholder(tmp_path: Path) -> None:
    cat = _catalog(tmp_path, "http://127.0.0.1:9/a.bin", b"abc")
    data = tmp_path / "data"
    base = ["--lake", str(tmp_path / "no-lake"), "catalog", "--catalog", str(cat)]
    runner = CliRunner()
    show = runner.invoke(cli, [*base, "--data-dir", str(data), "show", "beta"], obj={})
    assert show.exit_code == 0, show.output
    assert "{dir}" not in show.output
    assert f"Log in, put files in {data / 'beta'}." in show.output
    as_json = runner.invoke(cli, [*base, "--data-dir", str(data), "show", "beta", "--json"], obj={})
    doc = json.loads(as_json.output)
    assert doc["manual_steps"].strip() == f"Log in, put files in {data / 'beta'}."
    assert "{dir}" not in as_json.output


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


def test_fetch_json_reports_files_and_the_ingest_command(tmp_path: Path) -> None:
    data = b"0123456789" * 100
    with serve() as srv:
        srv.routes["/a.bin"] = Route(data)
        cat = _catalog(tmp_path, srv.url("/a.bin"), data)
        out = tmp_path / "alpha"
        args = ["fetch", "alpha", "--to", str(out), "--catalog", str(cat), "--json"]
        result = CliRunner().invoke(cli, args, obj={})
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["dataset"] == "alpha" and doc["complete"] is True
    assert doc["directory"] == str(out) and doc["shortfall"] is None
    assert [(f["path"], f["state"]) for f in doc["files"]] == [("a.bin", "downloaded")]
    assert doc["ingest_command"].startswith("emgcorpus ingest sim ")
    beta = tmp_path / "beta"
    args = ["fetch", "beta", "--to", str(beta), "--catalog", str(cat), "--json"]
    missing = CliRunner().invoke(cli, args, obj={})
    assert missing.exit_code == 1
    doc = json.loads(missing.stdout)
    assert doc["complete"] is False and doc["ingest_command"] is None
    assert "no file matches *.mat" in doc["shortfall"]
    assert f"Log in, put files in {beta}." in doc["manual_steps"]


def _zip_release(root: Path, top: str) -> bytes:
    """A tiny Côté-Allard release zipped the way GitHub archives a commit (one top folder)."""
    import io
    import zipfile

    from tests.adapters.fixtures_cote_allard import write_release

    release = root / "release"
    write_release(release)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in sorted(release.rglob("*")):
            if p.is_file():
                zf.write(p, f"{top}/{p.relative_to(release).as_posix()}")
    return buf.getvalue()


def test_fetch_extracts_archive_and_ingest_marks_the_entry_ingested(tmp_path: Path) -> None:
    import shlex

    data = _zip_release(tmp_path, "MyoArmbandDataset-abc123")
    runner = CliRunner()
    lake = tmp_path / "lake"
    with serve() as srv:
        srv.routes["/archive/abc123.zip"] = Route(data)
        files = [{"url": srv.url("/archive/abc123.zip"), "path": "myo.zip"}]
        cat = write_catalog(
            tmp_path / "catalog.yaml",
            [entry("myo-set", adapter="cote-allard", dataset="cote-allard", files=files)],
        )
        out = tmp_path / "data" / "myo-set"
        args = ["fetch", "myo-set", "--to", str(out), "--catalog", str(cat)]
        first = runner.invoke(cli, args, obj={})
        assert first.exit_code == 0, first.output
        again = runner.invoke(cli, args, obj={})
    assert "extracted  myo.zip -> MyoArmbandDataset-abc123" in first.output
    assert "already extracted  myo.zip" in again.output and srv.hits("/archive/abc123.zip") == 1
    source = out / "MyoArmbandDataset-abc123"
    assert (source / "EvaluationDataset/Male12/Test1/classe_27.dat").is_file()
    command = next(line for line in first.output.splitlines() if line.startswith("ingest with:"))
    argv = shlex.split(command.removeprefix("ingest with:"))
    assert argv == ["emgcorpus", "ingest", "cote-allard", str(source)]
    ingest = runner.invoke(cli, ["--lake", str(lake), *argv[1:]], obj={})
    assert ingest.exit_code == 0, ingest.output
    base = ["--lake", str(lake), "catalog", "--catalog", str(cat), "--json"]
    rows = json.loads(runner.invoke(cli, [*base, "--data-dir", str(out.parent)], obj={}).output)
    assert [(r["name"], r["fetched"], r["ingested"]) for r in rows] == [("myo-set", "yes", "yes")]


def test_real_catalog_shows_ninapro_db2_ingested_after_a_real_ingest(tmp_path: Path) -> None:
    from tests.adapters.fixtures_ninapro import ninapro_variables, write_v5
    from tests.conftest import REPO

    src = tmp_path / "ninapro-db2"
    write_v5(src / "s1" / "S1_E1_A1.mat", ninapro_variables(n=300))
    lake = tmp_path / "lake"
    runner = CliRunner()
    ingest = runner.invoke(
        cli, ["--lake", str(lake), "ingest", "ninapro", str(src), "--option", "database=2"], obj={}
    )
    assert ingest.exit_code == 0, ingest.output
    assert ingest.output.startswith("ninapro-db2: 1 added")
    args = ["--lake", str(lake), "catalog", "--catalog", str(REPO / "catalog.yaml"), "--json"]
    rows = json.loads(runner.invoke(cli, [*args, "--data-dir", str(tmp_path)], obj={}).output)
    ingested = {r["name"] for r in rows if r["ingested"] == "yes"}
    assert ingested == {"ninapro-db2"}
    assert next(r["fetched"] for r in rows if r["name"] == "ninapro-db2") == "yes"


def test_fetch_refuses_a_traversal_archive_in_one_line(tmp_path: Path) -> None:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("pack/ok.txt", b"fine")
        zf.writestr("../../escaped.txt", b"pwned")
    with serve() as srv:
        srv.routes["/evil.zip"] = Route(buf.getvalue())
        files = [{"url": srv.url("/evil.zip"), "path": "evil.zip"}]
        cat = write_catalog(tmp_path / "catalog.yaml", [entry("evil", files=files)])
        out = tmp_path / "d" / "evil"
        result = CliRunner().invoke(
            cli, ["fetch", "evil", "--to", str(out), "--catalog", str(cat)], obj={}
        )
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "'../../escaped.txt'" in errors[0]
    assert "nothing extracted" in errors[0] and "Traceback" not in result.output
    assert not list(tmp_path.rglob("escaped.txt")) and not (out / "pack").exists()


def test_fetch_from_unreachable_host_is_one_clean_line(tmp_path: Path) -> None:
    from tests.catalog.http_fixture import closed_port

    url = f"http://127.0.0.1:{closed_port()}/data.zip"
    cat = write_catalog(
        tmp_path / "catalog.yaml", [entry("gone", files=[{"url": url, "path": "data.zip"}])]
    )
    args = ["fetch", "gone", "--to", str(tmp_path / "gone"), "--catalog", str(cat)]
    result = CliRunner().invoke(cli, [*args, "--retries", "0"], obj={})
    assert (
        result.exit_code == 1
        and result.exception is None
        or isinstance(result.exception, SystemExit)
    )
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    assert url in errors[0] and "cannot reach host" in errors[0] and "dataset gone" in errors[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "gone" / "data.zip").exists()
