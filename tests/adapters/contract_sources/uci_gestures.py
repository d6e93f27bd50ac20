"""UCI "EMG data for gestures" contract source: tiny tab-separated files, original layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.adapters.clocks import clock_stamps, duplicate_rows

HEADER = "time\t" + "\t".join(f"channel{k}" for k in range(1, 9)) + "\tclass\n"


def write_uci_file(
    path: Path,
    labels: list[int],
    *,
    step_ms: int = 1,
    seed: int = 0,
    time_ms: list[int] | np.ndarray | None = None,
    values: np.ndarray | None = None,
) -> Path:
    """One file: time [ms] from 1 in ``step_ms`` steps (or ``time_ms``), 8 channels ~1e-5
    (or ``values``, n x 8), ``labels``."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    times = np.arange(n) * step_ms + 1 if time_ms is None else np.asarray(time_ms)
    if values is None:
        values = rng.normal(0, 1e-5, (n, 8)).round(5)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [HEADER]
    for t, row, label in zip(times, values, labels, strict=True):
        text = "\t".join(f"{v:.5f}" for v in row)
        lines.append(f"{t:g}\t{text}\t{label}\n")
    path.write_text("".join(lines))
    return path


def jittered_ms(n: int, seed: int = 0) -> np.ndarray:
    """A release-like clock [ms] from 1: steps of 1 ms, 8 % of them 2-4 ms."""
    rng = np.random.default_rng(seed)
    steps = np.where(rng.random(n - 1) < 0.08, rng.integers(2, 5, n - 1), 1)
    return 1 + np.concatenate(([0], np.cumsum(steps)))


def make_clock_source(tmp_path: Path, clock: str) -> tuple[Path, dict[str, str], np.ndarray]:
    """One file whose time column [ms] carries ``clock`` (tests/adapters/clocks.py)."""
    n = 120
    if clock == "jittered":
        stamps_ms = jittered_ms(n).astype(np.float64)
    else:
        stamps_ms = np.round(clock_stamps(clock, n, 1000.0, t0=0.001) * 1000.0)
    labels = [1] * 40 + [2] * 40 + [1] * 40
    values = np.random.default_rng(5).normal(0, 1e-5, (n, 8)).round(5)
    labels = list(duplicate_rows(np.asarray(labels)[:, None], clock, n)[:, 0])
    values = duplicate_rows(values, clock, n)
    root = tmp_path / "uci-clock"
    write_uci_file(root / "01" / "1_raw_data_x.txt", labels, time_ms=stamps_ms, values=values)
    return root, {}, stamps_ms / 1000.0


def make_source(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "EMG_data_for_gestures-master"
    labels = [0] * 5 + [1] * 20 + [0] * 3 + [2] * 20 + [0] * 2
    write_uci_file(root / "01" / "1_raw_data_13-12_22.03.16.txt", labels, seed=1)
    write_uci_file(root / "01" / "2_raw_data_13-13_22.03.16.txt", labels, seed=2)
    write_uci_file(root / "02" / "1_raw_data_14-19_22.03.16.txt", labels, seed=3)
    return root, {}
