"""Contract-test source of the ``grabmyo`` adapter:
the real GRABMyo participant 1 in ../shared/data."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import shared_data


def make_source(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    return shared_data("grabmyo_p1"), {}
