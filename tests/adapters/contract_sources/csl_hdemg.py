"""Contract-test source of the ``csl-hdemg`` adapter: two tiny gesture files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io


def write_gesture(root: Path, subject: int, session: int, gesture: int, reps: int = 2) -> Path:
    """``subject<k>/session<s>/gest<g>.mat`` with a cell array ``gestures`` of 192 x L trials."""
    folder = root / f"subject{subject}" / f"session{session}"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(gesture + 10 * session)
    cells = np.empty((reps, 1), dtype=object)
    for k in range(reps):
        cells[k, 0] = rng.normal(0, 10.0, (192, 100 + 5 * k))
    path = folder / f"gest{gesture}.mat"
    scipy.io.savemat(path, {"gestures": cells})
    return path


def make_source(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    write_gesture(tmp_path, 1, 1, 0)
    write_gesture(tmp_path, 1, 1, 11)
    return tmp_path, {}
