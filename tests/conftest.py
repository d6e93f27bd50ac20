"""Shared test fixtures: where the real recordings are, and how to skip when absent."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: Real EMG recordings in their original formats, beside the checkout (never copied in).
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()


def shared_data(*parts: str) -> Path:
    """Path below ../shared/data; skips the test with a clear reason if it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path} (expected ../shared/data beside the repo)")
    return path


@pytest.fixture
def lake_path(tmp_path: Path) -> Path:
    """A fresh, empty lake folder."""
    return tmp_path / "lake"
