"""CLI: ``emgcorpus catalog [show NAME]`` and ``emgcorpus fetch DATASET [--to DIR]``.

Thin click layer over :mod:`emgcorpus.catalog.entries` and :mod:`emgcorpus.catalog.fetch`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from emgcorpus.catalog.entries import CatalogEntry, get_entry, load_catalog
from emgcorpus.catalog.fetch import (
    DEFAULT_DATA_ROOT,
    default_dir,
    fetch,
    fetched_state,
    ingest_command,
    source_dir,
)

_TABLE_COLUMNS = (
    "name",
    "device",
    "channels",
    "fs_hz",
    "subjects",
    "size",
    "licence",
    "fetched",
    "ingested",
)


def ingested_datasets(lake: Path) -> set[str]:
    """Dataset names present in the lake's ``recordings`` table; empty if there is no lake."""
    try:
        from emgcorpus.lake import Lake

        frame = Lake.open(lake).recordings()
        return {str(d) for d in frame["dataset"].unique().to_list()}
    except Exception:  # a missing, empty or foreign lake simply holds nothing yet
        return set()


def _is_ingested(entry: CatalogEntry, names: set[str]) -> bool:
    """Whether the lake holds recordings under the entry's lake name (``dataset`` column)."""
    return entry.lake_dataset in names


def catalog_rows(
    lake: Path, data_root: Path = DEFAULT_DATA_ROOT, catalog_path: Path | None = None
) -> list[dict[str, Any]]:
    """One row per catalog entry with the table's columns (``fetched``: yes/partial/no)."""
    names = ingested_datasets(lake)
    rows = []
    for entry in load_catalog(catalog_path).values():
        rows.append(
            {
                "name": entry.name,
                "device": entry.device,
                "channels": entry.channels,
                "fs_hz": entry.fs_hz,
                "subjects": entry.subjects,
                "size": entry.size,
                "licence": entry.licence,
                "fetched": fetched_state(entry, default_dir(entry.name, data_root)),
                "ingested": "yes" if _is_ingested(entry, names) else "no",
            }
        )
    return rows


def _cell(value: Any, width: int = 28) -> str:
    text = "n/a" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))
    return text if len(text) <= width else text[: width - 1] + "…"


def _format_table(rows: list[dict[str, Any]]) -> str:
    header = {c: ("rate_hz" if c == "fs_hz" else c) for c in _TABLE_COLUMNS}
    cells = [[_cell(r[c]) for c in _TABLE_COLUMNS] for r in rows]
    widths = [
        max([len(header[c])] + [len(row[i]) for row in cells]) for i, c in enumerate(_TABLE_COLUMNS)
    ]
    lines = ["  ".join(header[c].ljust(w) for c, w in zip(_TABLE_COLUMNS, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def _format_entry(entry: CatalogEntry, data_root: Path = DEFAULT_DATA_ROOT) -> str:
    d = entry.to_dict()
    lines = [f"{entry.name}: {entry.title}"]
    for key in (
        "adapter", "options", "lake_dataset", "homepage", "access", "licence", "device",
        "channels", "layout", "fs_hz", "subjects", "sessions", "classes", "tasks", "size",
        "notes",
    ):  # fmt: skip
        if d[key] not in (None, {}, ""):
            lines.append(f"  {key}: {d[key]}")
    doi = f" doi:{entry.doi} (https://doi.org/{entry.doi})" if entry.doi else ""
    lines.append(f"  citation: {entry.citation}{doi}")
    lines.append(f"  files: {len(entry.files)}")
    for f in entry.files:
        sha = f.sha256 or "sha256 unknown"
        size = f"{f.size} bytes" if f.size is not None else "size unknown"
        lines.append(f"    {f.path}  <- {f.url}  ({size}, {sha})")
    if entry.expect_glob:
        lines.append(f"  expect_glob: {entry.expect_glob}")
    if entry.extract_glob:
        lines.append(f"  extract_glob (archives fetch unzips): {entry.extract_glob}")
    if entry.manual_steps:
        lines.append("  manual steps:")
        lines += [f"    {line}" for line in entry.manual_steps.rstrip().splitlines()]
    directory = default_dir(entry.name, data_root)
    lines.append(f"  source folder for the adapter: {source_dir(entry, directory)}")
    lines.append(f"  ingest with: {ingest_command(entry, directory)}")
    return "\n".join(lines)


@click.group("catalog", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_DATA_ROOT,
    show_default=True,
    help="Folder holding fetched datasets (one sub-folder per dataset).",
)
@click.option("--catalog", "catalog_path", type=click.Path(path_type=Path), default=None,
              help="Catalog file (default: catalog.yaml of the installation).")  # fmt: skip
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
    rows = catalog_rows(Path(ctx.obj.get("lake", "emg-lake")), data_dir, catalog_path)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        click.echo(_format_table(rows))


@catalog_cmd.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def show_cmd(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show one catalog entry, with its citation, files and the command that ingests it."""
    entry = get_entry(name, ctx.obj.get("catalog_path"))
    data_root = ctx.obj.get("data_dir", DEFAULT_DATA_ROOT)
    if as_json:
        doc = entry.to_dict()
        doc["ingest_command"] = ingest_command(entry, default_dir(entry.name, data_root))
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(_format_entry(entry, data_root))


@click.command("fetch")
@click.argument("dataset")
@click.option("--to", "to", type=click.Path(path_type=Path), default=None,
              help="Target folder (default: ./emg-data/DATASET).")  # fmt: skip
@click.option("--catalog", "catalog_path", type=click.Path(path_type=Path), default=None,
              help="Catalog file (default: catalog.yaml of the installation).")  # fmt: skip
@click.option("--retries", type=click.IntRange(0, 20), default=4, show_default=True)
def fetch_cmd(dataset: str, to: Path | None, catalog_path: Path | None, retries: int) -> None:
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
    if report.manual_steps:
        click.echo(f"{dataset} must be downloaded by hand:\n")
        click.echo(report.manual_steps)
    for status in report.files:
        detail = f" ({status.detail})" if status.detail else ""
        click.echo(f"{status.state:>12}  {status.path}{detail}")
    if report.glob_matches is not None:
        click.echo(
            f"{report.glob_matches} file(s) match {report.expect_glob} in {report.directory}"
        )
    for result in report.extracted:
        verb = "already extracted" if result.skipped else "extracted"
        names = ", ".join(result.top_level) or "nothing"
        click.echo(f"{verb:>12}  {result.archive.name} -> {names}")
    if report.complete:
        click.echo(f"{dataset}: complete in {report.directory}")
        entry = get_entry(dataset, catalog_path)
        click.echo(f"ingest with: {ingest_command(entry, report.directory)}")
        return
    missing = ", ".join(f.path for f in report.problems) or f"no file matches {report.expect_glob}"
    click.echo(f"{dataset}: not complete in {report.directory}: {missing}", err=True)
    sys.exit(1)


def register(cli: click.Group) -> None:
    """Add ``catalog`` (with ``show``) and ``fetch`` to the top-level group."""
    cli.add_command(catalog_cmd)
    cli.add_command(fetch_cmd)
