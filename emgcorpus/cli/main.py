"""The ``emgcorpus`` command line: a thin click layer over library functions.

Each subsystem registers its commands from its own module (``register(cli)``), so every
command is one call into the library and everything the CLI does is also a Python API.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from emgcorpus import __version__
from emgcorpus.cli.common import DEFAULT_LAKE, LAKE_ENV, default_lake
from emgcorpus.errors import EmgCorpusError


class _Group(click.Group):
    """A click group that prints EmgCorpusError as one clear line and exits 1."""

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
    type=click.Path(path_type=Path),
    default=None,
    help=f"Lakehouse folder (default: ${LAKE_ENV}, else {DEFAULT_LAKE}).",
)
@click.pass_context
def cli(ctx: click.Context, lake: Path | None) -> None:
    """EMG corpus builder and cross-device vocabulary compiler."""
    ctx.ensure_object(dict)
    ctx.obj["lake"] = lake if lake is not None else default_lake()


def _register_all() -> None:
    from emgcorpus.cli import catalog, lake, runs, train, vocab

    for module in (lake, catalog, vocab, train, runs):
        module.register(cli)


_register_all()


def main() -> None:
    """Console-script entry point."""
    cli(obj={})
