"""Re-hash the source files a lake was ingested from (``emgcorpus verify --sources``).

Every ``recordings`` row records the source files it was read from (relative to the
folder given to the adapter) with their sha256 at ingest. :func:`verify_sources` finds
those files again, hashes them, and lists each one that is missing, that changed since
ingest, or that differs from the sha256 ``catalog.yaml`` lists for it (also when the lake
and the catalog disagree with each other). This is the guard for formats whose readers
cannot notice a flipped byte (headerless binary files such as Côté-Allard ``.dat``).

Where the files are: a folder given per lake dataset (``sources``), else the folder
``fetch`` puts each catalog entry of that dataset in (``<data_root>/<entry>``, then the
entry's adapter source folder inside it, :func:`emgcorpus.catalog.fetch.source_dir`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emgcorpus.catalog.entries import checksums_for, entries_for_dataset
from emgcorpus.catalog.fetch import default_dir, source_dir
from emgcorpus.checksums import file_sha256
from emgcorpus.lake import Lake


@dataclass
class SourceCheck:
    """What :func:`verify_sources` found: files re-hashed and one line per problem."""

    files: int = 0
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"files": self.files, "problems": list(self.problems)}


def _roots(
    dataset: str, sources: Mapping[str, Path], data_root: Path | None, catalog_path: Path | None
) -> list[Path]:
    """Folders that may hold ``dataset``'s source files, in the order they are tried."""
    if dataset in sources:
        return [Path(sources[dataset])]
    roots = []
    for entry in entries_for_dataset(dataset, catalog_path):
        folder = default_dir(entry.name, data_root)
        roots.append(source_dir(entry, folder) if folder.is_dir() else folder)
    return roots


def _find(name: str, roots: list[Path]) -> Path | None:
    if Path(name).is_absolute():
        return Path(name) if Path(name).is_file() else None
    for root in roots:
        if (root / name).is_file():
            return root / name
    return None


def verify_sources(
    lake_path: str | Path,
    sources: Mapping[str, str | Path] | None = None,
    data_root: str | Path | None = None,
    catalog_path: Path | None = None,
) -> SourceCheck:
    """Re-hash every source file the lake at ``lake_path`` records (each file once) against
    the sha256 recorded at ingest and the one ``catalog.yaml`` lists.

    ``sources`` maps a lake dataset name to its source folder (what was given to
    ``emgcorpus ingest``); other datasets are looked for where ``fetch`` puts them under
    ``data_root`` (default ``./emg-data``). Datasets whose recordings list no files (the
    simulated corpus) are skipped.
    """
    given = {str(k): Path(v) for k, v in (sources or {}).items()}
    root = Path(data_root) if data_root is not None else None
    check = SourceCheck()
    recs = Lake.open(lake_path).recordings()
    for dataset in sorted(set(recs["dataset"].to_list())):
        rows = recs.filter(recs["dataset"] == dataset)
        recorded: dict[str, str] = {}
        for files, shas in zip(rows["source_files"].to_list(), rows["source_sha256"].to_list()):
            recorded.update(zip(files or [], shas or []))
        if not recorded:
            continue
        roots = _roots(dataset, given, root, catalog_path)
        catalog = checksums_for(dataset, catalog_path)
        if not roots:
            check.problems.append(
                f"dataset {dataset}: {len(recorded)} source files, but no folder is known "
                f"(not in catalog.yaml: give --source {dataset}=DIR)"
            )
            continue
        for name, at_ingest in sorted(recorded.items()):
            listed = catalog.get(name)
            if listed is not None and listed.lower() != at_ingest:
                check.problems.append(
                    f"dataset {dataset} file {name}: catalog.yaml lists sha256 {listed}, "
                    f"the lake recorded {at_ingest} at ingest"
                )
            path = _find(name, roots)
            if path is None:
                where = ", ".join(str(r) for r in roots)
                check.problems.append(f"dataset {dataset} file {name}: missing (looked in {where})")
                continue
            sha = file_sha256(path)
            check.files += 1
            if sha != at_ingest:
                check.problems.append(
                    f"{path}: sha256 {sha} differs from the {at_ingest} recorded at ingest "
                    "(the source file changed)"
                )
            if listed is not None and sha != listed.lower():
                check.problems.append(f"{path}: sha256 {sha} differs from catalog.yaml's {listed}")
    return check
