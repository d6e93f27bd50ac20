"""The pieces every command module shares (emgcorpus.cli.common)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from adapters import registry
from emgcorpus.cli import cli
from emgcorpus.cli.common import (
    adapter_choice,
    default_lake,
    echo_json,
    parse_key_values,
    split_names,
)
from emgcorpus.errors import ConfigError


def test_key_values_are_yaml_scalars() -> None:
    parsed = parse_key_values(["n=3", "on=true", "x=1.5", "name=a b", "empty=", "none=null"], "--o")
    assert parsed == {"n": 3, "on": True, "x": 1.5, "name": "a b", "empty": "", "none": None}
    with pytest.raises(ConfigError, match=r"--param 'novalue': expected key=value"):
        parse_key_values(["novalue"], "--param")
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_key_values(["=3"], "--option")


def test_split_names_takes_repeats_and_comma_lists() -> None:
    assert split_names(("a,b", " c ", "")) == ["a", "b", "c"]
    assert split_names(()) is None


def test_lake_default_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMGCORPUS_LAKE", raising=False)
    assert default_lake() == Path("./emg-lake").resolve()
    monkeypatch.setenv("EMGCORPUS_LAKE", "/data/lake")
    assert default_lake() == Path("/data/lake")
    monkeypatch.setenv("EMGCORPUS_LAKE", "s3://bucket/lake")
    assert default_lake() == "s3://bucket/lake"


def test_json_printer_writes_paths_as_text() -> None:
    @click.command()
    def show() -> None:
        echo_json({"path": Path("a/b"), "n": 1})

    assert json.loads(CliRunner().invoke(show).output) == {"path": "a/b", "n": 1}


def test_registry_choice_reads_the_registry_when_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    @click.command()
    @click.argument("name", type=adapter_choice())
    def pick(name: str) -> None:
        click.echo(name)

    runner = CliRunner()
    assert runner.invoke(pick, ["late"]).exit_code == 2
    monkeypatch.setitem(registry.ADAPTERS, "late", "tests.lake.fakes:NpyAdapter")
    assert runner.invoke(pick, ["late"]).output == "late\n"


def test_unknown_adapter_is_a_usage_error_naming_the_choices(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--lake", str(tmp_path), "ingest", "nope", "."], obj={})
    assert result.exit_code == 2
    assert "'nope' is not one of" in result.output and "cote-allard" in result.output
