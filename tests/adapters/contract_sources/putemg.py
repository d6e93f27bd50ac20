"""putEMG contract source: tiny HDF5 files laid out as pandas.to_hdf (PyTables) writes them.

PyTables is not installed, so the layout is written with h5py: ``/data/table`` compound
records (``index`` + ``values_block_N``), the block column names pickled in the
``values_block_N_kind`` attributes, and pandas' group attributes; or the "fixed" layout
(``axis0``, ``block0_items``, ``block0_values``).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import h5py
import numpy as np

from tests.adapters.clocks import clock_stamps, duplicate_rows

EMG = [f"EMG_{k}" for k in range(1, 25)]
BLOCK = [*EMG, "TRAJ_1", "subject", "TRAJ_GT_NO_FILTER", "VIDEO_STAMP", "TRAJ_GT"]


def default_labels(n: int) -> np.ndarray:
    labels = np.full(n, -1, dtype=np.int64)
    labels[10:60] = 0
    labels[70:120] = 1
    labels[130:170] = 6
    return labels


def frame(n: int, subject: int, labels: np.ndarray | None = None) -> np.ndarray:
    """(n, 29) int64 block in BLOCK order: 12-bit counts, labels, subject id."""
    rng = np.random.default_rng(subject)
    block = np.zeros((n, len(BLOCK)), dtype=np.int64)
    block[:, :24] = rng.integers(0, 4096, (n, 24))
    gt = default_labels(n) if labels is None else labels
    block[:, BLOCK.index("TRAJ_GT")] = gt
    block[:, BLOCK.index("TRAJ_GT_NO_FILTER")] = gt
    block[:, BLOCK.index("TRAJ_1")] = gt
    block[:, BLOCK.index("subject")] = subject
    block[:, BLOCK.index("VIDEO_STAMP")] = np.arange(n) // 171
    return block


def write_table_format(
    path: Path,
    block: np.ndarray,
    names: list[str] | None = None,
    *,
    kind_attr: bool = True,
    time: np.ndarray | None = None,
) -> Path:
    """pandas ``format="table"`` layout under key ``data``; the index is the time [s] at
    5120 Hz, or ``time``."""
    names = BLOCK if names is None else names
    n, width = block.shape
    dtype = np.dtype(
        [
            ("index", "<f8"),
            ("values_block_0", "i1", (1,)),
            ("values_block_1", "i1", (1,)),
            ("values_block_3", "<i8", (width,)),
        ]
    )
    rec = np.zeros(n, dtype=dtype)
    rec["index"] = np.arange(n) / 5120.0 if time is None else time
    rec["values_block_3"] = block
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as h5:
        g = h5.create_group("data")
        g.attrs["pandas_type"] = np.bytes_(b"frame_table")
        g.attrs["pandas_version"] = np.bytes_(b"0.15.2")
        g.attrs["table_type"] = np.bytes_(b"appendable_frame")
        t = g.create_dataset("table", data=rec)
        t.attrs["CLASS"] = np.bytes_(b"TABLE")
        if kind_attr:
            t.attrs["values_block_3_kind"] = np.bytes_(pickle.dumps(list(names), 0))
            t.attrs["values_block_0_kind"] = np.bytes_(pickle.dumps(["type"], 0))
            t.attrs["values_block_1_kind"] = np.bytes_(pickle.dumps(["trajectory"], 0))
    return path


def write_fixed_format(path: Path, block: np.ndarray) -> Path:
    """pandas ``format="fixed"`` layout under key ``data``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as h5:
        g = h5.create_group("data")
        g.attrs["pandas_type"] = np.bytes_(b"frame")
        g.create_dataset("axis0", data=np.array([c.encode() for c in BLOCK]))
        g.create_dataset("axis1", data=np.arange(block.shape[0]) / 5120.0)
        g.create_dataset("block0_items", data=np.array([c.encode() for c in BLOCK]))
        g.create_dataset("block0_values", data=block)
    return path


def make_source(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "Data-HDF5"
    write_table_format(
        root / "emg_gestures-03-sequential-2018-05-11-11-05-00-695.hdf5", frame(200, 3)
    )
    write_fixed_format(
        root / "emg_gestures-04-repeats_long-2018-05-11-12-15-00-123.hdf5", frame(180, 4)
    )
    return root, {}


def make_clock_source(tmp_path: Path, clock: str) -> tuple[Path, dict[str, str], np.ndarray]:
    """One table-format file whose index (time [s]) carries ``clock``."""
    stamps = clock_stamps(clock, 200, 5120.0)
    block = duplicate_rows(frame(200, 3), clock, 200)
    root = tmp_path / "putemg-clock"
    name = "emg_gestures-03-sequential-2018-05-11-11-05-00-695.hdf5"
    write_table_format(root / name, block, time=stamps)
    return root, {}, stamps
