"""Contract-test source of the ``cote-allard`` adapter:
the real Côté-Allard Myo armband set in ../shared/data."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import shared_data


def make_source(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    return shared_data("cote_allard_myo"), {}
