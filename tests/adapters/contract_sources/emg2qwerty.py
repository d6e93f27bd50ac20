"""emg2qwerty contract source: a tiny session HDF5 in the released layout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from tests.adapters.clocks import clock_stamps

T0 = 1_630_000_000.0


def write_session(
    path: Path,
    n: int = 400,
    *,
    keystrokes: list[dict[str, Any]] | None = None,
    fields: tuple[str, ...] = ("time", "emg_left", "emg_right"),
    fs: float = 2000.0,
    time: np.ndarray | None = None,
) -> Path:
    """Group ``emg2qwerty`` / compound ``timeseries`` + JSON metadata attributes; ``time``
    (n stamps [s]) replaces the regular clock."""
    rng = np.random.default_rng(0)
    shapes = {"time": ("<f8", ()), "emg_left": ("<f4", (16,)), "emg_right": ("<f4", (16,))}
    dtype = np.dtype([(f, shapes[f][0], shapes[f][1]) for f in fields])
    ts = np.zeros(n, dtype=dtype)
    if "time" in fields:
        ts["time"] = T0 + np.arange(n) / fs if time is None else time
    for f in ("emg_left", "emg_right"):
        if f in fields:
            ts[f] = rng.normal(0, 10, (n, 16)).astype(np.float32)
    if keystrokes is None:
        keystrokes = [
            {"key": "h", "start": T0 + 0.010, "end": T0 + 0.050},
            {"key": "i", "start": T0 + 0.100, "end": T0 + 0.120},
        ]
    prompts = [{"start": T0, "end": T0 + 0.19, "payload": {"text": "hi"}}]
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as h5:
        g = h5.create_group("emg2qwerty")
        g.create_dataset("timeseries", data=ts)
        g.attrs["session_name"] = path.stem
        g.attrs["user"] = "89335547"
        g.attrs["condition"] = "on_keyboard"
        g.attrs["duration_mins"] = n / fs / 60
        g.attrs["keystrokes"] = json.dumps(keystrokes)
        g.attrs["prompts"] = json.dumps(prompts)
    return path


def make_source(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "emg2qwerty"
    write_session(root / "2021-06-03-1622765527-keystrokes-dca-study@1-0efbe614.hdf5")
    write_session(root / "2021-06-04-1622862148-keystrokes-dca-study@1-0efbe614.hdf5", n=300)
    return root, {}


def make_clock_source(tmp_path: Path, clock: str) -> tuple[Path, dict[str, str], np.ndarray]:
    """One session whose ``time`` field carries ``clock`` (tests/adapters/clocks.py)."""
    stamps = clock_stamps(clock, 400, 2000.0, t0=T0)
    root = tmp_path / "emg2qwerty-clock"
    write_session(root / "clock.hdf5", n=stamps.size, time=stamps)
    return root, {}, stamps
