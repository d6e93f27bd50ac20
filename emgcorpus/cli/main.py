"""The ``emgcorpus`` command line: a thin click layer over library functions.

Every command lives in the module of its area (``emgcorpus.cli.lake``, ``.catalog``,
``.vocab``, ``.train``, ``.runs``) and is one call into the library, so everything the CLI
does is also a Python API. The top-level group imports a command's module only when that
command runs (or shows its own ``--help``): ``emgcorpus --help`` and ``emgcorpus ls`` do
not pay for torch, scikit-learn or Dask. :data:`COMMANDS` names each command's module and
its one-line help (a test checks it against the command's own).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from emgcorpus import __version__
from emgcorpus.cli.common import DEFAULT_LAKE, LAKE_ENV, default_lake
from emgcorpus.errors import EmgCorpusError

#: command name -> (module, attribute, one-line help shown by ``emgcorpus --help``)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "adapters": ("lake", "adapters_cmd", "List registered adapters (name and summary)."),
    "catalog": ("catalog", "catalog_cmd", "List the known public EMG datasets."),
    "export": ("export", "export_group", "Write a dataset as a BIDS-EMG tree."),
    "fetch": ("catalog", "fetch_cmd", "Download and verify a dataset's files."),
    "gestures": ("gestures", "gestures_cmd", "Canonical gestures and each dataset's labels."),
    "harmonize": ("lake", "harmonize_cmd", "Store harmonized float32 copies at --fs Hz."),
    "ingest": ("lake", "ingest_cmd", "Read SOURCE with ADAPTER into the lake."),
    "ls": ("lake", "ls_cmd", "What the lake holds: datasets, subjects, hours, rates."),
    "quickstart": ("runs", "quickstart_cmd", "The whole pipeline on the simulated corpus."),
    "rm": ("lake", "rm_cmd", "Remove a dataset from the lake (a new snapshot)."),
    "run": ("runs", "run_cmd", "The whole pipeline on your own lake."),
    "tokenize": ("vocab", "tokenize_cmd", "Tokenize the lake into training shards."),
    "train": ("train", "train", "Pretraining, LOSO evaluation, reproductions."),
    "vacuum": ("lake", "vacuum_cmd", "Compact tables, delete files past the retention."),
    "verify": ("lake", "verify_cmd", "Check every table, sample and token shard."),
    "vocab": ("vocab", "vocab_group", "Compile, list, compare and report vocabularies."),
}


class _Group(click.Group):
    """The top-level group: commands imported on use (:data:`COMMANDS`); an EmgCorpusError
    is printed as one clear line with exit code 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attribute, _ = COMMANDS[cmd_name]
        command = getattr(importlib.import_module(f"emgcorpus.cli.{module}"), attribute)
        assert isinstance(command, click.Command), (module, attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from :data:`COMMANDS` (no command module is imported)."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][2]) for name in sorted(COMMANDS)])

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except EmgCorpusError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="emgcorpus")
@click.option(
    "--lake",
    type=str,
    default=None,
    help=f"Lakehouse folder or s3://bucket/path (default: ${LAKE_ENV}, else {DEFAULT_LAKE}).",
)
@click.pass_context
def cli(ctx: click.Context, lake: Path | None) -> None:
    """EMG corpus builder and cross-device vocabulary compiler."""
    ctx.ensure_object(dict)
    ctx.obj["lake"] = lake if lake is not None else default_lake()


def main() -> None:
    """Console-script entry point."""
    cli(obj={})
