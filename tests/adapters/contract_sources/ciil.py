"""Contract-test source of the ``ciil`` adapter:
the real LibEMG CIIL Myo sets in ../shared/data."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import shared_data


def make_source(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    return shared_data("ciil_myo"), {}
