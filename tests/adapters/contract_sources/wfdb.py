"""Contract-test source of the ``wfdb`` adapter:
the real PhysioNet emgdb records in ../shared/data."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import shared_data


def make_source(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    return shared_data("physionet_emgdb"), {}
