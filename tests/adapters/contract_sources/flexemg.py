"""Contract-test source of the ``flexemg`` adapter:
the real flexemg 16x4 HD-sEMG in ../shared/data."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import shared_data


def make_source(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    return shared_data("flexemg_hd64"), {}
