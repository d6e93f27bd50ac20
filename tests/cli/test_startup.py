"""The top-level CLI starts without the heavy libraries: commands are imported on use."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from emgcorpus.cli import cli
from emgcorpus.cli.main import COMMANDS

HEAVY = ("torch", "sklearn", "dask", "distributed", "matplotlib", "deltalake", "polars")

PROBE = """
import sys
from click.testing import CliRunner
from emgcorpus.cli import cli
result = CliRunner().invoke(cli, ["--help"], obj={})
assert result.exit_code == 0, result.output
assert "quickstart" in result.output and "vocab" in result.output, result.output
print(",".join(m for m in HEAVY if m in sys.modules))
"""


def test_help_imports_none_of_the_heavy_libraries() -> None:
    code = f"HEAVY = {HEAVY!r}\n" + PROBE
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "", f"imported at start-up: {out.stdout.strip()}"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_listed_command_resolves_to_itself(name: str) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert isinstance(command, click.Command)
    assert command.name == name
    assert command.help, name
    assert 0 < len(COMMANDS[name][2]) <= 60


def test_unknown_command_is_a_usage_error() -> None:
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["no-such-command"], obj={})
    assert result.exit_code == 2
    assert "No such command" in result.output
