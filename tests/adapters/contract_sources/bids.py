"""BIDS-EMG contract source: a tiny tree written per the BIDS-EMG chapter (EDF data files
from the EDF contract source's byte-level writer, sidecars as TSV/JSON text), with
channels labelled ``EMG0``.. and just ``EMG`` that only ``channels.tsv`` types as EMG."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tests.adapters.contract_sources.edf import write_edf

LABELS = ["EMG0", "EMG1", "EMG", "Temp"]
FS_HZ = 500.0


def write_bids_recording(
    root: Path, subject: str, run: int, digital: np.ndarray, *, labels: list[str] = LABELS
) -> Path:
    """One ``sub-<subject>/emg/..._run-<run>_emg.edf`` with _emg.json, _channels.tsv and
    _events.tsv (two events); returns the EDF path."""
    folder = root / f"sub-{subject}" / "emg"
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"sub-{subject}_task-grip_run-{run}"
    edf = write_edf(Path(f"{stem}_emg.edf"), digital, labels, fs=FS_HZ, phys_dim=["uV"] * 3 + [""])
    Path(f"{stem}_emg.json").write_text(
        json.dumps(
            {
                "TaskName": "grip",
                "SamplingFrequency": FS_HZ,
                "PowerLineFrequency": 50,
                "SoftwareFilters": "n/a",
                "EMGReference": "n/a",
                "EMGPlacementScheme": "Other",
            }
        )
    )
    rows = ["name\ttype\tunits\ttarget_muscle"]
    rows += [f"{n}\tEMG\tuV\tflexor carpi radialis" for n in labels[:3]]
    rows += [f"{labels[3]}\tMISC\tn/a\tn/a"]
    Path(f"{stem}_channels.tsv").write_text("\n".join(rows) + "\n")
    Path(f"{stem}_events.tsv").write_text(
        "onset\tduration\ttrial_type\n0.0\t0.5\trest\n0.5\t1.0\thand_close\n"
    )
    return edf


def make_source(tmp_path: Path) -> tuple[Path, dict]:
    rng = np.random.default_rng(0)
    root = tmp_path / "bids"
    root.mkdir()
    (root / "dataset_description.json").write_text('{"Name": "tiny", "BIDSVersion": "1.11.0"}')
    participants = "participant_id\tage\tsex\nsub-01\t30\tF\nsub-02\tn/a\tM\n"
    (root / "participants.tsv").write_text(participants)
    for subject, run in (("01", 1), ("01", 2), ("02", 1)):
        write_bids_recording(root, subject, run, rng.integers(-2000, 2000, size=(2 * 500, 4)))
    return root, {}
