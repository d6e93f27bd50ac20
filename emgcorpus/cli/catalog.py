"""CLI: ``emgcorpus catalog [show NAME]`` and ``emgcorpus fetch DATASET [--to DIR]``.

Thin click layer over :mod:`emgcorpus.catalog.status` (the table, one entry) and
:func:`emgcorpus.catalog.fetch.fetch`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from emgcorpus.catalog.entries import get_entry
from emgcorpus.catalog.fetch import DEFAULT_DATA_ROOT, fetch
from emgcorpus.catalog.status import (
    catalog_rows,
    entry_document,
    fetch_document,
    fetch_shortfall,
    format_catalog_table,
    format_entry,
    format_fetch_report,
)
from emgcorpus.cli.common import context_lake, echo_doc, echo_json, json_option

_catalog_option = click.option(
    "--catalog",
    "catalog_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Catalog file (default: catalog.yaml of the installation).",
)


@click.group("catalog", invoke_without_command=True)
@json_option("the table")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_DATA_ROOT,
    show_default=True,
    help="Folder holding fetched datasets (one sub-folder per dataset).",
)
@_catalog_option
@click.pass_context
def catalog_cmd(
    ctx: click.Context, as_json: bool, data_dir: Path, catalog_path: Path | None
) -> None:
    """List the known public EMG datasets (fetched? ingested?)."""
    ctx.ensure_object(dict)
    ctx.obj["catalog_path"] = catalog_path
    ctx.obj["data_dir"] = data_dir
    if ctx.invoked_subcommand is not None:
        return
    rows = catalog_rows(context_lake(ctx), data_dir, catalog_path)
    echo_doc(rows, as_json, lambda: format_catalog_table(rows))


@catalog_cmd.command("show")
@click.argument("name")
@json_option("the entry")
@click.pass_context
def show_cmd(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show one catalog entry, with its citation, files and the command that ingests it."""
    entry = get_entry(name, ctx.obj.get("catalog_path"))
    data_root = ctx.obj.get("data_dir", DEFAULT_DATA_ROOT)
    echo_doc(entry_document(entry, data_root), as_json, lambda: format_entry(entry, data_root))


@click.command("fetch")
@click.argument("dataset")
@click.option(
    "--to",
    "to",
    type=click.Path(path_type=Path),
    default=None,
    help=f"Target folder (default: ./{DEFAULT_DATA_ROOT}/DATASET).",
)
@_catalog_option
@click.option(
    "--retries",
    type=click.IntRange(0, 20),
    default=4,
    show_default=True,
    help="Extra attempts after a failed transfer (each resumes the partial file).",
)
@json_option("the outcome (files, archives, source folder, ingest command)")
def fetch_cmd(
    dataset: str, to: Path | None, catalog_path: Path | None, retries: int, as_json: bool
) -> None:
    """Download DATASET's files (or, for login datasets, print the steps and verify).

    Listed archives are then extracted safely (once); the last lines tell the folder to
    give the adapter and the command that ingests it.
    """
    from emgcorpus.catalog.http import RetryPolicy

    report = fetch(
        dataset,
        to,
        catalog_path=catalog_path,
        policy=RetryPolicy(retries=retries),
        echo=lambda line: click.echo(line, err=True),
    )
    if as_json:
        echo_json(fetch_document(report, catalog_path))
    else:
        click.echo(format_fetch_report(report, catalog_path))
        if not report.complete:
            click.echo(fetch_shortfall(report), err=True)
    if not report.complete:
        sys.exit(1)
