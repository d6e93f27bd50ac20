"""What the catalog, the fetched folders and the lake say together: the ``emgcorpus catalog``
table (fetched? ingested?), one entry's description, a fetch's outcome and the registered
adapters.

:func:`catalog_rows`, :func:`entry_document`, :func:`fetch_document` and :func:`adapter_rows`
are the data; :func:`format_catalog_table`, :func:`format_entry`, :func:`format_fetch_report`,
:func:`fetch_shortfall` and :func:`format_adapters` the text the CLI prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emgcorpus.catalog.entries import CatalogEntry, get_entry, load_catalog
from emgcorpus.catalog.fetch import (
    DEFAULT_DATA_ROOT,
    FetchReport,
    default_dir,
    fetched_state,
    ingest_command,
    manual_steps,
    source_dir,
)

#: Columns of the catalog table, in order.
TABLE_COLUMNS = (
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


def ingested_datasets(lake: str | Path) -> set[str]:
    """Dataset names present in the lake's ``recordings`` table; empty if there is no lake."""
    try:
        from emgcorpus.lake import Lake

        frame = Lake.open(lake).recordings()
        return {str(d) for d in frame["dataset"].unique().to_list()}
    except Exception:  # a missing, empty or foreign lake simply holds nothing yet
        return set()


def catalog_rows(
    lake: str | Path, data_root: Path = DEFAULT_DATA_ROOT, catalog_path: Path | None = None
) -> list[dict[str, Any]]:
    """One row per catalog entry with the table's columns (``fetched``: yes/partial/no;
    ``ingested``: whether the lake holds recordings under the entry's lake name)."""
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
                "ingested": "yes" if entry.lake_dataset in names else "no",
            }
        )
    return rows


def _cell(value: Any, width: int = 28) -> str:
    text = "n/a" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))
    return text if len(text) <= width else text[: width - 1] + "…"


def format_catalog_table(rows: list[dict[str, Any]]) -> str:
    """:func:`catalog_rows` as an aligned text table (long cells cut with an ellipsis)."""
    header = {c: ("rate_hz" if c == "fs_hz" else c) for c in TABLE_COLUMNS}
    cells = [[_cell(r[c]) for c in TABLE_COLUMNS] for r in rows]
    widths = [
        max([len(header[c])] + [len(row[i]) for row in cells]) for i, c in enumerate(TABLE_COLUMNS)
    ]
    lines = ["  ".join(header[c].ljust(w) for c, w in zip(TABLE_COLUMNS, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def entry_document(entry: CatalogEntry, data_root: Path = DEFAULT_DATA_ROOT) -> dict[str, Any]:
    """The entry as a dict, with the command that ingests it from its folder under ``data_root``."""
    doc = entry.to_dict()
    directory = default_dir(entry.name, data_root)
    doc["manual_steps"] = manual_steps(entry, directory)  # {dir} -> the real folder
    doc["ingest_command"] = ingest_command(entry, directory)
    return doc


def format_entry(entry: CatalogEntry, data_root: Path = DEFAULT_DATA_ROOT) -> str:
    """One entry as text: its fields, citation, files, manual steps and how to ingest it."""
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
    directory = default_dir(entry.name, data_root)
    steps = manual_steps(entry, directory)  # {dir} -> the real folder
    if steps:
        lines.append("  manual steps:")
        lines += [f"    {line}" for line in steps.rstrip().splitlines()]
    lines.append(f"  source folder for the adapter: {source_dir(entry, directory)}")
    lines.append(f"  ingest with: {ingest_command(entry, directory)}")
    return "\n".join(lines)


def format_fetch_report(report: FetchReport, catalog_path: Path | None = None) -> str:
    """What a fetch found: manual steps, one line per file and archive, and (when complete)
    the folder and the command that ingests it."""
    lines = []
    if report.manual_steps:
        lines += [f"{report.dataset} must be downloaded by hand:\n", report.manual_steps]
    for status in report.files:
        detail = f" ({status.detail})" if status.detail else ""
        lines.append(f"{status.state:>12}  {status.path}{detail}")
    if report.glob_matches is not None:
        lines.append(
            f"{report.glob_matches} file(s) match {report.expect_glob} in {report.directory}"
        )
    for result in report.extracted:
        verb = "already extracted" if result.skipped else "extracted"
        names = ", ".join(result.top_level) or "nothing"
        lines.append(f"{verb:>12}  {result.archive.name} -> {names}")
    if report.complete:
        lines.append(f"{report.dataset}: complete in {report.directory}")
        entry = get_entry(report.dataset, catalog_path)
        lines.append(f"ingest with: {ingest_command(entry, report.directory)}")
    return "\n".join(lines)


def fetch_document(report: FetchReport, catalog_path: Path | None = None) -> dict[str, Any]:
    """A fetch's outcome as a dict (``fetch --json``): every file's state, the archives, the
    folder to give the adapter and, when complete, the command that ingests it (else
    ``shortfall``: why not)."""
    doc: dict[str, Any] = {
        "dataset": report.dataset,
        "directory": str(report.directory),
        "complete": report.complete,
        "files": [{"path": f.path, "state": f.state, "detail": f.detail} for f in report.files],
        "manual_steps": report.manual_steps,
        "expect_glob": report.expect_glob,
        "glob_matches": report.glob_matches,
        "extracted": [
            {
                "archive": str(r.archive),
                "target": str(r.target),
                "top_level": list(r.top_level),
                "members": r.members,
                "skipped": r.skipped,
            }
            for r in report.extracted
        ],
        "source": None if report.source is None else str(report.source),
        "ingest_command": None,
        "shortfall": None,
    }
    if report.complete:
        entry = get_entry(report.dataset, catalog_path)
        doc["ingest_command"] = ingest_command(entry, report.directory)
    else:
        doc["shortfall"] = fetch_shortfall(report)
    return doc


def fetch_shortfall(report: FetchReport) -> str:
    """Why an incomplete fetch is not complete: the bad files, or the glob nothing matches."""
    missing = ", ".join(f.path for f in report.problems) or f"no file matches {report.expect_glob}"
    return f"{report.dataset}: not complete in {report.directory}: {missing}"


def adapter_rows() -> list[dict[str, Any]]:
    """One dict per registered adapter: ``name``, ``available``, ``summary`` (None when it
    cannot be imported) and ``error`` (why not, else None)."""
    from adapters.registry import adapter_names, get_adapter_class

    rows: list[dict[str, Any]] = []
    for name in adapter_names():
        try:
            cls = get_adapter_class(name)
        except Exception as exc:  # noqa: BLE001 - list every adapter whatever its state
            error = f"{type(exc).__name__}: {exc}"
            rows.append({"name": name, "available": False, "summary": None, "error": error})
            continue
        rows.append({"name": name, "available": True, "summary": cls.summary, "error": None})
    return rows


def format_adapters(rows: list[dict[str, Any]] | None = None) -> str:
    """One line per registered adapter: name and summary, or why it cannot be imported."""
    lines = []
    for row in adapter_rows() if rows is None else rows:
        if row["available"]:
            lines.append(f"{row['name']:<14} {row['summary']}")
        else:
            lines.append(f"{row['name']:<14} unavailable: {row['error']}")
    return "\n".join(lines)
