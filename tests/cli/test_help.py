"""Every command and option of the CLI says what it is in --help."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from emgcorpus.cli import cli


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command | None = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.get_command(click.Context(command), name)
    assert command is not None, path
    return command


COMMANDS = list(_commands(cli))
assert len(COMMANDS) > 20, COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_help_runs_and_every_option_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"], obj={})
    assert result.exit_code == 0, result.output
    command = _command(path)
    assert command.help, f"{' '.join(path)} has no help"
    bare = [p.opts[0] for p in command.params if isinstance(p, click.Option) and not p.help]
    assert bare == [], f"{' '.join(path)}: options without help: {bare}"


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_no_option_is_called_plain_workers(path: tuple[str, ...]) -> None:
    """Dask workers are --dask-workers and DataLoader workers --loader-workers."""
    names = [o for p in _command(path).params for o in p.opts]
    assert "--workers" not in names
