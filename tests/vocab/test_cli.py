"""The vocab and tokenize commands through click's CliRunner on a tiny simulated lake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from emgcorpus.cli import cli
from emgcorpus.shards.index import read_index
from vocab.artifact import default_store, list_vocabularies


@pytest.fixture(scope="module")
def lake(sim_lake: Path) -> Path:
    return sim_lake


def _run(lake: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--lake", str(lake), *args], catch_exceptions=False)
    return result.exit_code, result.stdout if result.exit_code == 0 else result.output


def _build(lake: Path, *extra: str) -> dict:
    code, out = _run(
        lake,
        "vocab",
        "build",
        "--size",
        "6",
        "--sample-size",
        "300",
        "--scheduler",
        "sync",
        "--json",
        *extra,
    )
    assert code == 0, out
    return json.loads(out)


def test_build_ls_show_diff(lake: Path) -> None:
    a = _build(lake)
    b = _build(lake, "--seed", "3", "--datasets", "sim")
    assert a["id"] != b["id"] and a["size"] == 6
    assert Path(a["path"]).parent == default_store(lake)
    code, out = _run(lake, "vocab", "ls")
    assert code == 0 and a["id"] in out and b["id"] in out
    code, out = _run(lake, "vocab", "ls", "--json")
    assert {r["id"] for r in json.loads(out)} == {
        v["id"] for v in list_vocabularies(default_store(lake))
    }
    code, out = _run(lake, "vocab", "show", a["id"][:6])
    assert code == 0 and f"vocabulary {a['id']}" in out and "perplexity" in out
    code, out = _run(lake, "vocab", "show", a["id"], "--json")
    assert json.loads(out)["params"]["size"] == 6
    code, out = _run(lake, "vocab", "diff", a["id"], b["id"], "--json")
    d = json.loads(out)
    assert d["params"]["seed"] == [0, 3]
    assert d["params"]["datasets"] == [None, ["sim"]]
    assert d["snapshot"] == {}
    assert d["codes"]["comparable"] is True
    code, out = _run(lake, "vocab", "diff", a["id"], a["id"], "--json")
    same = json.loads(out)
    assert same["params"] == {} and same["codes"]["identical_codes"] == 6


def test_errors_are_one_line_and_exit_1(lake: Path) -> None:
    code, out = _run(lake, "vocab", "show", "zzzz")
    assert code == 1 and "no vocabulary with id 'zzzz'" in out
    code, out = _run(lake, "tokenize")
    assert code == 1 and "exactly one of --vocab" in out
    code, out = _run(lake, "vocab", "build", "--param", "nonsense", "--scheduler", "sync")
    assert code == 1 and "expected key=value" in out


def test_tokenize_verify_and_report(lake: Path, tmp_path: Path) -> None:
    vid = _build(lake)["id"]
    out_dir = tmp_path / "shards"
    code, out = _run(
        lake,
        "tokenize",
        "--vocab",
        vid,
        "--out",
        str(out_dir),
        "--scheduler",
        "sync",
        "--max-rows",
        "2",
    )
    assert code == 0, out
    index = read_index(out_dir)
    assert f"{index['totals']['shards']} shards" in out and index["vocab_id"] == vid
    code, out = _run(lake, "tokenize", "--verify", str(out_dir))
    assert code == 0 and "ok" in out
    (out_dir / index["shards"][0]["file"]).write_bytes(b"garbage")
    code, out = _run(lake, "tokenize", "--verify", str(out_dir))
    assert code == 1 and "sha256" in out
    code, out = _run(lake, "vocab", "report", vid, "--out", str(tmp_path / "report"))
    assert code == 0 and (tmp_path / "report" / "index.html").is_file()


def test_tokenize_and_report_json(lake: Path, tmp_path: Path) -> None:
    vid = _build(lake)["id"]
    out_dir = tmp_path / "shards"
    code, out = _run(
        lake, "tokenize", "--vocab", vid, "--out", str(out_dir), "--scheduler", "sync", "--json"
    )
    assert code == 0, out
    doc = json.loads(out)
    index = read_index(out_dir)
    assert doc["folder"] == str(out_dir) and doc["vocab_id"] == vid
    assert doc["totals"] == index["totals"] and doc["totals"]["tokens"] > 0
    code, out = _run(lake, "tokenize", "--verify", str(out_dir), "--json")
    assert code == 0 and json.loads(out) == {"folder": str(out_dir), "ok": True, "problems": []}
    (out_dir / index["shards"][0]["file"]).write_bytes(b"garbage")
    result = CliRunner().invoke(
        cli, ["--lake", str(lake), "tokenize", "--verify", str(out_dir), "--json"]
    )
    bad = json.loads(result.stdout)
    assert result.exit_code == 1 and bad["ok"] is False and bad["problems"]
    report_dir = tmp_path / "report"
    code, out = _run(lake, "vocab", "report", vid[:8], "--out", str(report_dir), "--json")
    assert code == 0, out
    doc = json.loads(out)
    assert doc["vocab_id"] == vid and doc["html"] == str(report_dir / "index.html")
    assert doc["folder"] == str(report_dir) and "index.html" in doc["files"]
    assert any(name.endswith(".png") for name in doc["files"])
