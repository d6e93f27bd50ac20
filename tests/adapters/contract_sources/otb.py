"""Contract-test source of the ``otb`` adapter:
the real openhdemg's OTBiolab+ export in ../shared/data."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import shared_data


def make_source(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    return shared_data("openhdemg_otb"), {}
