"""Contract-test source of the ``hyser`` adapter: tiny WFDB PR records and label files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import wfdb

GRIDS = ("ED", "EP", "FD", "FP")


def write_record(folder: Path, stem: str, n: int = 64, seed: int = 0) -> Path:
    """A 256-channel format-16 WFDB record named like the release (``<grid>-<row>-<col>``)."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"{g}-{r}-{c}" for g in GRIDS for r in range(8, 0, -1) for c in range(8, 0, -1)]
    counts = np.random.default_rng(seed).integers(-500, 500, (n, 256)).astype(np.int16)
    wfdb.wrsamp(
        stem,
        fs=2048,
        units=["mV"] * 256,
        sig_name=names,
        d_signal=counts,
        fmt=["16"] * 256,
        adc_gain=[200.0] * 256,
        baseline=[0] * 256,
        write_dir=str(folder),
    )
    return folder / f"{stem}.hea"


def clone_record(hea: Path, folder: Path, stem: str) -> Path:
    """Copy a record under another name (the header names its record and .dat file);
    wfdb.wrsamp takes about 1.5 s for 256 channels, a copy almost nothing."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.dat").write_bytes(hea.with_suffix(".dat").read_bytes())
    (folder / f"{stem}.hea").write_text(hea.read_text().replace(hea.stem, stem))
    return folder / f"{stem}.hea"


def make_session(
    root: Path, subject: int = 1, session: int = 1, template: Path | None = None
) -> Path:
    """A PR session folder: dynamic_raw_sample1-3, one preprocess record, label_dynamic.txt.

    ``template`` (a .hea written by :func:`write_record`) is cloned instead of writing anew.
    """
    folder = root / "pr_dataset" / f"subject{subject:02d}_session{session}"
    if template is None:
        first = write_record(folder, "dynamic_raw_sample1")
    else:
        first = clone_record(template, folder, "dynamic_raw_sample1")
    for stem in ("dynamic_raw_sample2", "dynamic_raw_sample3", "dynamic_preprocess_sample1"):
        clone_record(first, folder, stem)
    (folder / "label_dynamic.txt").write_text("5,12,5")
    return folder


def make_source(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    make_session(tmp_path)
    return tmp_path, {}
