"""Contract-test source of the ``mat`` adapter: tiny .mat files written with scipy, as
MATLAB's ``save`` writes them (v5), with a per-sample label vector and a rate variable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io

from tests.adapters.clocks import clock_stamps

MAT_OPTIONS = {
    "samples": "emg",
    "fs_variable": "frequency",
    "labels": "stimulus",
    "rest_label": "0",
    "label_names": "1:fist,2:open",
    "units": "mv",
    "pattern": r"S(?P<subject>\d+)_(?P<session>\d+)",
}


def write_mat_files(folder: Path, n_files: int = 3, n_samples: int = 600) -> list[Path]:
    """``S<k>_<session>.mat`` files: int16 ``emg`` (n x 4), ``stimulus`` (n x 1), 1 kHz."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    labels = np.repeat([0, 1, 0, 2, 0, 1], n_samples // 6)[:, None].astype(np.float64)
    paths = []
    for k in range(n_files):
        path = folder / f"S{k + 1}_{k % 2 + 1}.mat"
        emg = rng.integers(-500, 500, size=(n_samples, 4)).astype(np.int16)
        scipy.io.savemat(path, {"emg": emg, "stimulus": labels, "frequency": 1000.0})
        paths.append(path)
    return paths


def make_source(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    write_mat_files(tmp_path / "mat")
    return tmp_path / "mat", dict(MAT_OPTIONS)


def make_clock_source(tmp_path: Path, clock: str) -> tuple[Path, dict[str, str], np.ndarray]:
    """One .mat whose ``t`` vector (option ``time``, in s) carries ``clock``."""
    stamps = clock_stamps(clock, 300, 1000.0)
    emg = np.random.default_rng(8).integers(-500, 500, size=(stamps.size, 4)).astype(np.int16)
    folder = tmp_path / "mat-clock"
    folder.mkdir()
    scipy.io.savemat(folder / "S1_1.mat", {"emg": emg, "t": stamps[:, None]})
    return folder, {"samples": "emg", "fs": "1000", "time": "t"}, stamps
