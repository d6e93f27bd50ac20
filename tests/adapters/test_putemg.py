"""putEMG adapter on tiny files in the pandas/PyTables HDF5 layouts, read with h5py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adapters.putemg import UV_PER_COUNT, PutEmgAdapter
from emgcorpus.errors import SourceError
from tests.adapters.contract_sources.putemg import (
    BLOCK,
    frame,
    make_source,
    write_fixed_format,
    write_table_format,
)

NAME = "emg_gestures-07-repeats_short-2018-06-01-10-00-00-001.hdf5"


def _read_one(path: Path):  # type: ignore[no-untyped-def]
    adapter = PutEmgAdapter(path)
    return adapter.read(adapter.discover()[0])


def test_table_and_fixed_layouts(tmp_path: Path) -> None:
    root, _ = make_source(tmp_path)
    units = PutEmgAdapter(root).discover()
    assert len(units) == 2
    table = PutEmgAdapter(root).read(units[0])
    assert (table.subject, table.session, table.trial) == (
        "03",
        "2018-05-11",
        "sequential-11-05-00-695",
    )
    assert table.fs == 5120.0 and table.samples.shape == (200, 24)
    np.testing.assert_array_equal(table.samples, frame(200, 3)[:, :24])
    assert {c.group for c in table.channels} == {"band1", "band2", "band3"}
    assert table.channels[9].position.angle_deg == 45.0 and table.channels[9].group == "band2"
    assert table.channels[0].gain == pytest.approx(6.103515625) == UV_PER_COUNT
    assert [(e.label, e.kind) for e in table.events] == [
        ("rest", "rest"),
        ("fist", "gesture"),
        ("pinch thumb-index", "gesture"),
    ]
    assert table.events[1].onset == pytest.approx(70 / 5120)
    assert table.events[1].duration == pytest.approx(50 / 5120)
    fixed = PutEmgAdapter(root).read(units[1])
    np.testing.assert_array_equal(fixed.samples, frame(180, 4)[:, :24])
    assert len(fixed.events) == 3


def test_column_names_come_from_the_pickled_kind_attribute(tmp_path: Path) -> None:
    block = frame(100, 7)
    swapped = list(BLOCK)
    a, b = swapped.index("EMG_1"), swapped.index("EMG_2")
    swapped[a], swapped[b] = swapped[b], swapped[a]
    rec = _read_one(write_table_format(tmp_path / NAME, block, swapped))
    np.testing.assert_array_equal(rec.samples[:, 0], block[:, 1])
    np.testing.assert_array_equal(rec.samples[:, 1], block[:, 0])


def test_documented_order_is_used_without_names(tmp_path: Path) -> None:
    block = frame(100, 7)
    rec = _read_one(write_table_format(tmp_path / NAME, block, kind_attr=False))
    np.testing.assert_array_equal(rec.samples, block[:, :24])


def test_truncated_file_names_the_file(tmp_path: Path) -> None:
    path = write_table_format(tmp_path / NAME, frame(100, 7))
    path.write_bytes(path.read_bytes()[:900])
    with pytest.raises(SourceError, match=rf"{NAME}: not a readable HDF5 file"):
        _read_one(path)


def test_missing_column_is_named(tmp_path: Path) -> None:
    names = [n if n != "TRAJ_GT" else "SOMETHING" for n in BLOCK]
    path = write_table_format(tmp_path / NAME, frame(100, 7), names)
    with pytest.raises(SourceError, match=rf"{NAME}: missing column\(s\) TRAJ_GT"):
        _read_one(path)


def test_unknown_gesture_code_is_a_label_mismatch(tmp_path: Path) -> None:
    labels = np.zeros(100, dtype=np.int64)
    labels[50:] = 4
    path = write_fixed_format(tmp_path / NAME, frame(100, 7, labels))
    with pytest.raises(SourceError, match=r"TRAJ_GT values \[4\] are not putEMG gesture codes"):
        _read_one(path)


def test_subject_column_must_match_the_file_name(tmp_path: Path) -> None:
    path = write_fixed_format(tmp_path / NAME, frame(100, 8))
    with pytest.raises(SourceError, match=r"subject column holds \[8\], file name says 07"):
        _read_one(path)
