"""emg2pose adapter on tiny session files in the released HDF5 layout."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from adapters.emg2pose import Emg2PoseAdapter
from emgcorpus.errors import SourceError
from tests.adapters.contract_sources.emg2pose import make_source, write_session


def _read_one(path: Path):  # type: ignore[no-untyped-def]
    adapter = Emg2PoseAdapter(path)
    return adapter.read(adapter.discover()[0])


def test_emg_and_joint_angles(tmp_path: Path) -> None:
    root, _ = make_source(tmp_path)
    units = Emg2PoseAdapter(root).discover()
    rec = Emg2PoseAdapter(root).read(units[0])
    assert (rec.subject, rec.fs, rec.samples.shape) == ("29ddab35d7", 2000.0, (300, 36))
    types = [c.type for c in rec.channels]
    assert types == ["EMG"] * 16 + ["ANGLE"] * 20
    assert rec.channels[16].name == "joint_angle_0" and rec.channels[16].units == "rad"
    assert rec.channels[0].group == "left" and rec.channels[0].position.system == "ring"
    assert rec.meta["stage"] == "FingerPinches1" and rec.meta["num_channels"] == "16"
    with h5py.File(units[0].files[0]) as h5:
        ts = h5["emg2pose/timeseries"][()]
    np.testing.assert_array_equal(rec.samples[:, 16:], ts["joint_angles"])
    np.testing.assert_array_equal(rec.samples[:, :16], ts["emg"])
    other = Emg2PoseAdapter(root).read(units[1])
    assert other.recording_id != rec.recording_id


def test_truncated_file_names_the_file(tmp_path: Path) -> None:
    path = write_session(tmp_path / "p.hdf5")
    path.write_bytes(path.read_bytes()[:700])
    with pytest.raises(SourceError, match=r"p.hdf5: not a readable HDF5 file"):
        _read_one(path)


def test_missing_joint_angles_field(tmp_path: Path) -> None:
    path = write_session(tmp_path / "p.hdf5", fields=("time", "emg"))
    with pytest.raises(SourceError, match=r"lacks field\(s\) \['joint_angles'\]"):
        _read_one(path)


def test_wrong_joint_count_is_refused(tmp_path: Path) -> None:
    path = write_session(tmp_path / "p.hdf5", joints=21)
    with pytest.raises(SourceError, match=r"p.hdf5: field joint_angles has shape \(300, 21\)"):
        _read_one(path)
