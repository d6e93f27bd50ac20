"""Ingest a source folder by adapter name, its files checked against the catalog's sha256.

What ``emgcorpus ingest ADAPTER SOURCE`` does, as one call: adapter options (from a
mapping file and/or a dict), the adapter from :mod:`adapters.registry`, the checksums of
the dataset it writes from ``catalog.yaml``, then :func:`emgcorpus.ingest.ingest`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from emgcorpus.catalog.entries import checksums_for
from emgcorpus.errors import ConfigError
from emgcorpus.ingest import IngestReport, ingest


def read_options_file(path: Path) -> dict[str, Any]:
    """Adapter options from a YAML file: its top-level keys (ConfigError if it is no mapping)."""
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read mapping file ({exc})") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a YAML mapping at top level")
    return doc


def ingest_source(
    lake: str | Path,
    adapter: str,
    source: str | Path,
    *,
    options: Mapping[str, Any] | None = None,
    mapping_file: Path | None = None,
    dataset: str | None = None,
    checksums: bool = True,
    on_error: str = "skip",
    progress: bool = True,
) -> IngestReport:
    """Ingest ``source`` with the registered adapter ``adapter`` into ``lake``.

    Adapter options are the top-level keys of ``mapping_file``, then ``options`` over them;
    ``dataset`` (when given) overrides the adapter's dataset name. With ``checksums`` the
    files are checked against the sha256 that catalog.yaml lists for that dataset.
    """
    from adapters.registry import make_adapter

    merged: dict[str, Any] = read_options_file(mapping_file) if mapping_file is not None else {}
    merged.update(options or {})
    if dataset is not None:
        merged["dataset"] = dataset
    ad = make_adapter(adapter, str(source), **merged)
    sums = checksums_for(ad.dataset) if checksums else {}
    return ingest(lake, ad, checksums=sums, on_error=on_error, progress=progress)
