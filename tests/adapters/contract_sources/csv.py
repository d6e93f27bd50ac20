"""Contract-test source of the ``csv`` adapter: tiny CSV files with a header, three sample
columns and a label column."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.adapters.clocks import clock_stamps

CSV_OPTIONS = {
    "fs": "500",
    "header": "true",
    "columns": "c1,c2,c3",
    "labels": "label",
    "rest_label": "rest",
    "units": "uV",
    "pattern": r"(?P<subject>sub\d+)/(?P<session>ses\d+)",
}


def write_csv_files(folder: Path, n_samples: int = 500) -> list[Path]:
    """``sub<k>/ses<j>/run.csv`` with columns c1,c2,c3 (integers) and label (text)."""
    rng = np.random.default_rng(3)
    labels = np.repeat(["rest", "fist", "rest", "open", "rest"], n_samples // 5)
    paths = []
    for k, j in ((1, 1), (1, 2), (2, 1)):
        path = folder / f"sub{k}" / f"ses{j}" / "run.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        x = rng.integers(-1000, 1000, size=(n_samples, 3))
        rows = ["c1,c2,c3,label"]
        rows += [f"{a},{b},{c},{lab}" for (a, b, c), lab in zip(x, labels, strict=True)]
        path.write_text("\n".join(rows) + "\n")
        paths.append(path)
    return paths


def make_source(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    write_csv_files(tmp_path / "csv")
    return tmp_path / "csv", dict(CSV_OPTIONS)


def make_clock_source(tmp_path: Path, clock: str) -> tuple[Path, dict[str, str], np.ndarray]:
    """One CSV whose ``t`` column (option ``time``, in ms) carries ``clock``."""
    stamps = clock_stamps(clock, 200, 500.0)
    x = np.random.default_rng(4).integers(-1000, 1000, size=(stamps.size, 2))
    path = tmp_path / "csv-clock" / "run.csv"
    path.parent.mkdir(parents=True)
    rows = ["t,c1,c2"] + [f"{t * 1000:.6f},{a},{b}" for t, (a, b) in zip(stamps, x, strict=True)]
    path.write_text("\n".join(rows) + "\n")
    options = {"fs": "500", "header": "true", "time": "t", "time_units": "ms"}
    return path.parent, options, stamps
