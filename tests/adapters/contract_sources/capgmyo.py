"""Contract-test source of the ``capgmyo`` adapter: two tiny DB-a trial files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io


def write_trial(folder: Path, subject: int, gesture: int, trial: int, n: int = 200) -> Path:
    """One trial in the release format: data (n x 128) in [-1, 1], gesture, subject, trial."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(subject * 1000 + gesture * 10 + trial)
    path = folder / f"{subject:03d}-{gesture:03d}-{trial:03d}.mat"
    scipy.io.savemat(
        path,
        {
            "data": np.clip(rng.normal(0, 0.05, (n, 128)), -1, 1),
            "gesture": np.array([[gesture]], dtype=np.uint8),
            "subject": np.array([[subject]], dtype=np.uint8),
            "trial": np.array([[trial]], dtype=np.uint8),
        },
    )
    return path


def make_source(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    folder = tmp_path / "dba-preprocessed-001"
    write_trial(folder, 1, 1, 1)
    write_trial(folder, 1, 2, 1)
    return tmp_path, {}
