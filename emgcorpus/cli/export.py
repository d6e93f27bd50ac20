"""Export commands: ``export bids DATASET OUT`` (one call into
:func:`emgcorpus.bids_export.export_bids`). The lake path comes from the top-level
``--lake``."""

from __future__ import annotations

from pathlib import Path

import click

from emgcorpus.cli.common import context_lake, echo_doc, json_option


@click.group("export")
def export_group() -> None:
    """Write a dataset as a BIDS-EMG tree."""


@export_group.command("bids")
@click.argument("dataset")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--task", default=None, help="BIDS task label (default: the dataset name).")
@click.option(
    "--format",
    "data_format",
    type=click.Choice(["edf", "bdf"]),
    default="edf",
    show_default=True,
    help="Data file format (EDF+ 16-bit or BDF+ 24-bit).",
)
@json_option("what was written")
@click.pass_context
def export_bids_cmd(
    ctx: click.Context, dataset: str, out: Path, task: str | None, data_format: str, as_json: bool
) -> None:
    """Write DATASET as a BIDS-EMG tree at OUT (a new or empty folder)."""
    from emgcorpus.bids_export import export_bids

    result = export_bids(
        context_lake(ctx), dataset, out, task=task, data_format=data_format, progress=not as_json
    )
    doc = result.to_dict()
    echo_doc(
        doc,
        as_json,
        lambda: (
            f"{dataset}: {doc['n_recordings']} recordings of {len(doc['subjects'])} subjects "
            f"written as BIDS-EMG {doc['bids_version']} to {doc['root']}"
        ),
    )
