"""Build small, valid catalog files for tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def entry(name_: str, **overrides: Any) -> dict[str, Any]:
    """A valid open-access catalog entry; ``overrides`` replace or add fields."""
    base: dict[str, Any] = {
        "name": name_,
        "title": f"test dataset {name_}",
        "adapter": "sim",
        "homepage": "http://127.0.0.1/",
        "access": "open",
        "licence": "CC0",
        "citation": "nobody, test data",
        "doi": None,
        "device": "test device",
        "channels": 8,
        "layout": "ring of 8",
        "fs_hz": 200,
        "subjects": 1,
        "sessions": 1,
        "classes": 2,
        "tasks": "open/close",
        "size": "1 kB",
        "files": [],
    }
    base.update(overrides)
    return base


def write_catalog(path: Path, entries: list[dict[str, Any]]) -> Path:
    """Write ``entries`` as a catalog.yaml at ``path`` and return the path."""
    path.write_text(yaml.safe_dump({"datasets": entries}, sort_keys=False), encoding="utf-8")
    return path
