"""emg2pose contract source: a tiny session HDF5 in the released layout."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from tests.adapters.clocks import clock_stamps

T0 = 1_650_000_000.0


def write_session(
    path: Path,
    n: int = 300,
    *,
    joints: int = 20,
    fields: tuple[str, ...] = ("time", "emg", "joint_angles"),
    time: np.ndarray | None = None,
) -> Path:
    """Group ``emg2pose`` / compound ``timeseries`` (time, emg 16, joint_angles) + attrs;
    ``time`` (n stamps [s]) replaces the regular clock."""
    rng = np.random.default_rng(1)
    shapes = {"time": ("<f8", ()), "emg": ("<f4", (16,)), "joint_angles": ("<f4", (joints,))}
    ts = np.zeros(n, dtype=np.dtype([(f, shapes[f][0], shapes[f][1]) for f in fields]))
    if "time" in fields:
        ts["time"] = T0 + np.arange(n) / 2000.0 if time is None else time
    if "emg" in fields:
        ts["emg"] = rng.normal(0, 5, (n, 16)).astype(np.float32)
    if "joint_angles" in fields:
        ts["joint_angles"] = rng.uniform(-1, 1, (n, joints)).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as h5:
        g = h5.create_group("emg2pose")
        g.create_dataset("timeseries", data=ts)
        g.attrs.update(
            {
                "session": "2022-04-07-1649318400-8125b",
                "side": "left",
                "stage": "FingerPinches1",
                "start": 1_650_000_000.0,
                "end": 1_650_000_000.0 + n / 2000.0,
                "num_channels": 16,
                "user": "29ddab35d7",
                "sample_rate": 2000.0,
            }
        )
    return path


def make_source(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "emg2pose_dataset_mini"
    write_session(root / "2022-04-07-1649318400-8125b-left-FingerPinches1.hdf5")
    write_session(root / "2022-04-07-1649318400-8125b-right-FingerPinches1.hdf5", n=250)
    return root, {}


def make_clock_source(tmp_path: Path, clock: str) -> tuple[Path, dict[str, str], np.ndarray]:
    """One session whose ``time`` field carries ``clock`` (tests/adapters/clocks.py)."""
    stamps = clock_stamps(clock, 300, 2000.0, t0=T0)
    root = tmp_path / "emg2pose-clock"
    write_session(root / "2022-04-07-1649318400-8125b-left-Clock1.hdf5", n=stamps.size, time=stamps)
    return root, {}, stamps
