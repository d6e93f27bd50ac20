"""``emgcorpus fetch``: get a catalog dataset's files into a folder, and check them.

Open datasets are downloaded from the URLs in ``catalog.yaml`` (see
:mod:`emgcorpus.catalog.http` for resume, retries, checksum and HTML detection). For
datasets a user must download by hand (``access: login`` such as NinaPro, or hosts that
need a browser), :func:`fetch` returns the exact manual steps, extracts the archives the
user placed that match the entry's ``extract_glob``, and verifies what is in the folder:
listed files by size and sha256 where known, else the entry's ``expect_glob``.

Listed archives (zip, tar.*; see :mod:`emgcorpus.catalog.archive`) are extracted safely into
the dataset folder once their checks pass, idempotently. :func:`source_dir` tells which
folder to give the adapter afterwards and :func:`ingest_command` the exact command.

The default folder is ``./emg-data/<dataset>``.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

import yaml

from emgcorpus.catalog.archive import (
    ArchiveClashError,
    ExtractResult,
    extract_archive,
    is_archive,
    marker_path,
)
from emgcorpus.catalog.entries import CatalogEntry, CatalogFile, get_entry
from emgcorpus.catalog.http import DownloadError, RetryPolicy, download
from emgcorpus.checksums import file_sha256

DEFAULT_DATA_ROOT = Path("emg-data")

FileState = Literal["ok", "present", "downloaded", "missing", "wrong-size", "bad-checksum"]


@dataclass(frozen=True)
class FileStatus:
    """What was found for one listed file. ``present``: exists, nothing known to check."""

    path: str
    state: FileState
    detail: str = ""


@dataclass
class FetchReport:
    """The outcome of :func:`fetch` or :func:`verify_local` for one dataset folder."""

    dataset: str
    directory: Path
    files: list[FileStatus] = field(default_factory=list)
    #: the manual steps, filled in for datasets that are downloaded by hand
    manual_steps: str | None = None
    #: how many files match ``expect_glob`` (None when the entry has none)
    glob_matches: int | None = None
    expect_glob: str | None = None
    #: archives extracted (or found already extracted) into ``directory``
    extracted: list[ExtractResult] = field(default_factory=list)
    #: the folder to give the adapter (see :func:`source_dir`)
    source: Path | None = None

    @property
    def problems(self) -> list[FileStatus]:
        """Listed files that are missing or fail their size/checksum check."""
        return [f for f in self.files if f.state in ("missing", "wrong-size", "bad-checksum")]

    @property
    def complete(self) -> bool:
        """True when every listed file is good and ``expect_glob`` (if any) matches a file."""
        if self.problems:
            return False
        return not (self.glob_matches is not None and self.glob_matches == 0)


def default_dir(dataset: str, root: Path | None = None) -> Path:
    """Where ``fetch`` puts a dataset by default: ``<root>/<dataset>`` (root ``./emg-data``)."""
    return Path(root if root is not None else DEFAULT_DATA_ROOT) / dataset


def manual_steps(entry: CatalogEntry, directory: Path) -> str | None:
    """The entry's manual download steps with ``{dir}`` replaced by ``directory``."""
    if not entry.manual_steps:
        return None
    return entry.manual_steps.replace("{dir}", str(directory)).rstrip() + "\n"


def needs_manual_download(entry: CatalogEntry) -> bool:
    """True for ``login`` datasets and for entries whose files have no download URL."""
    return entry.access == "login" or (not entry.files and entry.manual_steps is not None)


def _check_file(spec: CatalogFile, directory: Path, *, hash_files: bool = True) -> FileStatus:
    path = directory / spec.path
    if not path.is_file():
        return FileStatus(spec.path, "missing")
    size = path.stat().st_size
    if spec.size is not None and size != spec.size:
        return FileStatus(spec.path, "wrong-size", f"expected {spec.size} bytes, found {size}")
    if spec.sha256 is not None and hash_files:
        found = file_sha256(path)
        if found != spec.sha256:
            return FileStatus(spec.path, "bad-checksum", f"expected {spec.sha256}, found {found}")
        return FileStatus(spec.path, "ok")
    return FileStatus(spec.path, "ok" if spec.size is not None else "present")


def source_dir(entry: CatalogEntry, directory: Path) -> Path:
    """The folder to give ``entry``'s adapter once its files are in ``directory``.

    ``directory / entry.source`` when the catalog says; otherwise, when the entry's
    extracted archives produced exactly one top-level folder (read from their markers),
    that folder; otherwise ``directory`` itself.
    """
    directory = Path(directory)
    if entry.source:
        return directory / entry.source
    folders: set[str] = set()
    for spec in entry.files:
        if not spec.is_extracted:
            continue
        try:
            doc = json.loads(marker_path(directory / spec.path, directory).read_text("utf-8"))
        except (OSError, ValueError):
            continue
        names = doc.get("top_level", []) if isinstance(doc, dict) else []
        folders.update(str(n) for n in names if (directory / str(n)).is_dir())
    return directory / folders.pop() if len(folders) == 1 else directory


def _option_text(value: Any) -> str:
    """An adapter option as ``--option key=VALUE`` text that the CLI parses back to ``value``."""
    if isinstance(value, str):
        try:
            plain = yaml.safe_load(value) == value
        except yaml.YAMLError:
            plain = False
        return value if plain else json.dumps(value)
    return json.dumps(value)  # numbers, booleans, lists: JSON is YAML


def ingest_command(entry: CatalogEntry, directory: Path) -> str:
    """The shell command that ingests ``entry`` from its fetched folder ``directory``.

    Adapter options from the catalog become ``--option key=value``; ``--dataset`` is added
    when the adapter would otherwise write another lake name than :attr:`lake_dataset`.
    """
    from adapters.registry import make_adapter

    src = source_dir(entry, directory)
    options = {k: v for k, v in entry.options.items() if k != "dataset"}
    parts = ["emgcorpus", "ingest", entry.adapter, str(src)]
    for key, value in options.items():
        parts += ["--option", f"{key}={_option_text(value)}"]
    default = make_adapter(entry.adapter, str(src), **options).dataset
    if default != entry.lake_dataset:
        parts += ["--dataset", entry.lake_dataset]
    return " ".join(shlex.quote(p) for p in parts)


def _prefixed(say: Callable[[str], None], prefix: str, line: str) -> None:
    say(f"{prefix}: {line}")


def _extract_listed(
    entry: CatalogEntry,
    report: FetchReport,
    say: Callable[[str], None],
    progress: bool | None = None,
) -> None:
    """Extract every listed archive whose check passed; fill ``report.extracted``."""
    good = {f.path for f in report.files if f.state in ("ok", "present", "downloaded")}
    for spec in entry.files:
        if spec.is_extracted and spec.path in good:
            path = report.directory / spec.path
            result = extract_archive(path, report.directory, progress=progress)
            verb = "already extracted" if result.skipped else "extracted"
            say(f"{spec.path}: {verb} ({result.members} members) into {report.directory}")
            report.extracted.append(result)


def _extract_placed(
    entry: CatalogEntry, report: FetchReport, say: Callable[[str], None], progress: bool | None
) -> None:
    """Extract the archives a user placed that match ``entry.extract_glob`` (sorted)."""
    if not entry.extract_glob or not report.directory.is_dir():
        return
    listed = {f.path for f in entry.files}
    for path in sorted(report.directory.glob(entry.extract_glob)):
        rel = path.relative_to(report.directory).as_posix()
        if path.is_file() and is_archive(path.name) and rel not in listed:
            try:
                result = extract_archive(path, path.parent, progress=progress)
            except ArchiveClashError as exc:  # unpacked by hand already: keep the user's copy
                say(f"{rel}: not extracted: {exc.problem}")
                continue
            verb = "already extracted" if result.skipped else "extracted"
            say(f"{rel}: {verb} ({result.members} members) into {path.parent}")
            report.extracted.append(result)


def verify_local(entry: CatalogEntry, directory: Path, *, hash_files: bool = True) -> FetchReport:
    """Check a dataset folder without any network access.

    Listed files are checked for presence, size [bytes] and sha256 (when the catalog knows
    them; ``hash_files=False`` skips hashing); ``expect_glob`` counts matching files.
    """
    directory = Path(directory)
    report = FetchReport(entry.name, directory, expect_glob=entry.expect_glob)
    report.files = [_check_file(f, directory, hash_files=hash_files) for f in entry.files]
    if entry.expect_glob:
        matches = directory.glob(entry.expect_glob) if directory.is_dir() else iter(())
        report.glob_matches = sum(1 for p in matches if p.is_file())
    report.source = source_dir(entry, directory)
    return report


def fetched_state(entry: CatalogEntry, directory: Path) -> str:
    """``yes``, ``partial`` or ``no``: are the dataset's files in ``directory``? (no hashing)"""
    report = verify_local(entry, directory, hash_files=False)
    listed = [f for f in report.files if f.state != "missing"]
    if report.files and len(listed) == len(report.files) and not report.problems:
        return "yes" if report.glob_matches != 0 else "partial"
    if listed:
        return "partial"
    if not report.files and report.glob_matches:
        return "yes"
    return "no"


def fetch(
    dataset: str,
    to: Path | None = None,
    *,
    catalog_path: Path | None = None,
    policy: RetryPolicy | None = None,
    progress: bool | None = None,
    echo: Callable[[str], None] | None = None,
) -> FetchReport:
    """Download (or, for manual datasets, verify) ``dataset`` into ``to``.

    Files already present whose sha256 (or, lacking one, size) matches the catalog are
    not downloaded again; a present file that fails its check is downloaded again. For
    manual datasets the report carries the steps and what is missing; nothing is
    downloaded. Listed archives that pass their checks are then extracted (once; see
    :func:`emgcorpus.catalog.archive.extract_archive`). ``echo`` receives one line per file
    (default: silent).
    Raises DownloadError naming the URL, dataset and file (unreachable host, HTTP error,
    HTML page), ChecksumError, or ArchiveError (unsafe or unreadable archive: nothing
    extracted).
    """
    entry = get_entry(dataset, catalog_path)
    directory = Path(to) if to is not None else default_dir(entry.name)
    say = echo or (lambda _line: None)
    if needs_manual_download(entry):
        placed = FetchReport(entry.name, directory)
        _extract_placed(entry, placed, say, progress)
        report = verify_local(entry, directory)
        report.extracted = placed.extracted
        report.manual_steps = manual_steps(entry, directory)
        _extract_listed(entry, report, say, progress)
        report.source = source_dir(entry, directory)
        return report
    directory.mkdir(parents=True, exist_ok=True)
    report = FetchReport(entry.name, directory, expect_glob=entry.expect_glob)
    for spec in entry.files:
        status = _check_file(spec, directory)
        if status.state == "ok" or (status.state == "present" and spec.sha256 is None):
            say(f"{spec.path}: already here ({status.state})")
            report.files.append(status)
            continue
        if status.state != "missing":
            say(f"{spec.path}: {status.state} ({status.detail}); downloading again")
            (directory / spec.path).unlink()
        say(f"{spec.path}: downloading {spec.url}")
        try:
            download(
                spec.url,
                directory / spec.path,
                sha256=spec.sha256,
                size=spec.size,
                policy=policy,
                progress=progress,
                on_retry=partial(_prefixed, say, spec.path),
            )
        except DownloadError as exc:
            raise DownloadError(
                exc.url,
                f"{exc.problem} (dataset {entry.name}, file {spec.path}; "
                "run the same command again to resume)",
            ) from None
        report.files.append(FileStatus(spec.path, "downloaded"))
    report.manual_steps = manual_steps(entry, directory) if entry.manual_steps else None
    _extract_listed(entry, report, say, progress)
    report.source = source_dir(entry, directory)
    return report
