"""UCI "EMG data for gestures" contract source: tiny tab-separated files, original layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np

HEADER = "time\t" + "\t".join(f"channel{k}" for k in range(1, 9)) + "\tclass\n"


def write_uci_file(path: Path, labels: list[int], *, step_ms: int = 1, seed: int = 0) -> Path:
    """One file: time [ms] from 1 in ``step_ms`` steps, 8 channels ~1e-5, ``labels``."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [HEADER]
    for i, label in enumerate(labels):
        values = "\t".join(f"{v:.5f}" for v in rng.normal(0, 1e-5, 8).round(5))
        lines.append(f"{1 + i * step_ms}\t{values}\t{label}\n")
    path.write_text("".join(lines))
    return path


def make_source(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "EMG_data_for_gestures-master"
    labels = [0] * 5 + [1] * 20 + [0] * 3 + [2] * 20 + [0] * 2
    write_uci_file(root / "01" / "1_raw_data_13-12_22.03.16.txt", labels, seed=1)
    write_uci_file(root / "01" / "2_raw_data_13-13_22.03.16.txt", labels, seed=2)
    write_uci_file(root / "02" / "1_raw_data_14-19_22.03.16.txt", labels, seed=3)
    return root, {}
