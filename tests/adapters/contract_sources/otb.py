"""Contract-test source of the ``otb`` adapter:
the real openhdemg's OTBiolab+ export in ../shared/data; small written exports (with a
``Time`` cell) for the clock rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io

from tests.adapters.clocks import clock_stamps
from tests.conftest import shared_data


def write_otb(
    path: Path,
    data: np.ndarray,
    labels: list[str],
    fs: float = 2048.0,
    time: np.ndarray | None = None,
) -> Path:
    """A .mat laid out as OTBiolab+ exports it (Data/Time cells, Description cell column)."""
    cell = np.empty((1, 1), dtype=object)
    cell[0, 0] = data.astype(np.float32)
    desc = np.empty((len(labels), 1), dtype=object)
    for k, label in enumerate(labels):
        desc[k, 0] = label
    content = {"Data": cell, "Description": desc, "SamplingFrequency": fs}
    if time is not None:
        tcell = np.empty((1, 1), dtype=object)
        tcell[0, 0] = np.asarray(time, dtype=np.float64).reshape(-1, 1)
        content["Time"] = tcell
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, content)
    return path


def make_source(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    return shared_data("openhdemg_otb"), {}


def make_clock_source(tmp_path: Path, clock: str) -> tuple[Path, dict[str, str], np.ndarray]:
    """One 2-column export whose ``Time`` carries ``clock`` (tests/adapters/clocks.py)."""
    stamps = clock_stamps(clock, 300, 2048.0, t0=7.0)
    data = np.random.default_rng(2).normal(0, 20, (stamps.size, 2))
    labels = [f"Vastus Lateralis - AUX 3 (Channel {k}->{k}) - GR08MM1305 ({k})[uV]" for k in (1, 2)]
    root = tmp_path / "otb-clock"
    write_otb(root / "clock.mat", data, labels, time=stamps)
    return root, {}, stamps
