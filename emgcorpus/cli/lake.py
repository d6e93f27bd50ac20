"""Lake commands: ``ingest``, ``ls``, ``harmonize``, ``verify``, ``adapters``.

Each command is one call into the library (:func:`emgcorpus.catalog.sources.ingest_source`,
:func:`emgcorpus.summary.lake_summary`, :func:`emgcorpus.harmonize.harmonize`,
:func:`emgcorpus.catalog.status.format_adapters`); ``verify`` calls
:func:`emgcorpus.verify.verify_lake` and then :func:`emgcorpus.shards.verify.verify_lake_shards`
(and with ``--sources`` :func:`emgcorpus.catalog.source_check.verify_sources`).
The lake path comes from the top-level ``--lake``.

``ingest`` exits with status 1 when any unit failed: with ``--on-error skip`` (default)
the good units are ingested and published anyway and the failures are listed; with
``--on-error abort`` the first failure stops the ingest and nothing becomes visible.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from emgcorpus.cli.common import (
    adapter_choice,
    constant_choice,
    context_lake,
    echo_doc,
    echo_json,
    json_option,
    parse_key_values,
)


@click.command("ingest")
@click.argument("adapter", type=adapter_choice(), metavar="ADAPTER")
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "--option",
    "option_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="Adapter option (repeatable; the value is read as YAML: 3, true, [1, 2]); "
    "overrides the --mapping file.",
)
@click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML file whose top-level keys become adapter options.",
)
@click.option("--dataset", default=None, help="Dataset name (default: the adapter's).")
@click.option(
    "--on-error",
    type=click.Choice(["skip", "abort"]),
    default="skip",
    show_default=True,
    help="skip: report bad units, ingest the rest; abort: "
    "the first bad unit stops everything and nothing is committed.",
)
@click.option("--no-checksums", is_flag=True, help="Do not check files against catalog.yaml.")
@json_option("the report")
@click.pass_context
def ingest_cmd(
    ctx: click.Context,
    adapter: str,
    source: Path,
    option_pairs: tuple[str, ...],
    mapping: Path | None,
    dataset: str | None,
    on_error: str,
    no_checksums: bool,
    as_json: bool,
) -> None:
    """Read SOURCE with ADAPTER into the lake (idempotent; exit 1 if any unit failed).

    ADAPTER is a registered adapter name (`emgcorpus adapters` lists them).
    """
    from emgcorpus.catalog.sources import ingest_source

    report = ingest_source(
        context_lake(ctx),
        adapter,
        source,
        options=parse_key_values(option_pairs, "--option"),
        mapping_file=mapping,
        dataset=dataset,
        checksums=not no_checksums,
        on_error=on_error,
        progress=not as_json,
    )
    if as_json:
        echo_json(report.to_dict())
    else:
        click.echo(
            f"{report.dataset}: {len(report.added)} added, {len(report.skipped)} already in "
            f"the lake, {len(report.errors)} failed; {report.duration_s / 3600:.3f} h of EMG, "
            f"{report.sample_bytes / 1e6:.1f} MB in {report.elapsed_s:.1f} s"
        )
        for key, msg in report.errors:
            click.echo(f"  failed {key}: {msg}", err=True)
    if report.errors:
        sys.exit(1)


@click.command("ls")
@json_option("the summary")
@click.pass_context
def ls_cmd(ctx: click.Context, as_json: bool) -> None:
    """Datasets, subjects, recordings, hours, channels, rates and table versions."""
    from emgcorpus.summary import format_summary, lake_summary

    summary = lake_summary(context_lake(ctx))
    echo_doc(summary, as_json, lambda: format_summary(summary))


@click.command("harmonize")
@click.option("--fs", type=float, required=True, help="Target sampling rate [Hz].")
@click.option(
    "--method",
    type=constant_choice("emgcorpus.resample", "METHODS"),
    default="soxr",
    show_default=True,
    help="Resampler.",
)
@click.option("--dataset", "datasets", multiple=True, help="Only these datasets (repeatable).")
@json_option("the result")
@click.pass_context
def harmonize_cmd(
    ctx: click.Context, fs: float, method: str, datasets: tuple[str, ...], as_json: bool
) -> None:
    """Store harmonized float32 copies of the recordings at --fs Hz."""
    from emgcorpus.harmonize import harmonize

    result = harmonize(
        context_lake(ctx), fs, method=method, datasets=list(datasets) or None, progress=not as_json
    )
    echo_doc(
        result,
        as_json,
        lambda: (
            f"harmonized {len(result['added'])} recordings at {fs:g} Hz with {method} "
            f"({len(result['skipped'])} already there)"
        ),
    )


@click.command("verify")
@json_option("the problems")
@click.option("--no-shards", is_flag=True, help="Skip the token shards under <lake>/_shards.")
@click.option(
    "--sources",
    is_flag=True,
    help="Also re-hash the source files the lake was ingested from, against the sha256 "
    "recorded at ingest and the one catalog.yaml lists.",
)
@click.option(
    "--source",
    "source_dirs",
    multiple=True,
    metavar="DATASET=DIR",
    help="With --sources: the folder DATASET was ingested from (repeatable; default: "
    "where `emgcorpus fetch` puts the dataset's catalog entries under --data-root).",
)
@click.option(
    "--data-root",
    type=click.Path(path_type=Path),
    default=None,
    help="With --sources: the folder `emgcorpus fetch` put datasets in (default ./emg-data).",
)
@click.pass_context
def verify_cmd(
    ctx: click.Context,
    as_json: bool,
    no_shards: bool,
    sources: bool,
    source_dirs: tuple[str, ...],
    data_root: Path | None,
) -> None:
    """Check every table, every stored sample and the token shards (and with --sources
    the source files); exit 1 on problems."""
    from emgcorpus.catalog.source_check import verify_sources
    from emgcorpus.shards.index import shard_folders
    from emgcorpus.shards.verify import verify_lake_shards
    from emgcorpus.verify import verify_lake

    lake = context_lake(ctx)
    # a missing lake fails here, before the shards
    lake_problems = verify_lake(lake, progress=not as_json)
    shard_problems = [] if no_shards else verify_lake_shards(lake)
    problems = shard_problems + lake_problems  # the shards' problems first, as before
    n_shards = 0 if no_shards else len(shard_folders(lake))
    n_sources = 0
    if sources:
        dirs = {k: Path(str(v)) for k, v in parse_key_values(source_dirs, "--source").items()}
        check = verify_sources(lake, dirs, data_root)
        problems += check.problems
        n_sources = check.files
    if as_json:
        echo_json({"ok": not problems, "problems": problems})
    elif problems:
        for p in problems:
            click.echo(p)
    else:
        checked = f", {n_sources} source files re-hashed" if sources else ""
        click.echo(f"lake OK ({n_shards} token shard folders checked{checked})")
    if problems:
        sys.exit(1)


@click.command("adapters")
@json_option("the adapters (name, available, summary, error)")
def adapters_cmd(as_json: bool) -> None:
    """List registered adapters (name and summary; unavailable ones with the reason)."""
    from emgcorpus.catalog.status import adapter_rows, format_adapters

    rows = adapter_rows()
    echo_doc(rows, as_json, lambda: format_adapters(rows))


@click.command("rm")
@click.option("--dataset", required=True, help="Name of the dataset to remove (`emgcorpus ls`).")
@json_option("what was removed")
@click.pass_context
def rm_cmd(ctx: click.Context, dataset: str, as_json: bool) -> None:
    """Remove a dataset's rows from every table as a new snapshot (history kept until
    `emgcorpus vacuum`)."""
    from emgcorpus.lake_maintenance import remove_dataset

    result = remove_dataset(context_lake(ctx), dataset)
    echo_doc(
        result,
        as_json,
        lambda: (
            f"removed {dataset}: {result['rows'].get('recordings', 0)} recordings, "
            f"{result['signal_files']} signal files ({sum(result['rows'].values())} rows); "
            "`emgcorpus vacuum` deletes the files once past the retention"
        ),
    )


@click.command("vacuum")
@click.option(
    "--retention-hours",
    type=click.IntRange(min=0),
    default=None,
    help="Keep files that versions of the last N hours need (default 168 = 7 days; "
    "shorter needs --force).",
)
@click.option(
    "--force", is_flag=True, help="Allow a retention below 168 h (older snapshots unreadable)."
)
@click.option("--dry-run", is_flag=True, help="List what would be deleted; change nothing.")
@json_option("the result")
@click.pass_context
def vacuum_cmd(
    ctx: click.Context, retention_hours: int | None, force: bool, dry_run: bool, as_json: bool
) -> None:
    """Compact the metadata tables and delete table files no recent version references."""
    from emgcorpus.lake_maintenance import vacuum_lake

    result = vacuum_lake(context_lake(ctx), retention_hours, dry_run=dry_run, force=force)

    def text() -> str:
        verb = "would delete" if dry_run else "deleted"
        lines = [f"  {t}/{p}" for t, paths in result["deleted"].items() for p in paths]
        n = len(lines)
        head = f"{verb} {n} files older than {result['retention_hours']} h"
        if result["compacted"]:
            head += f"; compacted {', '.join(result['compacted'])}"
        return "\n".join([head, *lines])

    echo_doc(result, as_json, text)
