"""Lake commands: ``ingest``, ``ls``, ``harmonize``, ``verify``, ``adapters``.

Each command is one call into the library (:func:`emgcorpus.ingest.ingest`,
:func:`emgcorpus.summary.lake_summary`, :func:`emgcorpus.harmonize.harmonize`,
:func:`emgcorpus.verify.verify_lake`). The lake path comes from the top-level ``--lake``.

``ingest`` exits with status 1 when any unit failed: with ``--on-error skip`` (default)
the good units are ingested and published anyway and the failures are listed; with
``--on-error abort`` the first failure stops the ingest and nothing becomes visible.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import click
import yaml

from emgcorpus.errors import ConfigError


def _parse_options(pairs: tuple[str, ...], mapping: Path | None) -> dict[str, Any]:
    """Adapter options: the mapping file's top-level keys, then ``key=value`` pairs (YAML
    scalars: ``3`` is an int, ``true`` a bool) overriding them."""
    options: dict[str, Any] = {}
    if mapping is not None:
        try:
            doc = yaml.safe_load(mapping.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{mapping}: cannot read mapping file ({exc})") from None
        if not isinstance(doc, dict):
            raise ConfigError(f"{mapping}: expected a YAML mapping at top level")
        options.update(doc)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--option {pair!r}: expected key=value")
        options[key.strip()] = yaml.safe_load(value) if value else ""
    return options


def _checksums(dataset: str) -> dict[str, str]:
    """sha256 of the dataset's files from catalog.yaml; empty if the catalog module is absent."""
    try:
        catalog = importlib.import_module("emgcorpus.catalog.entries")
    except ImportError:
        return {}
    checksums_for = getattr(catalog, "checksums_for", None)
    return dict(checksums_for(dataset)) if checksums_for is not None else {}


def _echo_json(doc: Any) -> None:
    click.echo(json.dumps(doc, indent=1, default=str))


@click.command("ingest")
@click.argument("adapter")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--option", "option_pairs", multiple=True, help="Adapter option key=value.")
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
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
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
    """Read SOURCE with ADAPTER into the lake (idempotent; exit 1 if any unit failed)."""
    from adapters.registry import make_adapter
    from emgcorpus.ingest import ingest

    options = _parse_options(option_pairs, mapping)
    if dataset is not None:
        options["dataset"] = dataset
    ad = make_adapter(adapter, str(source), **options)
    checksums = {} if no_checksums else _checksums(ad.dataset)
    report = ingest(
        ctx.obj["lake"], ad, checksums=checksums, on_error=on_error, progress=not as_json
    )
    if as_json:
        _echo_json(report.to_dict())
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
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def ls_cmd(ctx: click.Context, as_json: bool) -> None:
    """Datasets, subjects, recordings, hours, channels, rates and table versions."""
    from emgcorpus.summary import format_summary, lake_summary

    summary = lake_summary(ctx.obj["lake"])
    if as_json:
        _echo_json(summary)
    else:
        click.echo(format_summary(summary))


@click.command("harmonize")
@click.option("--fs", type=float, required=True, help="Target sampling rate [Hz].")
@click.option(
    "--method",
    type=click.Choice(["soxr", "scipy"]),
    default="soxr",
    show_default=True,
    help="Resampler.",
)
@click.option("--dataset", "datasets", multiple=True, help="Only these datasets (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def harmonize_cmd(
    ctx: click.Context, fs: float, method: str, datasets: tuple[str, ...], as_json: bool
) -> None:
    """Store harmonized float32 copies of the recordings at --fs Hz."""
    from emgcorpus.harmonize import harmonize

    result = harmonize(
        ctx.obj["lake"], fs, method=method, datasets=list(datasets) or None, progress=not as_json
    )
    if as_json:
        _echo_json(result)
    else:
        click.echo(
            f"harmonized {len(result['added'])} recordings at {fs:g} Hz with {method} "
            f"({len(result['skipped'])} already there)"
        )


@click.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print problems as JSON.")
@click.option("--no-shards", is_flag=True, help="Skip the token shards under <lake>/_shards.")
@click.pass_context
def verify_cmd(ctx: click.Context, as_json: bool, no_shards: bool) -> None:
    """Check every table, every stored sample and the token shards; exit 1 on problems."""
    from emgcorpus.verify import shard_folders, verify_lake

    problems = verify_lake(ctx.obj["lake"], shards=not no_shards)
    n_shards = 0 if no_shards else len(shard_folders(ctx.obj["lake"]))
    if as_json:
        _echo_json({"ok": not problems, "problems": problems})
    elif problems:
        for p in problems:
            click.echo(p)
    else:
        click.echo(f"lake OK ({n_shards} token shard folders checked)")
    if problems:
        sys.exit(1)


@click.command("adapters")
def adapters_cmd() -> None:
    """List registered adapters (name and summary; unavailable ones with the reason)."""
    from adapters.registry import adapter_names, get_adapter_class

    for name in adapter_names():
        try:
            cls = get_adapter_class(name)
        except Exception as exc:  # noqa: BLE001 - list every adapter whatever its state
            click.echo(f"{name:<14} unavailable: {type(exc).__name__}: {exc}")
            continue
        click.echo(f"{name:<14} {cls.summary}")


def register(cli: click.Group) -> None:
    """Add this subsystem's commands to the top-level group."""
    for command in (ingest_cmd, ls_cmd, harmonize_cmd, verify_cmd, adapters_cmd):
        cli.add_command(command)
